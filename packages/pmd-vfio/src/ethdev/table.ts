/**
 * The group's port table (memzone `mp_ethdev`, layout in ./layout.ts): made by the first process that
 * needs it, found by every other, locked with a RobustLock for every change of a port's state.
 */
import { MpError, memzone } from '@mp/memory';
import { groupMemory } from '@mp/memory/internal';
import { pmdState } from '../state.js';
import type { Memzone, RobustLock } from '@mp/memory';
import { ETH_MAGIC, ETH_MZ_NAME, ETH_MZ_SIZE, ETH_VERSION, HDR, HDR_W, MAX_PORTS, PORT, PS_FREE, portOff } from './layout.js';

const FORMAT_WAIT_MS = 5_000;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** One process's view of the port table. */
export class PortTable {
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  readonly mz: Memzone;
  private readonly lock: RobustLock;

  private constructor(mz: Memzone) {
    this.mz = mz;
    this.u32 = new Uint32Array(mz.buffer);
    this.f64 = new Float64Array(mz.buffer);
    this.u8 = new Uint8Array(mz.buffer);
    this.lock = memzone.robustLock(mz, HDR_W.lockOwner);
  }

  /**
   * The attached group's table; `create` makes it when missing.
   *
   * @throws {MpError} ENOTCONN — no group; ENOENT — no table and not `create`; EPROTO — another layout
   */
  static get(create: boolean): PortTable {
    const g = groupMemory();
    const have = tables.get(g);
    if (have !== undefined) return have;
    let mz = memzone.find(ETH_MZ_NAME);
    if (mz === undefined) {
      if (!create) throw new MpError('ENOENT', 'no ethdev port exists in this group (probe one first)');
      try {
        mz = memzone.reserve(ETH_MZ_NAME, ETH_MZ_SIZE, { align: 64 });
        new Uint16Array(mz.buffer)[HDR.version / 2] = ETH_VERSION;
        // SYNC: magic last; pairs with the wait below in a concurrent first user.
        Atomics.store(new Uint32Array(mz.buffer), HDR_W.magic, ETH_MAGIC);
      } catch (err) {
        if ((err as MpError).code !== 'EEXIST') throw err;
        mz = memzone.find(ETH_MZ_NAME);
        if (mz === undefined) throw new MpError('ENOENT', 'the ethdev port table vanished while being made', { cause: err });
      }
    }
    const u32 = new Uint32Array(mz.buffer);
    const deadline = Date.now() + FORMAT_WAIT_MS;
    while (Atomics.load(u32, HDR_W.magic) !== ETH_MAGIC) {
      if (Date.now() > deadline) throw new MpError('EPROTO', `memzone ${ETH_MZ_NAME} holds no port table (its maker died formatting it?)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
    const v = new Uint16Array(mz.buffer)[HDR.version / 2];
    if (v !== ETH_VERSION) throw new MpError('EPROTO', `port table layout version ${v}; this @mp/pmd-vfio speaks version ${ETH_VERSION}`);
    const t = new PortTable(mz);
    tables.set(g, t);
    return t;
  }

  withLock<T>(fn: () => T): T {
    return this.lock.withLock(() => {
      const r = fn();
      Atomics.add(this.u32, HDR_W.generation, 1);
      return r;
    });
  }

  /** Word index of field `off` of port i. */
  w(i: number, off: number): number {
    return (portOff(i) + off) >>> 2;
  }

  state(i: number): number {
    return Atomics.load(this.u32, this.w(i, PORT.state));
  }

  /** Port id of `name`, or -1. */
  find(name: string): number {
    for (let i = 0; i < MAX_PORTS; i++) if (this.state(i) !== PS_FREE && this.str(i, PORT.name, PORT.nameSize) === name) return i;
    return -1;
  }

  /** A free entry, or -1. Under the lock. */
  freeEntry(): number {
    for (let i = 0; i < MAX_PORTS; i++) if (this.state(i) === PS_FREE) return i;
    return -1;
  }

  str(i: number, off: number, size: number): string {
    const at = portOff(i) + off;
    let end = at;
    while (end < at + size && this.u8[end] !== 0) end++;
    return dec.decode(this.u8.subarray(at, end));
  }

  setStr(i: number, off: number, size: number, s: string): void {
    const b = enc.encode(s);
    if (b.length >= size) throw new MpError('ENAMETOOLONG', `'${s}' is longer than ${size - 1} bytes`);
    const at = portOff(i) + off;
    this.u8.fill(0, at, at + size);
    this.u8.set(b, at);
  }
}

const tables = pmdState.tables;
