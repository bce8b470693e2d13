// flow-table-mp, primary: build a flow table (5-tuple → flow id) in @mp/hash, then start two secondaries
// that classify packets against it with precomputed hashes, and print what they found.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { init } from '@mp/eal';
import { Hash } from '@mp/hash';
import { FLOWS, KEY_LEN, flowKey } from './flows.mjs';

const prefix = `flow-table-${process.pid}`;
const eal = init([`--file-prefix=${prefix}`, '--proc-type=primary', '-l', '0']);
console.log(`primary ${process.pid}: group '${prefix}' up, memory in ${eal.memory.segDir}`);

const flows = Hash.create('flows', { entries: 65_536, keyLen: KEY_LEN, hashFunc: 'crc32c', initVal: 0x5eed, extendable: true });
const t0 = performance.now();
flows.writeBatch(() => {
  for (let id = 0; id < FLOWS; id++) flows.add(flowKey(id), id);
});
console.log(`primary: ${flows.count()} flows added in ${(performance.now() - t0).toFixed(1)} ms (crc32c, seed 0x5eed, stored in the table)`);

const secondary = fileURLToPath(new URL('./secondary.mjs', import.meta.url));
const children = [1, 2].map((n) => spawn(process.execPath, [secondary, prefix, String(n)], { stdio: 'inherit' }));
const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]));
eal.cleanup();
if (codes.some((c) => c !== 0)) {
  console.error(`primary: a secondary failed (exit codes ${codes})`);
  process.exit(1);
}
console.log('primary: both secondaries classified their traffic correctly; group closed');
