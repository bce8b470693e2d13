/** The mempool's telemetry commands, answered as the socket answers them (DPDK's names and shapes). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eal, init, telemetry } from '@mp/eal';
import { uniquePrefix } from '@mp/test-utils';
import { pktmbufPoolCreate, Mempool } from '../src/index.js';

beforeAll(() => {
  init([`--file-prefix=${uniquePrefix('mpt')}`, '--no-huge', '-m', '64', '--no-telemetry']);
});
afterAll(() => eal().cleanup());

describe('telemetry', () => {
  it('/mempool/list and /mempool/info,<name> report the pools and their counts; a bad name is a null reply', async () => {
    const a = pktmbufPoolCreate('tm_pkts', 511, { cacheSize: 32 });
    Mempool.create('tm_plain', 100, 64);
    const h = a.get();
    const list = JSON.parse(await telemetry.handle('/mempool/list')) as { '/mempool/list': string[] };
    expect(list['/mempool/list']).toEqual(expect.arrayContaining(['tm_pkts', 'tm_plain']));
    const info = JSON.parse(await telemetry.handle('/mempool/info,tm_pkts'))['/mempool/info'] as Record<string, unknown>;
    expect(info).toMatchObject({ name: 'tm_pkts', size: 511, cache_size: 32, in_use_count: 1, avail_count: 510 });
    a.put(h);
    expect(JSON.parse(await telemetry.handle('/mempool/info,nope'))).toEqual({ '/mempool/info': null });
  });
});
