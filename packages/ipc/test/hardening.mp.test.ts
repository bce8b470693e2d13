/**
 * One bad call never wedges IPC (issue 11, class 6): a send that fails after its inbox doorbell was
 * rung still wakes the receiver; requests end at once when their peer is a zombie, has no known pid
 * and refuses, or is this process itself; bad options and names are refused with EINVAL.
 */
import { describe, expect, it } from 'vitest';
import { closeSync, fstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startGroup, tempDir, uniquePrefix, useAgents } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';
import { MpError, memfdCreate, request, requestSync, sendMsg, start, stop } from '../src/index.js';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agent = useAgents(AGENT);

interface CallResult {
  ok: boolean;
  code?: string;
  message?: string;
  msgs?: Array<{ text: string }>;
}

async function group(n: number): Promise<{ p: Agent; s: Agent[]; prefix: string }> {
  return startGroup(agent, n, { tag: 'hd' });
}

/** A descriptor number no agent has open. */
const BAD_FD = 1_000_000;

describe('a failed send still wakes its receiver', () => {
  it('after sends with a bad fd (EINVAL) into the primary, 1000 requests from each of two other processes all succeed', async () => {
    const { p, s: [bad, s1, s2] } = await group(3);
    await p.call('register', { name: 'echo', mode: 'echo' });
    // Its carrier datagram fails (EBADF) after the inbox cell was claimed: the cell is published empty.
    await expect(bad!.call('send', { name: 'echo', text: 'x', fds: [BAD_FD] })).rejects.toThrow(/EINVAL/);
    expect(await bad!.call<CallResult>('request', { name: 'echo', fds: [BAD_FD] })).toMatchObject({ ok: false, code: 'EINVAL' });
    const [n1, n2] = await Promise.all([s1!.call<number>('pingPong', { name: 'echo', n: 1000 }, 60_000), s2!.call<number>('pingPong', { name: 'echo', n: 1000 }, 60_000)]);
    expect([n1, n2]).toEqual([1000, 1000]);
    // And the one that failed is not wedged either.
    expect(await bad!.call<CallResult>('request', { name: 'echo', text: 'again' })).toMatchObject({ ok: true, msgs: [{ text: `echo:again:${p.pid}` }] });
  });

  it('the same from the primary into a secondary', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await s1!.call('register', { name: 'echo', mode: 'echo' });
    await expect(p.call('send', { name: 'echo', text: 'x', fds: [BAD_FD], to: s1!.pid })).rejects.toThrow(/EINVAL/);
    const [n1, n2] = await Promise.all([s2!.call<number>('pingPong', { name: 'echo', n: 1000, to: s1!.pid }, 60_000), p.call<number>('pingPong', { name: 'echo', n: 1000, to: s1!.pid }, 60_000)]);
    expect([n1, n2]).toEqual([1000, 1000]);
  });
});

/** A fresh socket-only runtime dir (a DPDK-style channel: `start({ runtimeDir, procType })`), removed after the file. */
const socketDir = (): string => tempDir('hd');

describe('requestSync sees a SIGKILLed child of its own process (a zombie while it blocks) as dead', () => {
  // The requester blocks its event loop, so nobody reaps the child: kill(pid, 0) still succeeds on it.
  const cases: Array<[string, (a: Agent) => Promise<Record<string, unknown>>]> = [
    [
      'socket-only channel (explicit runtimeDir)',
      async (a) => {
        const runtimeDir = socketDir();
        await a.call('start', { runtimeDir, procType: 'primary' });
        return { runtimeDir };
      },
    ],
    [
      'group channel without an inbox',
      async (a) => {
        const prefix = uniquePrefix('hz');
        await a.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge'], ipcOpts: { inbox: false } });
        return { prefix };
      },
    ],
    [
      'group channel with an inbox',
      async (a) => {
        const prefix = uniquePrefix('hz');
        await a.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge'] });
        return { prefix };
      },
    ],
  ];
  for (const [label, setup] of cases) {
    it(label, async () => {
      const a = agent();
      const childPid = await a.call<number>('spawnPeer', await setup(a));
      // Its handler SIGKILLs the child on receipt: the request is out, nobody will answer.
      const r = await a.call<CallResult>('requestSync', { name: 'die', to: childPid, timeoutMs: 20_000 }, 30_000);
      expect(r).toMatchObject({ ok: false, code: 'ENOENT' });
      expect(r.message).toContain(`pid ${childPid}`);
    });
  }
});

describe('a peer whose pid is unknown (nothing received from it yet) that dies ends the request at once', () => {
  for (const kind of ['request', 'requestSync'] as const) {
    it(`${kind} to a primary of a socket-only dir, SIGKILLed after it got the request → ENOENT naming its socket`, async () => {
      const runtimeDir = socketDir();
      const p = agent();
      const s = agent();
      await p.call('start', { runtimeDir, procType: 'primary' });
      await p.call('register', { name: 'hold', mode: 'hold' });
      await s.call('start', { runtimeDir, procType: 'secondary' });
      const pending = s.call<CallResult>(kind, { name: 'hold', timeoutMs: 20_000 }, 30_000);
      await p.waitEvent((e) => e.event === 'held');
      await p.kill('SIGKILL');
      const r = await pending;
      expect(r).toMatchObject({ ok: false, code: 'ENOENT' });
      expect(r.message).toContain(join(runtimeDir, 'mp_socket'));
    });
  }
});

describe('a request to its own process', () => {
  const setups: Array<[string, (a: Agent) => Promise<void>]> = [
    ['group channel with an inbox', async (a) => void (await a.call('init', { args: [`--file-prefix=${uniquePrefix('hs')}`, '--proc-type=primary', '--no-huge'] }))],
    ['socket-only channel', async (a) => void (await a.call('start', { runtimeDir: socketDir(), procType: 'primary' }))],
  ];
  for (const [label, setup] of setups) {
    it(`${label}: requestSync runs the local handler as request does; a handler that answers later fails at once (ENOTSUP)`, async () => {
      const a = agent();
      await setup(a);
      await a.call('register', { name: 'echo', mode: 'echo' });
      await a.call('register', { name: 'slow', mode: 'slowEcho' });
      await a.call('register', { name: 'oops', mode: 'throw' });
      const me = a.pid;
      for (const kind of ['request', 'requestSync']) {
        expect(await a.call<CallResult>(kind, { name: 'echo', text: kind, to: me, timeoutMs: 20_000 })).toMatchObject({ ok: true, msgs: [{ text: `echo:${kind}:${me}` }] });
        expect(await a.call<CallResult>(kind, { name: 'oops', to: me, timeoutMs: 20_000 })).toMatchObject({ ok: false, code: 'EPERM' });
        expect(await a.call<CallResult>(kind, { name: 'missing', to: me, timeoutMs: 20_000 })).toMatchObject({ ok: false, code: 'ENOENT' });
      }
      expect(await a.call<CallResult>('request', { name: 'slow', text: '5', to: me, timeoutMs: 20_000 })).toMatchObject({ ok: true, msgs: [{ text: `slow:${me}` }] });
      const r = await a.call<CallResult>('requestSync', { name: 'slow', text: '5', to: me, timeoutMs: 20_000 });
      expect(r).toMatchObject({ ok: false, code: 'ENOTSUP' });
      expect(r.message).toMatch(/use request\(\)/);
      // Nothing is left behind: the same channel answers itself again.
      expect(await a.call<CallResult>('requestSync', { name: 'echo', text: 'again', to: me })).toMatchObject({ ok: true, msgs: [{ text: `echo:again:${me}` }] });
    });
  }
});

describe('options and names that are not meaningful are refused with EINVAL naming them (in this process)', () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['sendTimeoutMs', { sendTimeoutMs: NaN }],
    ['sendTimeoutMs', { sendTimeoutMs: -1 }],
    ['sendTimeoutMs', { sendTimeoutMs: Infinity }],
    ['sendTimeoutMs', { sendTimeoutMs: '100' }],
    ['syncSpinUs', { syncSpinUs: NaN }],
    ['syncSpinUs', { syncSpinUs: -5 }],
    ['busyPollUs', { busyPollUs: NaN }],
    ['busyPollUs', { busyPollUs: Infinity }],
    ['coalesce', { coalesce: 'yes' }],
    ['inbox', { inbox: 1 }],
  ];
  for (const [option, o] of bad) {
    it(`start({ ${option}: ${String(Object.values(o)[0])} }) → EINVAL naming ${option}, nothing bound`, () => {
      const dir = socketDir();
      let err: unknown;
      try {
        start({ runtimeDir: dir, procType: 'primary', ...o });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MpError);
      expect((err as MpError).code).toBe('EINVAL');
      expect((err as MpError).message).toContain(option);
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  it('request/requestSync timeoutMs NaN, negative, beyond a timer → EINVAL naming timeoutMs; options not an object → EINVAL', async () => {
    const dir = socketDir();
    start({ runtimeDir: dir, procType: 'primary' });
    try {
      for (const timeoutMs of [NaN, -1, 2 ** 31, -Infinity]) {
        expect(() => requestSync({ name: 'x' }, { timeoutMs, to: process.pid })).toThrow(/EINVAL: timeoutMs/);
        await expect(request({ name: 'x' }, { timeoutMs, to: process.pid })).rejects.toThrow(/EINVAL: timeoutMs/);
      }
      expect(() => sendMsg({ name: 'x' }, null as never)).toThrow(/EINVAL: sendMsg: options/);
      expect(() => start(null as never)).toThrow(/EINVAL: start: options/);
      // Infinity is meaningful for a request (no timeout): answered like any other.
      const { actionRegister } = await import('../src/index.js');
      actionRegister('inf', () => ({ name: 'inf', param: new Uint8Array([7]) }));
      expect([...(await request({ name: 'inf' }, { timeoutMs: Infinity, to: process.pid })).msgs[0]!.param]).toEqual([7]);
      expect([...requestSync({ name: 'inf' }, { timeoutMs: Infinity, to: process.pid }).msgs[0]!.param]).toEqual([7]);
    } finally {
      stop();
    }
  });

  it('memfdCreate throws MpError: bad names EINVAL / ENAMETOOLONG; a good one gives a memfd', () => {
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(MpError);
        return (e as MpError).code;
      }
      return undefined;
    };
    expect(code(() => memfdCreate(42 as never))).toBe('EINVAL');
    expect(code(() => memfdCreate('a\0b'))).toBe('EINVAL');
    expect(code(() => memfdCreate('lone \ud800'))).toBe('EINVAL');
    expect(code(() => memfdCreate('x'.repeat(250)))).toBe('ENAMETOOLONG');
    const fd = memfdCreate('x'.repeat(249));
    expect(fstatSync(fd).isFile()).toBe(true);
    closeSync(fd);
  });

  it('an action name holding a lone surrogate → EINVAL (it would collide with its U+FFFD twin)', () => {
    const dir = socketDir();
    start({ runtimeDir: dir, procType: 'primary' });
    try {
      expect(() => sendMsg({ name: 'a\ud800' }, { to: process.pid })).toThrow(/EINVAL: action name .* lone UTF-16 surrogate/);
    } finally {
      stop();
    }
  });
});
