/**
 * queue-fds.ts between real processes: a primary serves a port's descriptors, a secondary collects
 * them in chunks of ≤ 8 (rte_mp's limit) — 12 descriptors arrive whole and in order; an unserved port
 * is ENODEV, a port with none is an empty list, and a closed serve stops answering.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { uniquePrefix, useAgents } from '@mp/test-utils';

const agent = useAgents(join(import.meta.dirname, 'fixtures/net-agent.mjs'));

async function pair(): Promise<{ p: ReturnType<typeof agent>; s: ReturnType<typeof agent> }> {
  const prefix = uniquePrefix('qfd');
  const p = agent();
  await p.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge', '-m', '64'] });
  const s = agent();
  await s.call('init', { args: [`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge'] });
  return { p, s };
}

describe('queue descriptors from the primary, in chunks of 8', () => {
  it('12 descriptors (two chunks) reach a secondary whole and in the primary\'s order; 8 (one chunk) and 0 too', async () => {
    const { p, s } = await pair();
    await p.call('serveFds', { driver: 'net_test', port: 3, n: 12 });
    await p.call('serveFds', { driver: 'net_test', port: 4, n: 8 });
    await p.call('serveFds', { driver: 'net_test', port: 5, n: 0 });
    expect(await s.call('requestFds', { driver: 'net_test', port: 3 })).toEqual(Array.from({ length: 12 }, (_, i) => `fd${i}`));
    expect(await s.call('requestFds', { driver: 'net_test', port: 4 })).toEqual(Array.from({ length: 8 }, (_, i) => `fd${i}`));
    expect(await s.call('requestFds', { driver: 'net_test', port: 5 })).toEqual([]);
  });

  it('a port nobody serves is ENODEV; after close() the port is not served any more', async () => {
    const { p, s } = await pair();
    const r = await s.request('requestFds', { driver: 'net_test', port: 9 });
    expect(r.ok).toBe(false);
    await p.call('serveFds', { driver: 'net_test', port: 1, n: 3 });
    expect(await s.call('requestFds', { driver: 'net_test', port: 1 })).toHaveLength(3);
    const r2 = await s.request('requestFds', { driver: 'net_test', port: 2 });
    expect(r2.ok).toBe(false);
    expect(r2.code).toBe('ENODEV');
    await p.call('unserveFds');
    const r3 = await s.request('requestFds', { driver: 'net_test', port: 1 });
    expect(r3.ok).toBe(false);
    expect(r3.code).toBe('ENOENT'); // the action is unregistered with its last port
  });
});
