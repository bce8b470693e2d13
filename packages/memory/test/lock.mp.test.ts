import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, spawnAgent } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/lock-agent.mjs');
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.kill()));
});
const start = (path: string): Agent => {
  const a = spawnAgent(AGENT, [path]);
  agents.push(a);
  return a;
};

describe('RobustLock across processes', () => {
  it('is mutually exclusive: two processes, 20 000 unguarded increments each, exact total', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mp-lock-')), 'f');
    const a = start(path);
    const b = start(path);
    await Promise.all([a.waitEvent((e) => e.event === 'ready'), b.waitEvent((e) => e.event === 'ready')]);
    const [x, y] = await Promise.all([a.call<number>('increments', { times: 20_000 }), b.call<number>('increments', { times: 20_000 })]);
    expect(Math.max(x, y)).toBe(40_000);
  });

  it('a holder SIGKILLed inside the lock: the waiter gets it within 1 s and repairs', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mp-lock-')), 'f');
    const holder = start(path);
    const waiter = start(path);
    await waiter.waitEvent((e) => e.event === 'ready');
    holder.child.stdin.write('{"op":"hold"}\n');
    await holder.waitEvent((e) => e.event === 'holding');
    const taking = waiter.call<{ waitedMs: number; repaired: number[]; seenHalfDone: number }>('take');
    await new Promise((r) => setTimeout(r, 300)); // the waiter is blocked behind a live holder
    const killedAt = Date.now();
    await holder.kill('SIGKILL');
    const r = await taking;
    expect(r.repaired).toEqual([holder.pid]);
    expect(r.seenHalfDone).toBe(1);
    expect(r.waitedMs).toBeGreaterThanOrEqual(100);
    expect(Date.now() - killedAt).toBeLessThan(1000);
  });
});
