// SEQPACKET sockets of the native addon: messages keep their boundaries, the end of a connection is
// seen, names are created 0600 and replaced only when stale and ours, descriptors are never leaked.
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connectSeqpacket, listenSeqpacket } from '../dist/index.js';
import type { SeqpacketConnection, SeqpacketListener } from '../dist/index.js';

let dir: string;
const listeners: SeqpacketListener[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mp-sp-'));
});
afterEach(() => {
  for (const l of listeners.splice(0)) l.close();
  rmSync(dir, { recursive: true, force: true });
});

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};
const next = (c: SeqpacketConnection): Promise<string> => new Promise((r) => c.onMessage((m) => r(m.toString())));

function echoServer(path: string, o: { refuse?: boolean } = {}): { l: SeqpacketListener; closed: Promise<void>; peers: Array<{ uid: number; pid: number }> } {
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const peers: Array<{ uid: number; pid: number }> = [];
  const l = listenSeqpacket(path, {
    maxMessage: 16,
    onConnection(conn, peer) {
      peers.push(peer);
      if (o.refuse) return false;
      conn.onMessage((m) => conn.send(`echo:${m.toString()}`));
      conn.onClose(onClosed);
      return true;
    },
  });
  listeners.push(l);
  return { l, closed, peers };
}

it('messages keep their boundaries both ways; the server sees the peer credentials and the close', async () => {
  const path = join(dir, 's');
  const srv = echoServer(path);
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(statSync(path).isSocket()).toBe(true);
  const c = connectSeqpacket(path);
  const got: string[] = [];
  const three = new Promise<void>((r) =>
    c.onMessage((m) => {
      got.push(m.toString());
      if (got.length === 3) r();
    }),
  );
  expect(c.send('a')).toBe(true);
  expect(c.send('bb')).toBe(true);
  expect(c.send('0123456789abcdefXYZ')).toBe(true); // cut to the server's 16-byte maxMessage
  await three;
  expect(got).toEqual(['echo:a', 'echo:bb', 'echo:0123456789abcdef']);
  expect(srv.peers).toEqual([{ uid: process.getuid!(), pid: process.pid }]);
  c.close();
  await srv.closed;
  expect(c.send('late')).toBe(false);
});

it('a refused connection is closed at once: the client sees the end', async () => {
  const path = join(dir, 's');
  echoServer(path, { refuse: true });
  const c = connectSeqpacket(path);
  await new Promise<void>((r) => c.onClose(r));
  expect(c.open).toBe(false);
});

it('connect errors: ENOENT without a socket, ENOTCONN on a stale one', () => {
  expect(code(() => connectSeqpacket(join(dir, 'none')))).toBe('ENOENT');
  const path = join(dir, 's');
  const { l } = echoServer(path);
  l.close();
  expect(code(() => connectSeqpacket(path))).toBe('ENOENT'); // close removed the name
  expect(code(() => connectSeqpacket(join(dir, 'x'.repeat(120))))).toBe('ENAMETOOLONG');
});

it('listen: a live name is EBUSY, a stale socket of ours is replaced, a file or a link is refused (EPERM)', async () => {
  const path = join(dir, 's');
  echoServer(path);
  expect(code(() => listenSeqpacket(path, { onConnection: () => true }))).toBe('EBUSY');
  // A stale socket: bound by a process that went away (a listener closed without removing its name).
  const stalePath = join(dir, 'stale');
  const py = spawnSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(${JSON.stringify(stalePath)})`]);
  if (py.status === 0) {
    expect(statSync(stalePath).isSocket()).toBe(true);
    const srv = echoServer(stalePath);
    const c = connectSeqpacket(stalePath);
    const reply = next(c);
    c.send('hi');
    expect(await reply).toBe('echo:hi');
    c.close();
    void srv;
  }
  const file = join(dir, 'file');
  writeFileSync(file, 'keep me', { mode: 0o600 });
  expect(code(() => listenSeqpacket(file, { onConnection: () => true }))).toBe('EPERM');
  const link = join(dir, 'link');
  symlinkSync('/tmp', link);
  expect(code(() => listenSeqpacket(link, { onConnection: () => true }))).toBe('EPERM');
  expect(readdirSync(dir).sort()).toEqual(['file', 'link', 's', 'stale'].filter((n) => n !== 'stale' || py.status === 0));
});

it('200 connections opened and closed leave no descriptor behind, on either side', async () => {
  const path = join(dir, 's');
  const srv = echoServer(path);
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  let serverClosed = 0;
  for (let i = 0; i < 200; i++) {
    const c = connectSeqpacket(path);
    const reply = next(c);
    c.send(String(i));
    expect(await reply).toBe(`echo:${i}`);
    c.close();
  }
  void srv;
  // Wait for the server side to see every close (it closes its end then).
  await new Promise<void>((resolve) => {
    const poll = (): void => {
      serverClosed = fds();
      if (serverClosed === before) resolve();
      else setImmediate(poll);
    };
    poll();
  });
  expect(fds()).toBe(before);
});

const hasPrlimit = spawnSync('sh', ['-c', 'command -v prlimit']).status === 0;
it.skipIf(!hasPrlimit)('a listener out of descriptors (EMFILE) stops accepting, says so, and accepts again once some are free (skipped: no prlimit)', async () => {
  const path = join(dir, 's');
  const script = fileURLToPath(new URL('./fixtures/emfile-listener.mjs', import.meta.url));
  const child = spawn('prlimit', ['--nofile=64:64', process.execPath, script, path]);
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const stdoutHas = (s: string): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (out.includes(s)) {
          child.stdout.off('data', onData);
          resolve();
        }
      };
      const onData = (d: Buffer): void => {
        out += d;
        check();
      };
      child.stdout.on('data', onData);
      check();
    });
  try {
    await stdoutHas('full');
    const c = connectSeqpacket(path); // the kernel queues it; the server cannot accept it
    const greeting = next(c);
    // Wait (on its stderr, an event) for the server to report EMFILE, then free its descriptors.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (err.includes('EMFILE')) resolve();
      };
      child.stderr.on('data', check);
      check();
    });
    expect(err).toMatch(/accept on .*: EMFILE; not accepting for 100 ms/);
    child.stdin.write('free\n');
    expect(await greeting).toBe('hello');
    c.close();
  } finally {
    child.stdin.end();
    await new Promise((r) => child.on('exit', r));
  }
});
