/**
 * net_ring: a port whose queues are @mp/ring rings in shared memory (DPDK's net_ring). Tx queue q of a
 * port is a ring of mbuf handles; rx queue q reads tx queue q of the port's peer — itself by default (a
 * loopback, as DPDK's `--vdev=net_ring0`), or the port named by `peer=` (two ports back to back).
 * Rings are single-producer / single-consumer: ethdev lets one process poll each queue.
 *
 * Devargs: `net_ring<N>[,peer=<port name>][,mac=aa:bb:cc:dd:ee:ff]`.
 */
import { MpError } from '@mp/memory';
import { Mbuf } from '@mp/mempool';
import { Ring, RING_F_SC_DEQ, RING_F_SP_ENQ } from '@mp/ring';
import { checkKeys, macArg } from '../ethdev/devargs.js';
import type { Devargs } from '../ethdev/devargs.js';
import { PortTable } from '../ethdev/table.js';
import { PORT, PS_FREE, portOff } from '../ethdev/layout.js';
import type { BurstQueue, Driver, DriverPort, PortContext } from './driver.js';

/** Driver words (PortContext.words): the peer port id + 1 (0 = itself), and a ring-name generation. */
const W_PEER = 0;
const W_GEN = 1;

/** The handles a tx burst could not place, handed back to the caller (one array, no allocation per burst). */
let back = new Uint32Array(256);

const ringName = (port: number, gen: number, q: number): string => `eth${port}g${gen}tx${q}`;

/** The ring of that name, or undefined (Ring.lookup throws ENOENT). */
function findRing(name: string): Ring | undefined {
  try {
    return Ring.lookup(name);
  } catch (err) {
    if ((err as MpError).code === 'ENOENT') return undefined;
    throw err;
  }
}

function peerOf(ctx: PortContext): number {
  const p = ctx.words[W_PEER]!;
  return p === 0 ? ctx.id : p - 1;
}

export const netRing: Driver = {
  name: 'net_ring',
  keys: ['peer', 'mac'],
  probe(ctx: PortContext, d: Devargs): void {
    checkKeys(d, this.keys);
    const mac = macArg(d, 'mac') ?? Uint8Array.of(0x02, 0x6d, 0x70, 0x72, 0x00, ctx.id);
    ctx.setMac(mac);
    ctx.words[W_GEN] = (Date.now() & 0xffff) >>> 0;
    const peerName = d.args.get('peer');
    if (peerName !== undefined) {
      // Under the table lock (probe holds it): wire both ends.
      const t = PortTable.get(false);
      const peer = t.find(peerName);
      if (peer < 0) throw new MpError('ENOENT', `net_ring peer '${peerName}' is not a port (probe it first)`);
      if (t.str(peer, PORT.driver, PORT.driverSize) !== 'net_ring') throw new MpError('EINVAL', `peer '${peerName}' is a ${t.str(peer, PORT.driver, PORT.driverSize)} port, not net_ring`);
      const pw = new Uint32Array(t.mz.buffer, portOff(peer) + PORT.drv, 1);
      if (pw[0] !== 0) throw new MpError('EBUSY', `net_ring port '${peerName}' is wired to another peer already`);
      pw[0] = ctx.id + 1;
      ctx.words[W_PEER] = peer + 1;
    }
  },
  open(ctx: PortContext): DriverPort {
    return new RingPort(ctx);
  },
};

class RingPort implements DriverPort {
  private readonly rings = new Map<string, Ring>();
  constructor(private readonly ctx: PortContext) {}

  configure(): void {}
  rxQueueSetup(): void {}

  txQueueSetup(q: number, nbDesc: number): void {
    const name = ringName(this.ctx.id, this.ctx.words[W_GEN]!, q);
    findRing(name)?.free();
    this.rings.delete(name);
    // SP/SC: one process polls a queue; nbDesc descriptors = ring slots (a power of two; capacity nbDesc-1).
    this.rings.set(name, Ring.create(name, nbDesc, { flags: RING_F_SP_ENQ | RING_F_SC_DEQ, elemSize: 4 }));
  }

  start(): void {
    const peer = peerOf(this.ctx);
    if (peer !== this.ctx.id) {
      const t = PortTable.get(false);
      if (t.state(peer) === PS_FREE) throw new MpError('ENODEV', `net_ring peer port ${peer} is gone`);
    }
    // DPDK's net_ring reports a 10 Gb/s full-duplex link while started.
    this.ctx.setLink(true, 10_000);
  }

  stop(): void {
    this.ctx.setLink(false, 0, 'stopped');
  }

  close(): void {
    for (let q = 0; q < this.ctx.nbTxq(); q++) findRing(ringName(this.ctx.id, this.ctx.words[W_GEN]!, q))?.free();
    // Unwire the peer.
    const peer = peerOf(this.ctx);
    if (peer !== this.ctx.id) {
      const t = PortTable.get(false);
      const pw = new Uint32Array(t.mz.buffer, portOff(peer) + PORT.drv, 1);
      if (pw[0] === this.ctx.id + 1) pw[0] = 0;
    }
    this.rings.clear();
  }

  private ring(port: number, gen: number, q: number): Ring {
    const name = ringName(port, gen, q);
    let r = this.rings.get(name);
    if (r === undefined) {
      r = findRing(name);
      if (r === undefined) throw new MpError('EINVAL', `net_ring: tx queue ${q} of port ${port} (the rx side of port ${this.ctx.id}) is not set up`);
      this.rings.set(name, r);
    }
    return r;
  }

  rxQueue(q: number): BurstQueue {
    const peer = peerOf(this.ctx);
    const t = PortTable.get(false);
    const gen = new Uint32Array(t.mz.buffer, portOff(peer) + PORT.drv, 2)[W_GEN]!;
    const r = this.ring(peer, gen, q);
    return {
      burst(handles: Uint32Array, n: number): number {
        const got = r.dequeueBurst(handles, n);
        Mbuf.adopt(handles, got);
        return got;
      },
    };
  }

  txQueue(q: number): BurstQueue {
    const r = this.ring(this.ctx.id, this.ctx.words[W_GEN]!, q);
    return {
      burst(handles: Uint32Array, n: number): number {
        // Owned by the ring before they are visible in it: a consumer may adopt them at once.
        Mbuf.release(handles, n);
        const sent = r.enqueueBurst(handles, n);
        if (sent < n) {
          // What did not fit is the caller's again (copied: adopt reads from index 0).
          if (back.length < n - sent) back = new Uint32Array(n - sent);
          for (let i = sent; i < n; i++) back[i - sent] = handles[i]!;
          Mbuf.adopt(back, n - sent);
        }
        return sent;
      },
    };
  }
}
