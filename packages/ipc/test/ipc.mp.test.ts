import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startGroup, useAgents } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const runtimeDirs: string[] = [];
afterEach(() => {
  // SIGKILLed groups leave their runtime dir (as DPDK's do); this test's are its own to remove.
  for (const d of runtimeDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
// Registered after the dirs hook, so (after-hooks run last-registered first) agents die before their dirs go.
const agent = useAgents(AGENT);

interface Shown {
  ok: boolean;
  ms: number;
  nbSent: number;
  nbReceived: number;
  msgs: Array<{ name: string; text: string; fdTexts: string[] }>;
  errors: Array<{ code: string; remoteCode: string; remoteMessage: string; peerPid: number; name: string }>;
  code?: string;
  name?: string;
  message?: string;
  remoteCode?: string;
}

/** A primary and n secondaries of a fresh group, each with its IPC channel started. */
async function group(n: number): Promise<{ p: Agent; s: Agent[]; dir: string }> {
  const { p, s, primaryInit } = await startGroup(agent, n, { tag: 'i' });
  const dir = (primaryInit as { runtimeDir: string }).runtimeDir;
  runtimeDirs.push(dir);
  return { p, s, dir };
}

describe('directions', () => {
  it('secondary → primary: request (async and sync) and message', async () => {
    const { p, s: [s1] } = await group(1);
    await p.call('register', { name: 'echo', mode: 'echo' });
    await p.call('register', { name: 'note', mode: 'record' });
    const r = await s1!.call<Shown>('request', { name: 'echo', text: 'hi' });
    expect(r).toMatchObject({ ok: true, nbSent: 1, nbReceived: 1, msgs: [{ name: 'echo', text: `echo:hi:${p.pid}` }] });
    const rs = await s1!.call<Shown>('requestSync', { name: 'echo', text: 'sync' });
    expect(rs).toMatchObject({ ok: true, nbSent: 1, nbReceived: 1, msgs: [{ text: `echo:sync:${p.pid}` }] });
    expect(await s1!.call('send', { name: 'note', text: 'one-way' })).toBe(1);
    const ev = await p.waitEvent((e) => e.event === 'msg');
    expect(ev).toMatchObject({ name: 'note', text: 'one-way', fromPid: s1!.pid, isRequest: false });
  });

  it('primary → one secondary (to: pid), request and message', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await s1!.call('register', { name: 'echo', mode: 'echo' });
    await s2!.call('register', { name: 'echo', mode: 'echo' });
    await s2!.call('register', { name: 'note', mode: 'record' });
    const r = await p.call<Shown>('request', { name: 'echo', text: 'only2', to: s2!.pid });
    expect(r).toMatchObject({ ok: true, nbSent: 1, nbReceived: 1, msgs: [{ text: `echo:only2:${s2!.pid}` }] });
    const rs = await p.call<Shown>('requestSync', { name: 'echo', text: 'only1', to: s1!.pid });
    expect(rs.msgs).toEqual([{ name: 'echo', text: `echo:only1:${s1!.pid}`, fdTexts: [] }]);
    expect(await p.call('send', { name: 'note', text: 'to-s2', to: s2!.pid })).toBe(1);
    expect((await s2!.waitEvent((e) => e.event === 'msg')).fromPid).toBe(p.pid);
  });

  it('secondary → secondary, request and message', async () => {
    const { s: [s1, s2] } = await group(2);
    await s2!.call('register', { name: 'echo', mode: 'explicit' });
    await s2!.call('register', { name: 'note', mode: 'record' });
    const r = await s1!.call<Shown>('request', { name: 'echo', to: s2!.pid });
    expect(r.msgs[0]!.text).toBe(`explicit:${s1!.pid}`);
    const rs = await s1!.call<Shown>('requestSync', { name: 'echo', to: s2!.pid });
    expect(rs.msgs[0]!.text).toBe(`explicit:${s1!.pid}`);
    expect(await s1!.call('send', { name: 'note', text: 's1→s2', to: s2!.pid })).toBe(1);
    expect(await s2!.waitEvent((e) => e.event === 'msg')).toMatchObject({ text: 's1→s2', fromPid: s1!.pid });
  });

  it('broadcast from the primary reaches 3 secondaries: message, request, requestSync', async () => {
    const { p, s } = await group(3);
    for (const a of s) {
      await a.call('register', { name: 'echo', mode: 'echo' });
      await a.call('register', { name: 'note', mode: 'record' });
    }
    expect(await p.call('send', { name: 'note', text: 'all' })).toBe(3);
    for (const a of s) expect(await a.waitEvent((e) => e.event === 'msg')).toMatchObject({ text: 'all', fromPid: p.pid });
    const want = s.map((a) => `echo:b:${a.pid}`).sort();
    const r = await p.call<Shown>('request', { name: 'echo', text: 'b' });
    expect(r).toMatchObject({ ok: true, nbSent: 3, nbReceived: 3 });
    expect(r.msgs.map((m) => m.text)).toEqual(want);
    const rs = await p.call<Shown>('requestSync', { name: 'echo', text: 'b' });
    expect(rs.msgs.map((m) => m.text)).toEqual(want);
  });

  it('two outstanding requests of one name to one peer do not collide (request ids)', async () => {
    const { p, s: [s1] } = await group(1);
    await p.call('register', { name: 'slow', mode: 'slowEcho' });
    // The first (100 ms) answers after the second (10 ms); each gets its own reply.
    expect(await s1!.call('twoAtOnce', { name: 'slow', to: p.pid })).toEqual([`slow:${p.pid}`, `slow:${p.pid}`]);
  });
});

describe('file descriptors', () => {
  it('a memfd written by one process is read by another, both ways and in replies', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await p.call('register', { name: 'readfd', mode: 'readFd' });
    await s2!.call('register', { name: 'note', mode: 'record' });
    await s2!.call('register', { name: 'givefd', mode: 'giveFd' });
    const r = await s1!.call<Shown>('request', { name: 'readfd', memfdText: 'written by s1' });
    expect(r.msgs[0]!.text).toBe('written by s1');
    await p.call('send', { name: 'note', text: 'with fd', to: s2!.pid, memfdText: 'from the primary' });
    expect((await s2!.waitEvent((e) => e.event === 'msg')).fdTexts).toEqual(['from the primary']);
    const g = await p.call<Shown>('request', { name: 'givefd', text: 'please', to: s2!.pid });
    expect(g.msgs[0]!.fdTexts).toEqual([`memfd from ${s2!.pid}: please`]);
  });
});

describe('errors', () => {
  it('a throwing or rejecting handler answers with a typed MpIpcRemoteError; no action answers ENOENT at once', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await p.call('register', { name: 'boom', mode: 'throw' });
    await p.call('register', { name: 'aboom', mode: 'reject' });
    const e1 = await s1!.call<Shown>('request', { name: 'boom' });
    expect(e1).toMatchObject({ ok: false, name: 'MpIpcRemoteError', code: 'EPERM', remoteCode: 'EPERM', peerPid: p.pid });
    expect(e1.message).toContain('handler says no');
    const e2 = await s1!.call<Shown>('requestSync', { name: 'aboom' });
    expect(e2).toMatchObject({ ok: false, name: 'MpIpcRemoteError', code: 'ENOSPC' });
    const e3 = await s1!.call<Shown>('request', { name: 'nobody-has-this', timeoutMs: 30_000 });
    // An error reply, not the 30 s timeout DPDK would wait out (that would read ETIMEDOUT).
    expect(e3).toMatchObject({ ok: false, name: 'MpIpcRemoteError', code: 'ENOENT' });
    // In a broadcast, error replies are listed beside the good ones.
    await s1!.call('register', { name: 'mixed', mode: 'echo' });
    await s2!.call('register', { name: 'mixed', mode: 'throw' });
    const b = await p.call<Shown>('request', { name: 'mixed', text: 'm' });
    expect(b).toMatchObject({ ok: true, nbSent: 2, nbReceived: 1, msgs: [{ text: `echo:m:${s1!.pid}` }] });
    expect(b.errors).toMatchObject([{ code: 'EPERM', peerPid: s2!.pid }]);
  });

  it('every bad input fails with DPDK codes', async () => {
    const { p, s: [s1] } = await group(1);
    const codes = await s1!.call<Record<string, string>>('badInputs', { to: p.pid });
    expect(codes).toEqual({
      emptyName: 'EINVAL',
      name64: 'E2BIG',
      name63ok: 'ok',
      slash: 'EINVAL',
      param257: 'E2BIG',
      paramNotBytes: 'EINVAL',
      fds9: 'E2BIG',
      fdNegative: 'EINVAL',
      dupAction: 'EEXIST',
      noSuchPeer: 'ENOENT',
      badTo: 'EINVAL',
      syncNoSuchPeer: 'ENOENT',
      badTimeout: 'EINVAL',
      badFd: 'EINVAL',
    });
  });
});

describe('nested requests', () => {
  it('a handler issues its own request (async and sync) before answering', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await p.call('register', { name: 'outer', mode: 'nested' });
    await p.call('register', { name: 'outerSync', mode: 'nestedSync' });
    await s2!.call('register', { name: 'inner', mode: 'echo' });
    const r = await s1!.call<Shown>('request', { name: 'outer', text: String(s2!.pid) });
    expect(r.msgs[0]!.text).toBe(`nested(echo:x:${s2!.pid})`);
    const rs = await s1!.call<Shown>('requestSync', { name: 'outerSync', text: String(s2!.pid) });
    expect(rs.msgs[0]!.text).toBe(`nestedSync(echo:y:${s2!.pid})`);
    // The nested request goes back to the requester itself: no deadlock with async request.
    await s1!.call('register', { name: 'inner', mode: 'echo' });
    const back = await s1!.call<Shown>('request', { name: 'outer', text: String(s1!.pid) });
    expect(back.msgs[0]!.text).toBe(`nested(echo:x:${s1!.pid})`);
  });
});

describe('timeouts and deaths', () => {
  it('silence: ETIMEDOUT for one peer; nbReceived < nbSent for a broadcast', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await p.call('register', { name: 'mute', mode: 'never' });
    const a = await s1!.call<Shown>('request', { name: 'mute', timeoutMs: 300 });
    expect(a).toMatchObject({ ok: false, code: 'ETIMEDOUT' });
    const b = await s1!.call<Shown>('requestSync', { name: 'mute', timeoutMs: 300 });
    expect(b).toMatchObject({ ok: false, code: 'ETIMEDOUT' });
    await s1!.call('register', { name: 'half', mode: 'echo' });
    await s2!.call('register', { name: 'half', mode: 'never' });
    for (const op of ['request', 'requestSync']) {
      const c = await p.call<Shown>(op, { name: 'half', text: 't', timeoutMs: 300 });
      expect(c).toMatchObject({ ok: true, nbSent: 2, nbReceived: 1, msgs: [{ text: `echo:t:${s1!.pid}` }] });
    }
  });

  it('a peer that dies mid-request ends the request at once, and its socket file goes', async () => {
    const { p, s: [s1, s2], dir } = await group(2);
    // s1 holds the requests (never answers); it is killed once it has both. Only its death can end
    // them before their 30 s timeout (which would read ETIMEDOUT).
    await s1!.call('register', { name: 'slow', mode: 'hold' });
    await s2!.call('register', { name: 'slow', mode: 'echo' });
    const sockets = readdirSync(dir).filter((f) => f.startsWith(`mp_socket_${s1!.pid}_`));
    expect(sockets).toHaveLength(1);
    const single = p.call<Shown>('request', { name: 'slow', text: '20000', to: s1!.pid, timeoutMs: 30_000 });
    const sync = s2!.call<Shown>('requestSync', { name: 'slow', text: '20000', to: s1!.pid, timeoutMs: 30_000 });
    await s1!.waitEvent((e) => e.event === 'held' && e.fromPid === p.pid);
    await s1!.waitEvent((e) => e.event === 'held' && e.fromPid === s2!.pid);
    await s1!.kill('SIGKILL');
    expect(await single).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(await sync).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(existsSync(join(dir, sockets[0]!))).toBe(false);
    // Broadcast: the dead one is not asked; a fresh death mid-broadcast ends that share at once.
    const s3 = agent();
    await s3.call('init', { args: [`--file-prefix=${dir.split('/').pop()}`, '--proc-type=secondary', '--no-huge'] });
    await s3.call('register', { name: 'slow', mode: 'hold' });
    const b = p.call<Shown>('request', { name: 'slow', text: '20000', timeoutMs: 30_000 });
    await s3.waitEvent((e) => e.event === 'held');
    await s3.kill('SIGKILL');
    expect(await b).toMatchObject({ ok: true, nbSent: 2, nbReceived: 1, msgs: [{ text: expect.stringMatching(/^echo:20000:/) }] });
  });
});

describe('stale sockets', () => {
  it('a send that meets ECONNREFUSED (a socket file whose process died, no request pending) removes the socket file', async () => {
    const { p, s: [s1], dir } = await group(1);
    await s1!.call('register', { name: 'note', mode: 'record' });
    // A secondary's socket whose process is gone and was never in the group's table, so no proc-exit
    // (whose forwarding would also meet ECONNREFUSED) can remove it first: only the send below can.
    const stale = join(dir, execFileSync('python3', ['-c', `
import os, socket
name = 'mp_socket_%d_1' % os.getpid()
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(os.path.join(${JSON.stringify(dir)}, name))
print(name)`], { encoding: 'utf8' }).trim());
    expect(existsSync(stale)).toBe(true);
    expect(await p.call('send', { name: 'note', text: 'after' })).toBe(1); // s1 only
    expect(existsSync(stale)).toBe(false);
    expect(await s1!.waitEvent((e) => e.event === 'msg')).toMatchObject({ text: 'after' });
  });

  it('a SIGKILLed peer: a send or request to it is ENOENT, and its socket file goes', async () => {
    const { p, s: [s1, s2], dir } = await group(2);
    await s1!.call('register', { name: 'note', mode: 'record' });
    const file = join(dir, readdirSync(dir).find((f) => f.startsWith(`mp_socket_${s2!.pid}_`))!);
    await s2!.kill('SIGKILL');
    expect(await p.call('send', { name: 'note', text: 'after' })).toBe(1); // s1 only
    expect(existsSync(file)).toBe(false);
    expect(await p.call<Shown>('request', { name: 'note', to: s2!.pid })).toMatchObject({ ok: false, code: 'ENOENT' });
  });
});

describe('group events over IPC', () => {
  it('secondaries see joins and exits once each, forwarded events on their Eal, and the primary leaving', async () => {
    const { p, s: [s1], dir } = await group(1);
    const s2 = agent();
    await s2.call('init', { args: [`--file-prefix=${dir.split('/').pop()}`, '--proc-type=secondary', '--no-huge'] });
    await s1!.waitEvent((e) => e.event === 'proc-join' && (e.data as { pid: number }).pid === s2.pid);
    await s2.kill('SIGKILL');
    await s1!.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s2.pid);
    // The primary has seen the exit too (and forwarded it in the same emit). A custom event (a PMD
    // link event, later) travels only over IPC, after that forward: once s1 has it, both ways have delivered.
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s2.pid);
    expect(await p.call('forward', { event: 'link-up', data: { port: 0, speed: 10000 } })).toBe(1);
    expect((await s1!.waitEvent((e) => e.event === 'link-up')).data).toEqual({ port: 0, speed: 10000 });
    // Seen by s1's own table watch and forwarded by the primary: emitted once each.
    const about = s1!.events.filter((e) => (e.data as { pid?: number } | undefined)?.pid === s2.pid).map((e) => e.event);
    expect(about).toEqual(['proc-join', 'proc-exit']);
    await p.call('exit', { code: 0 });
    expect((await s1!.waitEvent((e) => e.event === 'primary-exit')).data).toBe(p.pid);
    expect(s1!.events.filter((e) => e.event === 'primary-exit')).toHaveLength(1);
  });
});
