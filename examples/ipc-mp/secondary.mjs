// A secondary: answers the primary, talks to the other secondary, reads a memfd it is handed.
import { closeSync, readSync, writeSync } from 'node:fs';
import { init } from '@mp/eal';
import * as ipc from '@mp/ipc';

const [prefix, me] = process.argv.slice(2);
const say = (s) => console.log(`[${me} ${process.pid}] ${s}`);
const text = (u) => Buffer.from(u).toString();
const bytes = (s) => new Uint8Array(Buffer.from(s));

init([`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge']);
ipc.start();

ipc.actionRegister('news', (msg, peer) => say(`news from pid ${peer.pid}: "${text(msg.param)}"`));
ipc.actionRegister('whoami', () => ({ name: 'whoami', param: bytes(`${me} is pid ${process.pid}`) }));
ipc.actionRegister('s2s', (msg, peer) => say(`message from secondary pid ${peer.pid}: "${text(msg.param)}"`));
ipc.actionRegister('memfd', (msg, peer) => {
  const buf = Buffer.alloc(256);
  const n = readSync(msg.fds[0], buf, 0, buf.length, 0);
  closeSync(msg.fds[0]);
  say(`read memfd (fd ${msg.fds[0]} here) from pid ${peer.pid}: "${buf.toString('utf8', 0, n)}"`);
  return { name: 'memfd', param: bytes(`${me} read ${n} bytes`) };
});
ipc.actionRegister('relay', async (msg) => {
  const to = Number(text(msg.param));
  ipc.sendMsg({ name: 's2s', param: bytes(`hi from ${me}`) }, { to });
  const fd = ipc.memfdCreate('demo');
  writeSync(fd, `a memfd written by ${me} (pid ${process.pid})`);
  // A request from inside a handler (DPDK forbids it), carrying the fd.
  const r = await ipc.request({ name: 'memfd', fds: [fd] }, { to, timeoutMs: 2000 });
  closeSync(fd);
  return { name: 'relay', param: r.msgs[0].param };
});
ipc.actionRegister('try-boom', async () => {
  try {
    await ipc.request({ name: 'boom' }, { timeoutMs: 2000 });
    return { name: 'try-boom', param: bytes('no error?') };
  } catch (e) {
    say(`got ${e.constructor.name} code=${e.code} remoteMessage="${e.remoteMessage}" from pid ${e.peerPid}`);
    return { name: 'try-boom', param: bytes(`caught ${e.name} ${e.code}`) };
  }
});
ipc.actionRegister('bye', () => {
  say('bye');
  setImmediate(() => process.exit(0));
});

const hello = ipc.requestSync({ name: 'hello', param: bytes(me) }, { timeoutMs: 2000 });
say(`requestSync "hello" → "${text(hello.msgs[0].param)}"`);
ipc.sendMsg({ name: 'ready', param: bytes(me) });
