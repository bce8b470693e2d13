import { spawn } from 'node:child_process';
const role = process.argv[2];
import { init } from '@mp/eal';
import { Mempool } from '@mp/mempool';
if (role === 'p') {
  const e = init(['--file-prefix=dbg' + process.pid, '--proc-type=primary', '--no-huge', '-m', '64']);
  e.on('proc-join', (i) => console.log('join', i.pid));
  e.on('proc-exit', (i) => console.log('exit', i.pid, Date.now()));
  const pool = Mempool.create('objs', 1024, 32, { cacheSize: 32 });
  const c = spawn(process.execPath, [process.argv[1], 's', 'dbg' + process.pid], { stdio: ['ignore', 'pipe', 'inherit'] });
  c.stdout.on('data', (d) => { console.log('child says', String(d).trim(), pool.availCount); setTimeout(() => { c.kill('SIGKILL'); console.log('killed', Date.now()); }, 1000); });
  setTimeout(() => { console.log('avail', pool.availCount, e.processes()); process.exit(0); }, 3000);
} else {
  init(['--file-prefix=' + process.argv[3], '--proc-type=secondary', '--no-huge']);
  const pool = Mempool.lookup('objs');
  const b = new Uint32Array(100); pool.getBulk(b, 100);
  console.log('holding');
  setInterval(() => {}, 1000);
}
