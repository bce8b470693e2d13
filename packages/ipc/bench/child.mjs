// The secondary of the @mp/ipc benchmark (built package): echo, latency loops and floods on request.
import { init } from '@mp/eal';
import * as ipc from '@mp/ipc';

const [prefix] = process.argv.slice(2);
init([`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge']);
ipc.start();
const enc = (o) => new Uint8Array(Buffer.from(JSON.stringify(o)));
const dec = (u) => JSON.parse(Buffer.from(u).toString());
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
let sunk = 0;

ipc.actionRegister('echo', (msg) => msg);
ipc.actionRegister('sink', () => {
  sunk++;
});
ipc.actionRegister('sunk', (msg) => ({ name: msg.name, param: enc(sunk) }));
// Round trips secondary → primary, measured here (DPDK's figure is secondary → primary too).
ipc.actionRegister('latency', async (msg) => {
  const { n, mode } = dec(msg.param);
  const param = new Uint8Array(16);
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    if (mode === 'sync') ipc.requestSync({ name: 'echo', param }, { timeoutMs: 5000 });
    else await ipc.request({ name: 'echo', param }, { timeoutMs: 5000 });
    t[i] = performance.now() - t0;
  }
  t.sort();
  return { name: msg.name, param: enc({ p50: pct(t, 0.5) * 1000, p99: pct(t, 0.99) * 1000, mean: (t.reduce((a, b) => a + b, 0) / n) * 1000 }) };
});
ipc.actionRegister('flood', (msg) => {
  const { n } = dec(msg.param);
  const param = new Uint8Array(16);
  for (let i = 0; i < n; i++) ipc.sendMsg({ name: 'sink', param });
  return { name: msg.name, param: enc({ n }) };
});
process.stdout.write('ready\n');
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
