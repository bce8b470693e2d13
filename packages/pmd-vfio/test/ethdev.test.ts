/** ethdev in one process: devargs, probe and lifecycle errors, a loopback net_ring port. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { init, telemetry } from '@mp/eal';
import { Mbuf, pktmbufPoolCreate } from '@mp/mempool';
import type { Mempool } from '@mp/mempool';
import { mpErrorCode, uniquePrefix } from '@mp/test-utils';
import { ethdev, parseDevargs } from '../src/index.js';

let pool: Mempool;
beforeAll(() => {
  init([`--file-prefix=${uniquePrefix('ed')}`, '--no-huge', '-m', '64']);
  pool = pktmbufPoolCreate('p', 1023, { cacheSize: 32 });
});
afterAll(async () => {
  (await import('@mp/eal')).eal().cleanup();
});

describe('devargs', () => {
  it.each([
    ['net_ring0', 'net_ring0', 'net_ring', {}],
    ['net_memif1,role=server,socket=/run/x.sock,id=0', 'net_memif1', 'net_memif', { role: 'server', socket: '/run/x.sock', id: '0' }],
    ['0000:00:04.0', '0000:00:04.0', 'vfio-pci', {}],
  ])('%s', (text, name, driver, args) => {
    const d = parseDevargs(text);
    expect({ name: d.name, driver: d.driver, args: Object.fromEntries(d.args) }).toEqual({ name, driver, args });
  });
  it.each([[''], ['ring0'], ['net_ring'], ['net_ring0,'], ['net_ring0,peer'], ['net_ring0,a=1,a=2'], ['net_ring0,Bad=1'], ['net_ring0\n'], ['x'.repeat(300)]])('refuses %j with EINVAL', (text) => {
    expect(mpErrorCode(() => parseDevargs(text))).toBe('EINVAL');
  });
});

describe('probe and lifecycle', () => {
  it('unknown driver → ENODEV; unknown key → EINVAL; a duplicate name → EEXIST; a missing peer → ENOENT', () => {
    expect(mpErrorCode(() => ethdev.probe('net_bogus0'))).toBe('ENODEV');
    // vfio-pci: ENOTSUP without /dev/vfio/vfio (this CI), ENODEV where VFIO exists but no such device does.
    expect(mpErrorCode(() => ethdev.probe('0000:00:04.0'))).toBe(existsSync('/dev/vfio/vfio') ? 'ENODEV' : 'ENOTSUP');
    expect(mpErrorCode(() => ethdev.probe('net_ring5,speed=1'))).toBe('EINVAL');
    expect(mpErrorCode(() => ethdev.probe('net_ring6,peer=net_ring99'))).toBe('ENOENT');
    const p = ethdev.probe('net_ring7');
    expect(mpErrorCode(() => ethdev.probe('net_ring7'))).toBe('EEXIST');
    expect(mpErrorCode(() => ethdev.attach('nope'))).toBe('ENOENT');
    expect(mpErrorCode(() => ethdev.attach(31))).toBe('ENOENT');
    expect(mpErrorCode(() => ethdev.attach(99))).toBe('EINVAL');
    p.close();
    expect(ethdev.list().map((x) => x.name)).not.toContain('net_ring7');
  });

  it('queue setup and bursts check their state and arguments', () => {
    const p = ethdev.probe('net_ring8');
    const h = new Uint32Array(32);
    expect(mpErrorCode(() => p.rxQueueSetup(0, 512, pool))).toBe('EINVAL'); // not configured
    expect(mpErrorCode(() => p.configure(17, 1))).toBe('EINVAL');
    expect(mpErrorCode(() => p.configure(0, 0))).toBe('EINVAL');
    p.configure(1, 1);
    expect(mpErrorCode(() => p.rxQueueSetup(1, 512, pool))).toBe('EINVAL'); // q out of range
    expect(mpErrorCode(() => p.rxQueueSetup(0, 500, pool))).toBe('EINVAL'); // not a power of two
    expect(mpErrorCode(() => p.start())).toBe('EINVAL'); // queues not set up
    p.rxQueueSetup(0, 512, pool);
    p.txQueueSetup(0, 512);
    expect(mpErrorCode(() => p.rxBurst(0, h))).toBe('EINVAL'); // not started
    p.start();
    expect(mpErrorCode(() => p.rxBurst(1, h))).toBe('EINVAL');
    expect(mpErrorCode(() => p.txBurst(0, h, 33))).toBe('EINVAL');
    expect(mpErrorCode(() => p.configure(1, 1))).toBe('EINVAL'); // started
    p.close();
    expect(mpErrorCode(() => p.rxBurst(0, h))).toBe('ENODEV');
    expect(mpErrorCode(() => p.stats())).toBe('ENODEV');
  });

  it('a loopback port returns what it sent, in order, and counts it; a full queue is tx_errors', () => {
    const p = ethdev.probe('net_ring9');
    p.configure(1, 1);
    p.rxQueueSetup(0, 64, pool);
    p.txQueueSetup(0, 64);
    p.start();
    const start = pool.availCount;
    const h = new Uint32Array(100);
    expect(Mbuf.allocBulk(pool, h, 100)).toBe(100);
    for (let i = 0; i < 100; i++) pool.words[Mbuf.append(h[i]!, 60) >>> 2] = i;
    const sent = p.txBurst(0, h, 100);
    expect(sent).toBe(63); // a 64-slot ring holds 63
    for (let i = sent; i < 100; i++) Mbuf.free(h[i]!);
    const r = new Uint32Array(100);
    expect(p.rxBurst(0, r, 100)).toBe(63);
    for (let i = 0; i < 63; i++) {
      expect(pool.words[Mbuf.dataOffset(r[i]!) >>> 2]).toBe(i);
      expect(Mbuf.dataLen(r[i]!)).toBe(60);
    }
    for (let i = 0; i < 63; i++) Mbuf.free(r[i]!);
    expect(pool.availCount).toBe(start);
    const st = p.stats();
    expect(st).toMatchObject({ opackets: 63, ipackets: 63, oerrors: 37 });
    expect(p.xstats().find((x) => x.name === 'tx_errors')?.value).toBe(37);
    p.statsReset();
    expect(p.stats().opackets).toBe(0);
    expect(p.link()).toEqual({ status: 'up', speed: 10000, duplex: 'full' });
    p.close();
  });

  it("telemetry answers /ethdev/list, info, stats, xstats and link_status with DPDK's shapes; a bad id is a null reply", async () => {
    const p = ethdev.probe('net_ring10');
    p.configure(1, 1);
    p.rxQueueSetup(0, 64, pool);
    p.txQueueSetup(0, 64);
    p.start();
    const q = async (c: string): Promise<unknown> => (JSON.parse(await telemetry.handle(c)) as Record<string, unknown>)[c.split(',')[0]!];
    expect(await q('/ethdev/list')).toContain(p.id);
    expect(await q(`/ethdev/info,${p.id}`)).toMatchObject({ name: 'net_ring10', nb_rx_queues: 1, nb_tx_queues: 1, port_id: p.id });
    expect(await q(`/ethdev/stats,${p.id}`)).toMatchObject({ ipackets: 0, opackets: 0, q_ipackets: [0] });
    expect(await q(`/ethdev/xstats,${p.id}`)).toMatchObject({ rx_good_packets: 0, tx_errors: 0 });
    expect(await q(`/ethdev/link_status,${p.id}`)).toEqual({ status: 'UP', speed: 10000, duplex: 'full-duplex' });
    expect(await q('/ethdev/stats,31')).toBeNull();
    expect(await q('/ethdev/stats,x')).toBeNull();
    p.close();
  });
});
