/**
 * The driver side of one split virtqueue (virtio 1.2 §2.7), over a slot of the port's virtqueue
 * memzone (layout in ./layout.ts). Stateless apart from views: the ring indices, the free-descriptor
 * stack and which mbuf each descriptor carries are in shared memory, so any process may poll the queue
 * (one at a time: ethdev enforces it) and a queue outlives its poller.
 *
 * Memory ordering (the spec's barriers, as Linux's virtio_ring.c and DPDK's virtqueue.h place them):
 * - V1: descriptors and avail ring slots are plain stores, then avail.idx is an Atomics.store (a
 *   release on every target; seq_cst in fact); pairs with D1 in the device, which loads avail.idx
 *   (acquire) before it reads a slot or descriptor.
 * - V2: used.idx is an Atomics.load (acquire) before any used element is read; pairs with D2, the
 *   device's Atomics.store of used.idx after it wrote the elements (and the buffers' bytes).
 * - V3: whether to notify reads used.flags after the avail.idx store; both are seq_cst, so the load
 *   cannot pass the store (the spec's full barrier before reading the suppression flag); pairs with D3.
 */
import { DESC_F_NEXT, S, USED_F_NO_NOTIFY, vqLayout } from './layout.js';
import type { VqLayout } from './layout.js';

const TWO32 = 2 ** 32;
/** The handle a control-queue chain carries (no mbuf). */
export const CTRL_HANDLE = 0xffffffff;

export class Virtqueue {
  readonly n: number;
  readonly lay: VqLayout;
  private readonly mask: number;
  private readonly desc: Uint32Array;
  private readonly avail: Uint16Array;
  private readonly used16: Uint16Array;
  private readonly used32: Uint32Array;
  /** Driver state words (S.*). */
  readonly st: Uint32Array;
  /** Descriptor i's mbuf handle (0: free). */
  readonly handles: Uint32Array;
  private readonly free: Uint32Array;

  /**
   * @param buffer the virtqueue memzone's buffer
   * @param base   byte offset of this queue's slot in it
   * @param n      entries (a power of two)
   * @param iova   the device address of the slot's first byte
   */
  constructor(buffer: ArrayBuffer, base: number, n: number, readonly iova: number) {
    this.n = n;
    this.mask = n - 1;
    const l = (this.lay = vqLayout(n));
    this.desc = new Uint32Array(buffer, base + l.desc, 4 * n);
    this.avail = new Uint16Array(buffer, base + l.avail, 3 + n);
    this.used16 = new Uint16Array(buffer, base + l.used, 2);
    this.used32 = new Uint32Array(buffer, base + l.used + 4, 2 * n);
    this.st = new Uint32Array(buffer, base + l.state, S.size_ / 4);
    this.handles = new Uint32Array(buffer, base + l.handles, n);
    this.free = new Uint32Array(buffer, base + l.free, n);
  }

  /** Device addresses of the three parts (queue_desc, queue_driver, queue_device). */
  get descIova(): number {
    return this.iova + this.lay.desc;
  }
  get availIova(): number {
    return this.iova + this.lay.avail;
  }
  get usedIova(): number {
    return this.iova + this.lay.used;
  }

  /** Zero the rings and make every descriptor free (the device is reset, or never saw the queue). */
  init(notifyOff: number): void {
    this.desc.fill(0);
    this.avail.fill(0);
    this.used16.fill(0);
    this.used32.fill(0);
    this.handles.fill(0);
    for (let i = 0; i < this.n; i++) this.free[i] = this.n - 1 - i;
    this.st.fill(0);
    this.st[S.nfree] = this.n;
    this.st[S.notifyOff] = notifyOff;
    Atomics.store(this.st, S.size, this.n);
  }

  get freeCount(): number {
    return this.st[S.nfree]!;
  }

  /**
   * Put one buffer on the avail ring (not yet visible: {@link publish}). The caller checked
   * {@link freeCount}.
   */
  add(handle: number, addr: number, len: number, flags: number): void {
    const st = this.st;
    const nf = st[S.nfree]! - 1;
    st[S.nfree] = nf;
    const id = this.free[nf]!;
    const d = id << 2;
    this.desc[d] = addr >>> 0;
    this.desc[d + 1] = (addr / TWO32) >>> 0;
    this.desc[d + 2] = len;
    this.desc[d + 3] = flags;
    this.handles[id] = handle;
    const a = st[S.avail]!;
    this.avail[2 + (a & this.mask)] = id;
    st[S.avail] = (a + 1) & 0xffff;
  }

  /** Put a chain of buffers (the control queue) on the avail ring; false when too few are free. */
  addChain(parts: ReadonlyArray<{ addr: number; len: number; write: boolean }>, handle: number, writeFlag: number): boolean {
    const st = this.st;
    if (st[S.nfree]! < parts.length) return false;
    const ids: number[] = [];
    for (let k = 0; k < parts.length; k++) ids.push(this.free[st[S.nfree]! - 1 - k]!);
    st[S.nfree] = st[S.nfree]! - parts.length;
    parts.forEach((p, k) => {
      const d = ids[k]! << 2;
      this.desc[d] = p.addr >>> 0;
      this.desc[d + 1] = (p.addr / TWO32) >>> 0;
      this.desc[d + 2] = p.len;
      const last = k === parts.length - 1;
      this.desc[d + 3] = (p.write ? writeFlag : 0) | (last ? 0 : DESC_F_NEXT) | ((last ? 0 : ids[k + 1]!) << 16);
    });
    this.handles[ids[0]!] = handle;
    const a = st[S.avail]!;
    this.avail[2 + (a & this.mask)] = ids[0]!;
    st[S.avail] = (a + 1) & 0xffff;
    return true;
  }

  /** Make what {@link add} put visible to the device. V1. */
  publish(): void {
    Atomics.store(this.avail, 1, this.st[S.avail]!);
  }

  /** Whether the device wants a notification now (it has not suppressed them). V3. */
  needsNotify(): boolean {
    return (Atomics.load(this.used16, 0) & USED_F_NO_NOTIFY) === 0;
  }

  /**
   * Take up to `max` used elements: their handles and lengths into `hs` / `lens`. An element whose id
   * is out of range or names a descriptor not in flight is skipped and counted in S.bad (a device
   * that misbehaves costs a counter, never a crash). V2.
   */
  takeUsed(hs: Uint32Array, lens: Uint32Array, max: number): number {
    const st = this.st;
    const end = Atomics.load(this.used16, 1);
    let last = st[S.used]!;
    let k = 0;
    let bad = 0;
    let guard = this.n; // a used.idx more than N ahead is itself malformed: at most N per call
    while (last !== end && k < max && guard-- > 0) {
      const e = (last & this.mask) << 1;
      const id = this.used32[e]!;
      const len = this.used32[e + 1]!;
      last = (last + 1) & 0xffff;
      if (id >= this.n || this.handles[id] === 0) {
        bad++;
        continue;
      }
      hs[k] = this.handles[id]!;
      lens[k++] = len;
      this.release(id);
    }
    st[S.used] = last;
    if (bad > 0) st[S.bad] = st[S.bad]! + bad;
    return k;
  }

  /** Return descriptor `id` (and the rest of its chain) to the free stack. */
  private release(id: number): void {
    const st = this.st;
    let nf = st[S.nfree]!;
    for (let hops = 0; hops < this.n; hops++) {
      this.handles[id] = 0;
      this.free[nf++] = id;
      const fl = this.desc[(id << 2) + 3]!;
      if ((fl & DESC_F_NEXT) === 0) break;
      id = fl >>> 16;
      if (id >= this.n) break;
    }
    st[S.nfree] = nf;
  }

  /** Every handle still posted (the device is reset: they come back to the caller). */
  drain(out: number[]): void {
    for (let i = 0; i < this.n; i++) {
      const h = this.handles[i]!;
      if (h !== 0 && h !== CTRL_HANDLE) out.push(h);
      this.handles[i] = 0;
    }
  }
}
