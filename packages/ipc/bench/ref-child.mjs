// Reference peers of the @mp/ipc benchmark: child_process IPC echo, or a unix stream socket echo.
import { createServer } from 'node:net';

if (process.argv[2] === 'net') {
  const srv = createServer((c) => {
    c.setNoDelay(true);
    c.on('data', (d) => c.write(d));
  });
  srv.listen(process.argv[3], () => process.stdout.write('ready\n'));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
} else {
  let n = 0;
  process.on('message', (m) => {
    if (m === 'count?') process.send(n);
    else if (m === 'one-way') n++;
    else process.send(m);
  });
}
