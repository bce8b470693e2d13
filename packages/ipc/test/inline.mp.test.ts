/**
 * Requests and replies to a sleeping inbox owner go inline — the message is its own wake datagram —
 * while other traffic goes through the owner's inbox (src/inbox-sender.ts, layout.ts "Inline"). These
 * tests mix both paths from one sender (messages, messages with fds, pipelined and awaited requests,
 * requestSync, pauses that let the receiver sleep), with the receiver blocking in requestSync now and
 * then, and check that every message arrives once and in order, also when a sender or a receiver is
 * SIGKILLed in the middle.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startGroup, useAgents } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agent = useAgents(AGENT);

interface Stats {
  inboxSends: number;
  inlineSends: number;
  socketSends: number;
  inboxReceived: number;
  inlineReceived: number;
  fastReplies: number;
}
interface Order {
  count: number;
  next: number;
  outOfOrder: number;
  dup: number;
  fdWrong: number;
  fds: number;
  requests: number;
}
interface Mixed {
  wrong: number;
  errors: Record<string, string>;
  fds: number;
  requests: number;
}

/** Receiver `to`'s order stats of the messages from `from` (asked by `asker`, through the same action). */
async function orderAt(asker: Agent, to: number, from: Agent): Promise<Order> {
  const r = await asker.call<{ ok: boolean; msgs: Array<{ text: string }> }>('request', { name: 'ord', text: `stats:${from.pid}`, to, timeoutMs: 20_000 });
  expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
  return JSON.parse(r.msgs[0]!.text) as Order;
}

const whole = (n: number, m: Mixed): Order => ({ count: n, next: n, outOfOrder: 0, dup: 0, fdWrong: 0, fds: m.fds, requests: m.requests });

describe('inline requests and replies', () => {
  it('one sender mixing inline datagrams and inbox cells, both ways at once, while the receiver blocks in requestSync now and then: each message once, in order', async () => {
    const { p, s: [s1, s2] } = await startGroup(agent, 2, { tag: 'il' });
    for (const a of [p, s1!]) await a.call('register', { name: 'ord', mode: 'orderCheck' });
    await s2!.call('register', { name: 'echo', mode: 'echo' });
    // The primary's handler blocks in a requestSync to s2 on every 7th message it handles.
    await p.call('orderSync', { every: 7, to: s2!.pid });
    const n = 3000;
    const [up, down] = await Promise.all([
      s1!.call<Mixed>('mixed', { name: 'ord', n, seed: 7 }, 120_000),
      // No requestSync this way: two processes each blocked in a requestSync to the other wait for their timeouts (README).
      p.call<Mixed>('mixed', { name: 'ord', n, to: s1!.pid, seed: 11, sync: false }, 120_000),
    ]);
    for (const m of [up, down]) expect(m).toMatchObject({ wrong: 0, errors: {} });
    expect(await orderAt(s2!, p.pid, s1!)).toEqual(whole(n, up));
    expect(await orderAt(s2!, s1!.pid, p)).toEqual(whole(n, down));
    // Both paths were taken, by both senders and at both receivers.
    for (const a of [p, s1!]) {
      const st = await a.call<Stats>('ipcStats');
      expect(st.inlineSends).toBeGreaterThan(0);
      expect(st.inboxSends - st.inlineSends).toBeGreaterThan(0);
      expect(st.socketSends).toBe(0);
      expect(st.inlineReceived).toBeGreaterThan(0);
      expect(st.inboxReceived).toBeGreaterThan(0);
    }
  });

  it('two senders at once into one receiver: each sender whole and in order', async () => {
    const { p, s: [s1, s2, s3] } = await startGroup(agent, 3, { tag: 'il' });
    await p.call('register', { name: 'ord', mode: 'orderCheck' });
    await s3!.call('register', { name: 'echo', mode: 'echo' });
    await p.call('orderSync', { every: 11, to: s3!.pid });
    const n = 2000;
    const [a, b] = await Promise.all([s1!.call<Mixed>('mixed', { name: 'ord', n, seed: 3 }, 120_000), s2!.call<Mixed>('mixed', { name: 'ord', n, seed: 5 }, 120_000)]);
    expect(await orderAt(s3!, p.pid, s1!)).toEqual(whole(n, a));
    expect(await orderAt(s3!, p.pid, s2!)).toEqual(whole(n, b));
  });

  it('a sender SIGKILLed in the middle: what it sent arrives once and in order (a prefix), the other sender is whole, and its slot\'s next process is whole too', async () => {
    const { p, s: [s1, s2, s3], prefix } = await startGroup(agent, 3, { tag: 'il' });
    await p.call('register', { name: 'ord', mode: 'orderCheck' });
    await s3!.call('register', { name: 'echo', mode: 'echo' });
    await p.call('orderSync', { every: 5, to: s3!.pid });
    const n = 4000;
    const dying = s1!.call<Mixed>('mixed', { name: 'ord', n, seed: 13 }, 120_000).catch((err: Error) => err);
    const other = s2!.call<Mixed>('mixed', { name: 'ord', n: 2000, seed: 17 }, 120_000);
    await s1!.waitEvent((e) => e.event === 'mixed-half', 60_000);
    await s1!.kill('SIGKILL');
    expect(await dying).toBeInstanceOf(Error);
    await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s1!.pid);
    const o = await other;
    expect(o).toMatchObject({ wrong: 0, errors: {} });
    expect(await orderAt(s3!, p.pid, s2!)).toEqual(whole(2000, o));
    const dead = await orderAt(s3!, p.pid, s1!);
    // Everything sent before the half-way event arrived; nothing twice, nothing out of order, no gap.
    expect(dead).toMatchObject({ outOfOrder: 0, dup: 0, fdWrong: 0 });
    expect(dead.next).toBe(dead.count);
    expect(dead.count).toBeGreaterThanOrEqual(n / 2);
    expect(dead.count).toBeLessThanOrEqual(n);
    // A newcomer (it may take the dead sender's process-table slot) starts clean.
    const s4 = agent();
    await s4.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge', '--proc-type=secondary'] });
    const m4 = await s4.call<Mixed>('mixed', { name: 'ord', n: 1000, seed: 19 }, 120_000);
    expect(m4).toMatchObject({ wrong: 0, errors: {} });
    expect(await orderAt(s3!, p.pid, s4)).toEqual(whole(1000, m4));
  });

  it('a receiver SIGKILLed in the middle: every request to it ends (ENOENT), none waits out its timeout, and the sender goes on with others', async () => {
    const { p, s: [s1, s2] } = await startGroup(agent, 2, { tag: 'il' });
    await s1!.call('register', { name: 'ord', mode: 'orderCheck' });
    await s2!.call('register', { name: 'echo', mode: 'echo' });
    const run = p.call<Mixed>('mixed', { name: 'ord', n: 4000, to: s1!.pid, seed: 23 }, 120_000);
    await p.waitEvent((e) => e.event === 'mixed-half', 60_000);
    await s1!.kill('SIGKILL');
    const m = await run;
    const codes = new Set(Object.values(m.errors));
    expect(Object.keys(m.errors).length).toBeGreaterThan(0);
    expect([...codes]).toEqual(['ENOENT']);
    expect(m.wrong).toBe(0);
    const r = await p.call<{ ok: boolean; msgs: Array<{ text: string }> }>('request', { name: 'echo', text: 'after', to: s2!.pid });
    expect(r).toMatchObject({ ok: true, msgs: [{ text: `echo:after:${s2!.pid}` }] });
  });
});

describe('replies read off the socket, settled from their receive record (RECORD.fast)', () => {
  it('plain, with descriptors and error replies take that path; a reply under another name still matches nothing', async () => {
    const { p, s: [s1] } = await startGroup(agent, 1, { tag: 'fr' });
    for (const [name, mode] of [['echo', 'echo'], ['givefd', 'giveFd'], ['boom', 'throw'], ['renamed', 'renamed']]) await p.call('register', { name, mode });
    const fast = async (): Promise<number> => (await s1!.call<Stats>('ipcStats')).fastReplies;
    // Each step's replies go inline to a sleeping requester (or, now and then, into its inbox): some must come this way.
    let before = await fast();
    expect(await s1!.call('pingPong', { name: 'echo', n: 50, to: p.pid })).toBe(50);
    expect(await fast()).toBeGreaterThan(before);
    before = await fast();
    for (let i = 0; i < 10; i++) {
      const g = await s1!.call<{ ok: boolean; msgs: Array<{ fdTexts: string[] }> }>('request', { name: 'givefd', text: `x${i}`, to: p.pid });
      expect(g).toMatchObject({ ok: true, msgs: [{ fdTexts: [`memfd from ${p.pid}: x${i}`] }] });
    }
    expect(await fast()).toBeGreaterThan(before);
    before = await fast();
    for (let i = 0; i < 10; i++) {
      const e = await s1!.call<{ message: string }>('request', { name: 'boom', to: p.pid });
      expect(e).toMatchObject({ ok: false, name: 'MpIpcRemoteError', code: 'EPERM', remoteCode: 'EPERM', peerPid: p.pid });
      expect(e.message).toContain('handler says no');
    }
    expect(await fast()).toBeGreaterThan(before);
    // The request id matches, the name does not: dropped as before, so the request waits out its timeout.
    before = await fast();
    expect(await s1!.call('request', { name: 'renamed', to: p.pid, timeoutMs: 300 })).toMatchObject({ ok: false, code: 'ETIMEDOUT' });
    expect(await fast()).toBe(before);
  });
});
