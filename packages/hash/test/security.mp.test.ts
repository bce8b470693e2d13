// Hardening (issue 11): a table freed by one process; another process's handle must not write into the
// memzone reserved in its place.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Agent, spawnAgent, uniquePrefix } from '@mp/test-utils';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.kill('SIGKILL')));
});

async function member(prefix: string, type: 'primary' | 'secondary'): Promise<Agent> {
  const a = spawnAgent(AGENT);
  agents.push(a);
  await a.call('init', { args: [`--file-prefix=${prefix}`, `--proc-type=${type}`, '--no-huge', ...(type === 'primary' ? ['-m', '128'] : [])] });
  return a;
}

describe('a table freed by another process', () => {
  it.each([
    ['single writer', {}],
    ['multi-writer', { multiWriter: true }],
  ])('%s: every write through a stale handle there throws EBADF; the memzone reserved in its place is unchanged', async (_l, extra) => {
    const prefix = uniquePrefix('hx');
    const p = await member(prefix, 'primary');
    const s = await member(prefix, 'secondary');
    await p.call('create', { name: 'gone', opts: { entries: 1024, keyLen: 16, ...extra } });
    await s.call('hold', { name: 'gone' });
    expect(await s.call('addRange', { name: 'gone', from: 0, to: 10 })).toBe(10);
    const where = await p.call<{ offset: number; len: number }>('freeTable', { name: 'gone' });
    const next = await p.call<{ offset: number; sha: string }>('reserveFill', { name: 'next_mz', len: where.len });
    expect(next.offset, 'the allocator reuses the freed place (else this test proves nothing)').toBe(where.offset);
    for (const method of ['add', 'addWithHash', 'delete', 'deleteWithHash', 'reset', 'writeBatch', 'free']) {
      expect(await s.call<string>('staleWrite', { name: 'gone', method }), method).toBe('EBADF');
    }
    expect(await p.call<string>('memzoneSha', { name: 'next_mz' })).toBe(next.sha);
  }, 30_000);

  it('a new table made in its place (same name, same size): a stale writer elsewhere gets EBADF and the new table stays empty and sound', async () => {
    const prefix = uniquePrefix('hx');
    const p = await member(prefix, 'primary');
    const s = await member(prefix, 'secondary');
    const opts = { entries: 1024, keyLen: 16, multiWriter: true };
    await p.call('create', { name: 'again', opts });
    await s.call('hold', { name: 'again' });
    expect(await s.call('addRange', { name: 'again', from: 0, to: 10 })).toBe(10);
    const where = await p.call<{ offset: number }>('freeTable', { name: 'again' });
    await p.call('create', { name: 'again', opts });
    expect(await p.call<number>('where', { name: 'again' }), 'the new table took the freed place').toBe(where.offset);
    for (const method of ['add', 'addWithHash', 'delete', 'deleteWithHash', 'reset', 'writeBatch', 'free']) {
      expect(await s.call<string>('staleWrite', { name: 'again', method }), method).toBe('EBADF');
    }
    expect(await p.call('count', { name: 'again' })).toBe(0);
    expect(await p.call('audit', { name: 'again' })).toEqual([]);
  }, 30_000);
});
