// 1000 telemetry connections opened, used and closed while the group moves 10^6 ring elements: the work
// finishes with the right checksum, and the serving process keeps no descriptor, connection or heap.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TelemetryClient } from '@mp/cli';
import { removeCreatedGroups, uniquePrefix, useAgents } from '@mp/test-utils';
import { MEMBER, makeBase } from './helpers.js';

const spawnAgent = useAgents(MEMBER);
let b: ReturnType<typeof makeBase>;
beforeAll(() => {
  b = makeBase();
});
afterAll(() => {
  removeCreatedGroups();
  b.remove();
});

const TOTAL = 1_000_000;
const CONNECTIONS = 1000;
const AT_ONCE = 8;

it(`${CONNECTIONS} telemetry connections while ${TOTAL} ring elements move: the work finishes, nothing leaks`, async () => {
  const prefix = uniquePrefix('clis');
  const dir = join(b.base, prefix);
  const [primary, producer, consumer] = [spawnAgent(), spawnAgent(), spawnAgent()];
  const args = (t: string, l: number): string[] => [`--file-prefix=${prefix}`, `--runtime-dir=${dir}`, '--no-huge', `--proc-type=${t}`, '-l', String(l)];
  await primary.call('init', { args: args('primary', 0) });
  await producer.call('init', { args: args('secondary', 1) });
  await consumer.call('init', { args: args('secondary', 2) });
  await primary.call('ringCreate', { name: 'work', count: 4096 });
  // Warm the server path once, so the baseline includes what a first connection allocates for good.
  const warm = await TelemetryClient.connect(join(dir, 'dpdk_telemetry.v2'));
  await warm.request('/ring/info', 'work');
  warm.close();
  const before = await primary.call<{ fds: number; heapUsed: number; connections: number }>('usage');

  const produced = producer.call<number>('produce', { name: 'work', total: TOTAL }, 120_000);
  const consumed = consumer.call<{ got: number; sum: number }>('consume', { name: 'work', total: TOTAL }, 120_000);
  let moving = true;
  void consumed.finally(() => {
    moving = false;
  });
  let answered = 0;
  let duringWork = 0;
  const worker = async (k: number): Promise<void> => {
    for (let i = k; i < CONNECTIONS; i += AT_ONCE) {
      const c = await TelemetryClient.connect(join(dir, i % 2 ? 'dpdk_telemetry.v2' : 'dpdk_telemetry.v2:1'), { timeoutMs: 10_000 });
      try {
        const info = (await c.request('/ring/info', 'work')) as { capacity: number; used_count: number };
        expect(info.capacity).toBe(4095);
        expect(info.used_count).toBeLessThanOrEqual(4095);
        answered++;
        if (moving) duringWork++;
      } finally {
        c.close();
      }
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, (_, k) => worker(k)));
  expect(await produced).toBe(TOTAL);
  const { got, sum } = await consumed;
  expect(got).toBe(TOTAL);
  // 1 + 2 + … + TOTAL, mod 2^32.
  expect(sum).toBe(Number((BigInt(TOTAL) * BigInt(TOTAL + 1)) / 2n % 2n ** 32n));
  expect(answered).toBe(CONNECTIONS);
  expect(duringWork).toBeGreaterThan(0); // the connections really overlapped the work

  // The server sees each client close asynchronously: ask until it reports none (bounded by the test timeout).
  let after = await primary.call<{ fds: number; heapUsed: number; connections: number }>('usage');
  while (after.connections !== 0) after = await primary.call('usage');
  expect(after.fds).toBe(before.fds);
  console.log(`heap+external growth over ${CONNECTIONS} connections: ${after.heapUsed - before.heapUsed} bytes`);
  expect(after.heapUsed - before.heapUsed).toBeLessThan(512 * 1024); // 1000 leaked connections would hold > 1 MiB (a 1 KiB buffer each)
  const s = await producer.call<{ fds: number; connections: number }>('usage');
  expect(s.connections).toBe(0);
});
