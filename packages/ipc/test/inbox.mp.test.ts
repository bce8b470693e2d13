/**
 * Shared-memory inboxes between the processes of a group (src/inbox.ts): order with descriptors,
 * floods from two senders, deaths of receivers and senders, re-armed (never freed) inboxes, socket fallback.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGroup, useAgents } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
// Groups' leftovers (runtime dirs, segments of SIGKILLed groups) go with test-utils' setup, by prefix.
const agent = useAgents(AGENT);

interface Stats {
  inboxSends: number;
  inlineReceived: number;
  socketSends: number;
  wakes: number;
  inboxReceived: number;
  hasInbox: boolean;
}
type SeqStats = Record<string, { count: number; outOfOrder: number; fdWrong: number; fds: number; sum: number }>;

/** A primary (extra EAL args `pArgs`) and n secondaries, secondary i's channel started with `sOpts[i]`. */
async function group(n: number, o: { pArgs?: string[]; sOpts?: Array<Record<string, unknown>> } = {}): Promise<{ p: Agent; s: Agent[]; prefix: string }> {
  return startGroup(agent, n, { tag: 'ib', primaryArgs: o.pArgs, secondaryParams: o.sOpts?.map((ipcOpts) => ({ ipcOpts })) });
}

async function secondary(prefix: string, ipcOpts: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<Agent> {
  const a = agent(env);
  await a.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'], ipcOpts });
  return a;
}

/** A process's state letter from /proc (R, S, T stopped, Z…). */
function procState(pid: number): string {
  const st = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return st.charAt(st.lastIndexOf(')') + 2);
}

async function waitFor(cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sumTo = (n: number): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + i) % 1_000_000_007;
  return s;
};

describe('inboxes', () => {
  it('every process of a group has one, and messages between them go through it', async () => {
    const { p, s: [s1] } = await group(1);
    const zones = await p.call<string[]>('memzones');
    const slots = [await p.call<number>('slot'), await s1!.call<number>('slot')];
    expect(zones).toEqual(expect.arrayContaining(slots.map((x) => `ipc_in_${x}`)));
    // A one-way message goes into a cell.
    await p.call('register', { name: 'note', mode: 'record' });
    await s1!.call('send', { name: 'note', text: 'cell' });
    await p.waitEvent((e) => e.event === 'msg' && (e as { text?: string }).text === 'cell');
    expect((await p.call<Stats>('ipcStats')).inboxReceived).toBeGreaterThanOrEqual(1);
    await p.call('register', { name: 'echo', mode: 'echo' });
    const r = await s1!.call<{ msgs: Array<{ text: string }> }>('request', { name: 'echo', text: 'x' });
    expect(r.msgs[0]!.text).toBe(`echo:x:${p.pid}`);
    const st = await s1!.call<Stats>('ipcStats');
    expect(st.hasInbox).toBe(true);
    expect(st.inboxSends).toBeGreaterThanOrEqual(1);
    expect(st.socketSends).toBe(0);
    // The reply came to s1's inbox: inline as its wake datagram (s1 slept), or into a cell.
    expect(st.inboxReceived + st.inlineReceived).toBeGreaterThanOrEqual(1);
  });

  it('interleaved messages with and without fds from one sender keep their order; each fd stays with its message', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await p.call('register', { name: 'seq', mode: 'seqCheck' });
    await s2!.call('register', { name: 'seq', mode: 'seqCheck' });
    const n = 3000;
    // secondary → primary, and primary → secondary, every 5th message with a memfd `m<i>`
    await s1!.call('flood', { name: 'seq', n, fdEvery: 5 }, 60_000);
    await p.call('flood', { name: 'seq', n, to: s2!.pid, fdEvery: 3 }, 60_000);
    const atP = await s1!.call<{ msgs: Array<{ text: string }> }>('request', { name: 'seq', timeoutMs: 30_000 });
    expect(JSON.parse(atP.msgs[0]!.text)[String(s1!.pid)]).toEqual({ count: n, outOfOrder: 0, fdWrong: 0, fds: n / 5, sum: sumTo(n) });
    const atS2 = await p.call<{ msgs: Array<{ text: string }> }>('request', { name: 'seq', to: s2!.pid, timeoutMs: 30_000 });
    expect(JSON.parse(atS2.msgs[0]!.text)[String(p.pid)]).toEqual({ count: n, outOfOrder: 0, fdWrong: 0, fds: n / 3, sum: sumTo(n) });
    // Nothing leaked: the receivers closed what they read (the fd counts stay small).
    expect(await p.call<number>('fdCount')).toBeLessThan(100);
    expect(await s2!.call<number>('fdCount')).toBeLessThan(100);
  });

  it('10^5 one-way messages from 2 senders at once: nothing lost, duplicated or reordered', async () => {
    const { p, s: [s1, s2] } = await group(2);
    await p.call('register', { name: 'seq', mode: 'seqCheck' });
    const n = 50_000;
    await Promise.all([s1!.call('flood', { name: 'seq', n }, 120_000), s2!.call('flood', { name: 'seq', n }, 120_000)]);
    // Each sender's request leaves after its messages: the answer counts all of them.
    await s1!.call('request', { name: 'seq', timeoutMs: 30_000 });
    const r = await s2!.call<{ msgs: Array<{ text: string }> }>('request', { name: 'seq', timeoutMs: 30_000 });
    const st = JSON.parse(r.msgs[0]!.text) as SeqStats;
    for (const a of [s1!, s2!]) expect(st[String(a.pid)]).toEqual({ count: n, outOfOrder: 0, fdWrong: 0, fds: 0, sum: sumTo(n) });
    const ps = await p.call<Stats>('ipcStats');
    expect(ps.inboxReceived).toBeGreaterThanOrEqual(2 * n);
  });

  it('a receiver that reads nothing: sends fail EBUSY after sendTimeoutMs, no descriptor is stranded, order holds after', async () => {
    const { p, s: [s1] } = await group(1, { sOpts: [{ sendTimeoutMs: 300 }] });
    await p.call('register', { name: 'seq', mode: 'seqCheck' });
    type Got = { next: number; code: string | null };
    // (a) Every message with a memfd: the primary's socket queue fills with descriptor carriers; the
    // next one cannot go — its claimed inbox cell is published empty and skipped.
    let blocked = p.call('block', { ms: 1500, tag: 'a' });
    await p.waitEvent((e) => e.event === 'blocking' && (e.data as { tag: string }).tag === 'a');
    const a = await s1!.call<Got>('floodUntilError', { name: 'seq', n: 200, fds: true });
    expect(a.code).toBe('EBUSY');
    expect(a.next).toBeGreaterThan(0);
    await blocked;
    // A round trip: the primary has read everything of (a) before it blocks again.
    await s1!.call('request', { name: 'seq', timeoutMs: 10_000 });
    // (b) Without fds: the inbox fills (256 cells); then a message with a memfd finds no cell and
    // fails before its descriptor is sent anywhere.
    blocked = p.call('block', { ms: 1500, tag: 'b' });
    await p.waitEvent((e) => e.event === 'blocking' && (e.data as { tag: string }).tag === 'b');
    const b = await s1!.call<Got>('floodUntilError', { name: 'seq', start: a.next, n: 1000 });
    expect(b.code).toBe('EBUSY');
    expect(b.next - a.next).toBeGreaterThanOrEqual(200);
    await expect(s1!.call('send', { name: 'seq', text: String(b.next), memfdText: `m${b.next}` })).rejects.toThrow(/EBUSY/);
    await blocked;
    // Everything that was sent arrives, in order, each fd with its message; nothing is held back.
    const c = await s1!.call<Got>('floodUntilError', { name: 'seq', start: b.next, n: 5, fds: true });
    expect(c.code).toBeNull();
    const r = await s1!.call<{ msgs: Array<{ text: string }> }>('request', { name: 'seq', timeoutMs: 10_000 });
    expect(JSON.parse(r.msgs[0]!.text)[String(s1!.pid)]).toEqual({ count: c.next, outOfOrder: 0, fdWrong: 0, fds: a.next + 5, sum: sumTo(c.next) });
    expect((await p.call<Stats & { carriersHeld: number }>('ipcStats')).carriersHeld).toBe(0);
  });

  it('a receiver SIGKILLed while polling: pending requests (async and sync) to it end at once', async () => {
    const { p, s: [s1, s2] } = await group(2, { sOpts: [{ busyPollUs: 1_000_000 }, {}] });
    await s1!.call('register', { name: 'slow', mode: 'hold' });
    await s1!.call('register', { name: 'echo', mode: 'echo' });
    // s1 polls after each batch (polling = 1 in its inbox, so senders send no wake datagram).
    expect((await p.call<{ ok: boolean }>('request', { name: 'echo', to: s1!.pid })).ok).toBe(true);
    const single = p.call<{ ok: boolean; code: string }>('request', { name: 'slow', text: '20000', to: s1!.pid, timeoutMs: 30_000 });
    const sync = s2!.call<{ ok: boolean; code: string }>('requestSync', { name: 'slow', text: '20000', to: s1!.pid, timeoutMs: 30_000 });
    // Killed once it holds both (it never answers): only its death, not the 30 s timeout, can end them with ENOENT.
    await s1!.waitEvent((e) => e.event === 'held' && e.fromPid === p.pid);
    await s1!.waitEvent((e) => e.event === 'held' && e.fromPid === s2!.pid);
    await s1!.kill('SIGKILL');
    const [r, rs] = await Promise.all([single, sync]);
    expect(r).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(rs).toMatchObject({ ok: false, code: 'ENOENT' });
  });

  it('a sender SIGKILLed between claiming a cell and publishing it does not wedge the receiver', async () => {
    const { p, s: [s1], prefix } = await group(1);
    await p.call('register', { name: 'echo', mode: 'echo' });
    await p.call('register', { name: 'seq', mode: 'seqCheck' });
    // The crash point fires on this process's first inbox claim: its message is never published.
    const crasher = await secondary(prefix, {}, { MP_TEST_CRASH: 'ipc-inbox-claimed' });
    // Known to the primary's process table watch, so its death is a proc-exit there.
    await p.waitEvent((e) => e.event === 'proc-join' && (e.data as { pid: number }).pid === crasher.pid);
    await expect(crasher.call('send', { name: 'seq', text: '0' })).rejects.toThrow(/exited/);
    expect((await crasher.exited).signal).toBe('SIGKILL');
    // The primary skips the dead claim on proc-exit — before any other sender has moved the queue's
    // tail past it (the crash fired between the claim and the tail update).
    const skipped = `skipped a cell claimed by pid ${crasher.pid}, which died before publishing it`;
    await waitFor(() => p.stderr.join('\n').includes(skipped));
    // Messages sent after it still get in and arrive, in order, and requests are answered.
    await s1!.call('flood', { name: 'seq', n: 500 });
    const r = await s1!.call<{ ok: boolean; msgs: Array<{ text: string }> }>('request', { name: 'seq', timeoutMs: 20_000 });
    expect(r.ok).toBe(true);
    const st = JSON.parse(r.msgs[0]!.text) as SeqStats;
    expect(st[String(s1!.pid)]).toMatchObject({ count: 500, outOfOrder: 0 });
    expect(st[String(crasher.pid)]).toBeUndefined();
    expect(p.stderr.join('\n')).toContain(skipped);
    expect((await s1!.call<{ ok: boolean }>('requestSync', { name: 'echo', text: 'after' })).ok).toBe(true);
  });

  it('a request queued behind the dead claim of a sender nobody saw die is still answered', async () => {
    const { p, s: [s1], prefix } = await group(1);
    await p.call('register', { name: 'echo', mode: 'echo' });
    // Joins and dies within one process-table watch period: maybe never a proc-exit at the primary.
    const crasher = await secondary(prefix, {}, { MP_TEST_CRASH: 'ipc-inbox-claimed' });
    await expect(crasher.call('send', { name: 'echo', text: '0' })).rejects.toThrow(/exited/);
    // One request, nothing after it: the primary's drain stops at the dead claim and must look again.
    const r = await s1!.call<{ ok: boolean; msgs: Array<{ text: string }> }>('request', { name: 'echo', text: 'behind', timeoutMs: 5000 });
    expect(r.ok).toBe(true);
    expect(r.msgs[0]!.text).toBe(`echo:behind:${p.pid}`);
  });

  it("a slot's inbox is re-armed by the slot's next process (clean exit, SIGKILL); stale handles never deliver to it", async () => {
    const { p, s: [s1, s2], prefix } = await group(2);
    const inboxes = async (): Promise<string[]> => (await p.call<string[]>('memzones')).filter((z) => z.startsWith('ipc_in_')).sort();
    const before = await inboxes();
    expect(before).toHaveLength(3);
    await p.call('register', { name: 'seq', mode: 'seqCheck' });
    // The primary holds handles on both secondaries' inboxes.
    for (const s of [s1!, s2!]) await p.call('send', { name: 'seq', text: '0', to: s.pid }).catch(() => undefined);
    const slot1 = await s1!.call<number>('slot');
    await s1!.close(); // clean exit
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s1!.pid);
    const s3 = await secondary(prefix);
    await s2!.kill('SIGKILL');
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s2!.pid);
    const s4 = await secondary(prefix);
    // No new memzones: the newcomers took the freed slots and their inboxes.
    expect(await inboxes()).toEqual(before);
    expect([await s3.call<number>('slot'), await s4.call<number>('slot')]).toContain(slot1);
    for (const s of [s3, s4]) {
      await s.call('register', { name: 'seq', mode: 'seqCheck' });
      expect((await s.call<Stats>('ipcStats')).hasInbox).toBe(true);
      await p.call('flood', { name: 'seq', n: 2000, to: s.pid });
      const r = await p.call<{ msgs: Array<{ text: string }> }>('request', { name: 'seq', to: s.pid });
      // Exactly the 2000 sent to it, in order: nothing of its slot's previous owner.
      expect(JSON.parse(r.msgs[0]!.text)).toEqual({ [String(p.pid)]: { count: 2000, outOfOrder: 0, fdWrong: 0, fds: 0, sum: sumTo(2000) } });
      expect((await s.call<Stats>('ipcStats')).inboxReceived).toBeGreaterThanOrEqual(2000);
    }
  });

  it('a sender stopped between its check and its write holds up the re-arming of that inbox, and its message goes nowhere', async () => {
    const { p, s: [s1], prefix } = await group(1);
    await s1!.call('register', { name: 'seq', mode: 'seqCheck' });
    // s2 SIGSTOPs itself inside its first inbox send (to s1).
    const s2 = await secondary(prefix, {}, { MP_TEST_CRASH: 'ipc-inbox-entered', MP_TEST_CRASH_SIGNAL: 'SIGSTOP' });
    const stalled = s2.call('send', { name: 'seq', text: '0', to: s1!.pid }).then(
      () => 'sent',
      (err: Error) => err.message,
    );
    await waitFor(async () => procState(s2.pid) === 'T');
    const slot1 = await s1!.call<number>('slot');
    await s1!.kill('SIGKILL');
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s1!.pid);
    // s3 takes s1's slot; arming its inbox must wait for s2 to leave it: s3 says it waits for s2, and
    // its init() has not finished when s2 is let go.
    const s3 = agent();
    let armed = false;
    const s3init = s3.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] }).then(() => (armed = true));
    await waitFor(() => s3.stderr.join('\n').includes(`re-arming waits for sender pid ${s2.pid}`));
    expect(armed).toBe(false);
    process.kill(s2.pid, 'SIGCONT');
    await s3init;
    expect(await s3.call<number>('slot')).toBe(slot1);
    // It wrote into the closed inbox of a dead process, then found the owner's socket gone: ENOENT, as over a socket.
    expect(await stalled).toMatch(/ENOENT/);
    await s3.call('register', { name: 'seq', mode: 'seqCheck' });
    await s2.call('flood', { name: 'seq', n: 500, to: s3.pid });
    const r = await s2.call<{ msgs: Array<{ text: string }> }>('request', { name: 'seq', to: s3.pid });
    expect(JSON.parse(r.msgs[0]!.text)).toEqual({ [String(s2.pid)]: { count: 500, outOfOrder: 0, fdWrong: 0, fds: 0, sum: sumTo(500) } });
  });

  it('no room for an inbox (small -m): that process runs on its socket, with everything working both ways', async () => {
    const { p, prefix } = await group(0, { pArgs: ['-m', '1'] });
    expect(await p.call<number>('reserveAll')).toBeGreaterThan(0); // the group's memory is now used up
    const s1 = await secondary(prefix);
    expect((await s1.call<Stats>('ipcStats')).hasInbox).toBe(false);
    expect(await p.call<string[]>('memzones')).not.toContain(`ipc_in_${await s1.call<number>('slot')}`);
    for (const a of [p, s1]) {
      await a.call('register', { name: 'echo', mode: 'echo' });
      await a.call('register', { name: 'seq', mode: 'seqCheck' });
      await a.call('register', { name: 'readfd', mode: 'readFd' });
    }
    expect((await s1.call<{ msgs: Array<{ text: string }> }>('request', { name: 'echo', text: 'a' })).msgs[0]!.text).toBe(`echo:a:${p.pid}`);
    expect((await s1.call<{ msgs: Array<{ text: string }> }>('requestSync', { name: 'echo', text: 'b' })).msgs[0]!.text).toBe(`echo:b:${p.pid}`);
    expect((await p.call<{ msgs: Array<{ text: string }> }>('requestSync', { name: 'echo', text: 'c', to: s1.pid })).msgs[0]!.text).toBe(`echo:c:${s1.pid}`);
    expect((await p.call<{ msgs: Array<{ text: string }> }>('request', { name: 'readfd', memfdText: 'via socket', to: s1.pid })).msgs[0]!.text).toBe('via socket');
    await s1.call('flood', { name: 'seq', n: 1000, fdEvery: 7 });
    await p.call('flood', { name: 'seq', n: 1000, to: s1.pid, fdEvery: 7 });
    const atP = JSON.parse((await s1.call<{ msgs: Array<{ text: string }> }>('request', { name: 'seq' })).msgs[0]!.text) as SeqStats;
    expect(atP[String(s1.pid)]).toMatchObject({ count: 1000, outOfOrder: 0, fdWrong: 0 });
    const atS = JSON.parse((await p.call<{ msgs: Array<{ text: string }> }>('request', { name: 'seq', to: s1.pid })).msgs[0]!.text) as SeqStats;
    expect(atS[String(p.pid)]).toMatchObject({ count: 1000, outOfOrder: 0, fdWrong: 0 });
    // s1 still writes into the primary's inbox; the primary answers s1 over its socket.
    const ss = await s1.call<Stats>('ipcStats');
    expect(ss.inboxSends).toBeGreaterThan(0);
    expect(ss.socketSends).toBe(0);
    expect((await p.call<Stats>('ipcStats')).socketSends).toBeGreaterThan(0);
  });
});
