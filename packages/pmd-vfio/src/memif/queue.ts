/**
 * The memif data path: one ring as one side sees it. A burst is one call into native code, which walks
 * the descriptors and copies frame bytes between the ring's buffers and the caller's byte ranges
 * (memcpy); nothing is allocated per frame, nothing crosses N-API per frame.
 *
 * Frames are (buffer, offset, length) triples over ONE caller buffer per burst — an mbuf pool's data
 * memzone, or any Uint8Array — so the ethdev layer hands mbuf data offsets straight through.
 */
import { MpError } from '@mp/memory';
import { binding } from '../binding.js';
import type { NativeQueue, WatchHandle } from '../binding.js';
import type { RingShare } from './control.js';

/** Per-queue counters: packets, bytes, errors (bad descriptors, a peer index past the ring). */
export interface QueueStats {
  packets: bigint;
  bytes: bigint;
  errors: bigint;
}

export class MemifQueue {
  /** 'rx' or 'tx'. */
  readonly dir: 'rx' | 'tx';
  /** Queue index in its direction (= the memif ring index). */
  readonly index: number;
  /** Ring slots (2^log2RingSize). */
  readonly size: number;
  /** Buffer size of the ring's slots (frames longer than this span chained slots). */
  readonly bufferSize: number;
  /** Interrupt mode: the receiver left MASK_INT clear and watches the eventfd. */
  readonly interrupt: boolean;
  private q: NativeQueue | undefined;
  private readonly counters: BigUint64Array;
  private readonly efd: number;
  private watch: WatchHandle | undefined;
  private onClose: (() => void) | undefined;

  /** @internal built by the control channel once the interface is up. */
  constructor(
    q: NativeQueue,
    dir: 'rx' | 'tx',
    index: number,
    size: number,
    bufferSize: number,
    interrupt: boolean,
    efd: number,
    counters: BigUint64Array,
  ) {
    this.q = q;
    this.dir = dir;
    this.index = index;
    this.size = size;
    this.bufferSize = bufferSize;
    this.interrupt = interrupt;
    this.efd = efd;
    this.counters = counters;
  }

  /**
   * This process's own queue over a ring of a connection another process (or another part of this
   * one) holds: maps the regions from their memfds, takes the ring's indices from the ring (as that
   * side left them) and bursts with no request per burst. The mappings go at {@link close}; so do the
   * descriptors when `ownFds` (received copies), which are otherwise left open (the holder's).
   *
   * @param fds region memfds in `geo.regionSizes` order, then the ring's eventfd (or -1)
   * @throws {MpError} EINVAL — geometry and descriptors disagree, the ring lies outside its region
   * @throws {MpError} ENOMEM and other mmap errors — a region cannot be mapped
   */
  static openShared(geo: RingShare, fds: readonly number[], ownFds: boolean): MemifQueue {
    const nreg = geo.regionSizes.length;
    if (nreg < 1 || fds.length !== nreg + 1 || geo.ringRegion >= nreg) {
      throw new MpError('EINVAL', `memif shared ring: ${nreg} regions, ${fds.length} descriptors, ring in region ${geo.ringRegion}`);
    }
    const bufs: ArrayBuffer[] = [];
    try {
      for (let i = 0; i < nreg; i++) bufs.push(binding.map(fds[i]!, geo.regionSizes[i]!));
    } catch (err) {
      for (const b of bufs) binding.release(b);
      throw new MpError('ENOMEM', `memif shared ring: a region cannot be mapped: ${(err as Error).message}`, { cause: err });
    }
    const stats = new BigUint64Array(3);
    const efd = fds[nreg]!;
    let nq: NativeQueue;
    try {
      nq = new binding.Queue(geo.kind, bufs, geo.ringRegion, geo.ringOffset, geo.log2, geo.bufferSize, efd, stats, true);
    } catch (err) {
      for (const b of bufs) binding.release(b);
      throw new MpError('EINVAL', `memif shared ring: ${(err as Error).message}`, { cause: err });
    }
    const q = new MemifQueue(nq, geo.dir, geo.index, 2 ** geo.log2, geo.bufferSize, geo.interrupt, efd, stats);
    q.onClose = () => {
      for (const b of bufs) binding.release(b);
      if (ownFds) for (const fd of fds) if (fd >= 0) binding.close(fd);
    };
    return q;
  }

  /**
   * Receive up to `n` frames: frame i is copied to `dst` at `offsets[i]` (at most `room` bytes) and its
   * full length goes to `lens[i]` (a length above `room` means the frame was cut). Frames the peer
   * chained over several slots arrive whole. Returns the count (0 when the queue is empty or the
   * interface is down) — never throws for an expected outcome. A range outside `dst` is dropped and
   * counted in `errors`; `n` is capped by the lengths of `offsets` and `lens`.
   * @throws {MpError} EINVAL — dst not a Uint8Array, offsets or lens not Uint32Arrays
   * @see rte_eth_rx_burst (eth_memif_rx)
   */
  rxBurst(dst: Uint8Array, offsets: Uint32Array, room: number, lens: Uint32Array, n: number): number {
    if (!(dst instanceof Uint8Array && offsets instanceof Uint32Array && lens instanceof Uint32Array)) badArgs('rxBurst(dst: Uint8Array, offsets: Uint32Array, room, lens: Uint32Array, n)');
    return this.q === undefined ? 0 : this.q.rxBurst(dst, offsets, room, lens, n);
  }

  /**
   * Send the first `n` frames `src[offsets[i] .. + lens[i])`; a frame longer than the ring's buffers is
   * chained over several slots (MEMIF_DESC_FLAG_NEXT). Returns how many were sent (the first k); the
   * rest did not fit and are the caller's to retry or drop. 0 when the interface is down. A range
   * outside `src` is skipped (counted as sent and in `errors`).
   * @throws {MpError} EINVAL — src not a Uint8Array, offsets or lens not Uint32Arrays
   * @see rte_eth_tx_burst (eth_memif_tx)
   */
  txBurst(src: Uint8Array, offsets: Uint32Array, lens: Uint32Array, n: number): number {
    if (!(src instanceof Uint8Array && offsets instanceof Uint32Array && lens instanceof Uint32Array)) badArgs('txBurst(src: Uint8Array, offsets: Uint32Array, lens: Uint32Array, n)');
    return this.q === undefined ? 0 : this.q.txBurst(src, offsets, lens, n);
  }

  /** True while the queue's interface is up. */
  get active(): boolean {
    return this.q !== undefined;
  }

  /** Counters since the connection came up (the view stays readable after it went down). */
  stats(): QueueStats {
    return { packets: this.counters[0]!, bytes: this.counters[1]!, errors: this.counters[2]! };
  }

  /**
   * Interrupt mode (rx queues of an interface created with `rxMode: 'interrupt'`): `fn` runs when the
   * peer signals new frames (its eventfd); call rxBurst until it returns 0. `null` stops watching.
   *
   * @throws {MpError} ENOTSUP — a tx queue, or a polling-mode queue (the peer never signals it)
   * @throws {MpError} ENOTCONN — the interface is down
   */
  onInterrupt(fn: ((q: MemifQueue) => void) | null): void {
    if (this.dir !== 'rx' || !this.interrupt) {
      throw new MpError('ENOTSUP', `memif ${this.dir} queue ${this.index} is not an interrupt-mode rx queue (create the interface with rxMode: 'interrupt')`);
    }
    this.watch?.close();
    this.watch = undefined;
    if (fn === null) return;
    if (this.q === undefined) throw new MpError('ENOTCONN', `memif rx queue ${this.index}: the interface is down`);
    this.watch = binding.watch(this.efd, () => {
      binding.drain(this.efd); // R: drain first, then read the ring: a frame published after it signals again
      fn(this);
    });
  }

  /** @internal the connection went down (or this process is done with a shared ring): bursts return 0 from now on. */
  close(): void {
    this.watch?.close();
    this.watch = undefined;
    this.q?.close();
    this.q = undefined;
    const f = this.onClose;
    this.onClose = undefined;
    f?.();
  }
}

function badArgs(sig: string): never {
  throw new MpError('EINVAL', `memif queue: ${sig} — wrong argument types`);
}
