// The device side of bench/virtio.bench.ts: a secondary of the bench's group playing a virtio-net
// device model. Commands on stdin, one per line: `gen <count>` (queue rx frames on pair 0), `tx <count>`
// (answer `done` once that many tx frames were consumed), `quit`.
import { createInterface } from 'node:readline';
import { init } from '@mp/eal';
import { VirtioNetModel } from '@mp/pmd-vfio/internal';

const [prefix, name] = process.argv.slice(2);
init([`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge']);
const model = VirtioNetModel.create(name, { pairs: 1, queueMax: 1024 });
console.log('ready');
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [cmd, arg] = line.trim().split(' ');
  if (cmd === 'gen') model.generate(0, Number(arg), 64);
  else if (cmd === 'tx') {
    while (model.pairStats()[0].txFrames < Number(arg)) await new Promise((r) => setTimeout(r, 1));
    console.log('done');
  } else if (cmd === 'quit') {
    await model.destroy();
    process.exit(0);
  }
});
