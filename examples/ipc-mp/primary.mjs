// The primary: starts the group, spawns two secondaries, and drives the demo over @mp/ipc.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { init } from '@mp/eal';
import * as ipc from '@mp/ipc';

const say = (s) => console.log(`[primary ${process.pid}] ${s}`);
const text = (u) => Buffer.from(u).toString();
const bytes = (s) => new Uint8Array(Buffer.from(s));

const prefix = `ipcdemo_${randomBytes(3).toString('hex')}`;
const eal = init([`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge']);
ipc.start();
eal.on('proc-join', (p) => say(`event: pid ${p.pid} joined as ${p.type}`));

let readyCount = 0;
let onReady;
const allReady = new Promise((r) => (onReady = r));
ipc.actionRegister('ready', (msg, peer) => {
  say(`${text(msg.param)} (pid ${peer.pid}) is ready`);
  if (++readyCount === 2) onReady();
});
ipc.actionRegister('hello', (msg, peer) => ({ name: msg.name, param: bytes(`hello ${text(msg.param)}, from the primary to pid ${peer.pid}`) }));
ipc.actionRegister('boom', () => {
  throw Object.assign(new Error('the primary refuses to boom'), { code: 'EPERM' });
});

const kids = ['A', 'B'].map((name) =>
  spawn(process.execPath, [join(import.meta.dirname, 'secondary.mjs'), prefix, name], { stdio: ['ignore', 'inherit', 'inherit'] }),
);
await allReady;
const [a, b] = kids.map((k) => k.pid);

say('1) broadcast sendMsg "news" to every secondary');
say(`   reached ${ipc.sendMsg({ name: 'news', param: bytes('the group is up') })} secondaries`);

say('2) request "whoami" to every secondary (async request; requestSync works the same)');
const who = await ipc.request({ name: 'whoami' }, { timeoutMs: 2000 });
say(`   nbSent ${who.nbSent}, nbReceived ${who.nbReceived}: ${who.msgs.map((m) => text(m.param)).join(' | ')}`);

say('3) ask A to message B directly and hand it a memfd (secondary → secondary)');
const relay = await ipc.request({ name: 'relay', param: bytes(String(b)) }, { to: a, timeoutMs: 5000 });
say(`   A reports: ${text(relay.msgs[0].param)}`);

say('4) ask B to call an action of ours that throws');
const err = await ipc.request({ name: 'try-boom' }, { to: b, timeoutMs: 5000 });
say(`   B reports: ${text(err.msgs[0].param)}`);

say('5) a request to an action nobody registered answers at once');
try {
  await ipc.request({ name: 'no-such-action' }, { to: a, timeoutMs: 10_000 });
} catch (e) {
  say(`   ${e.name} (code ${e.code}): ${e.message}`);
}

ipc.sendMsg({ name: 'bye' });
await Promise.all(kids.map((k) => new Promise((r) => k.on('exit', r))));
say('both secondaries left; done');
ipc.stop();
eal.cleanup();
