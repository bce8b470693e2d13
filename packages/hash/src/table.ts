/**
 * class Hash: a table's lifecycle (create, attach by name, free) and its public API. The work is done by
 * the functions of read.ts (lock-free lookups), bulk.ts (bulk lookups), write.ts (add, delete, cuckoo
 * moves), writer.ts (the writer lock or mark) and repair.ts over this process's {@link TableView}; codegen.ts specialises the hot paths per
 * table; native.ts offers the native bulk lookup when its addon is loaded.
 */
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { MpError, memzone, openOwnedFile, validateName } from '@mp/memory';
import { groupMemory } from '@mp/memory/internal';
import { processSlot, sleepSync } from '@mp/memory/internal';
import type { Memzone } from '@mp/memory';
import type { GroupMemory } from '@mp/memory/internal';
import { lookupBulk, type BulkPasses } from './bulk.js';
import { compileHash, compileHashPass, compilePrimaryPass, compileProbe, type Probe } from './codegen.js';
import { loadWords } from './hashfn.js';
import { HASH_FUNC_IDS, HASH_MAGIC, HASH_VERSION, HDR_H, HDR_W, F_EXT, F_LF, F_MULTI_WRITER, TABLE_ALIGN, TABLE_BYTES_MAX, geometry } from './layout.js';
import { nativeBulk, type NativeBulk } from './native.js';
import { HASH_MZ_PREFIX, HASH_NAME_MAX, validateOptions, type HashEntry, type HashFunc, type HashOptions, type KeyBatch } from './options.js';
import { TWO32, copyKey, dataOf, entries, find, findKey, isLinked } from './read.js';
import { audit } from './repair.js';
import { TableView } from './view.js';
import { delLocked, rebuildFree, resetLocked } from './write.js';
import { TableWriter } from './writer.js';

export { HashWriterBusyError } from './writer.js';

const HASH_PKG_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** How long an attach waits for a creator in another process to finish formatting the table. */
const ATTACH_WAIT_MS = 2000;
/** Poll interval of that wait. */
const ATTACH_POLL_MS = 1;

/** Process-wide state (one for the ESM and CJS copies, processSlot): the attached tables per group. */
interface HashState {
  attached: WeakMap<GroupMemory, Map<string, Hash>>;
}
const state = processSlot<HashState>('@mp/hash', `@mp/hash@${HASH_PKG_VERSION}`, 1, () => ({ attached: new WeakMap() }));

function cacheOf(): Map<string, Hash> {
  const g = groupMemory();
  let m = state.attached.get(g);
  if (m === undefined) state.attached.set(g, (m = new Map()));
  return m;
}

/**
 * A cuckoo hash table in a memzone (rte_hash): fixed-length keys, 8-entry buckets with 16-bit signatures,
 * a key store with 64-bit data per key, optional extendable buckets. Created by any process of a group,
 * attached by name in the others ({@link Hash.findExisting}); lookups are lock-free.
 */
export class Hash {
  /** Key length in bytes. */
  readonly keyLen: number;
  /** Capacity in keys. */
  readonly entries: number;
  readonly hashFunc: HashFunc;
  readonly initVal: number;
  readonly extendable: boolean;
  readonly multiWriter: boolean;
  readonly numBuckets: number;

  private readonly t: TableView;
  private readonly passes: BulkPasses;
  /** The native bulk lookup over this table, when the addon is loaded (native.ts). */
  private readonly native: NativeBulk | undefined;
  /** The fast path of lookupWithHash (codegen.ts), or the generic search. */
  private readonly probe: Probe;
  /** Validate a key, leave its words in t.kw, return its hash: add's and delete's first step (codegen.ts). */
  private readonly loadHash: (key: Uint8Array) => number;
  /** The writer side: lock or writer mark, the freed-table check (writer.ts). */
  private readonly w: TableWriter;
  private fd: number;

  private constructor(
    readonly name: string,
    private readonly mz: Memzone,
  ) {
    const t = (this.t = new TableView(name, mz.buffer));
    this.keyLen = t.keyLen;
    this.entries = t.entries;
    this.hashFunc = t.fnId === HASH_FUNC_IDS.crc32c ? 'crc32c' : 'jhash';
    this.initVal = t.initVal;
    this.extendable = t.extendable;
    this.multiWriter = t.multiWriter;
    this.numBuckets = t.numBuckets;
    this.probe = compileProbe(t, false, findKey) ?? ((key, h) => findKey(t, key, h));
    // The compiled probes are whole lookups (fast path, then the full protocol): installed as this
    // instance's lookupWithHash and lookup, a caller's loop makes one call per lookup.
    (this as { lookupWithHash: Probe }).lookupWithHash = this.probe;
    const hashing = compileProbe(t, true, findKey);
    if (hashing !== undefined) (this as { lookup: (key: Uint8Array) => number }).lookup = hashing as (key: Uint8Array) => number;
    const hash = compileHash(t);
    if (hash !== undefined) (this as { hash: (key: Uint8Array) => number }).hash = hash;
    this.loadHash =
      compileHash(t, true) ??
      ((key) => {
        t.loadKey(key, t.kw, 0);
        return t.hashWords(t.kw, 0);
      });
    this.passes = { primary: compilePrimaryPass(t), hash: compileHashPass(t) };
    this.native = nativeBulk(t);
    const path = memzone.describe(mz).path;
    // Safe file rules (@mp/memory): never through a link, only a file of this uid.
    this.fd = openOwnedFile(path).fd;
    this.w = new TableWriter(t, this.fd);
  }

  // ---- create / attach / free ------------------------------------------------------------------------

  /**
   * Create a table in the group's shared memory, visible by name to every process of the group.
   *
   * @throws {MpError} EINVAL — entries < 8 or > 2^30, keyLen not in 1…1024, unknown hash function, bad
   *   initVal, flags or readWriteConcurrency; ENOTSUP — HASH_EXTRA_FLAGS_NO_FREE_ON_DEL (keys are freed on
   *   delete here: readers validate slots instead)
   * @throws {MpError} EINVAL / ENAMETOOLONG — bad name (at most {@link HASH_NAME_MAX} bytes)
   * @throws {MpError} EEXIST — a table (memzone `HT_<name>`) of that name exists
   * @throws {MpError} ENOMEM — no room in the group's memory; ENOSPC — the memzone table is full
   * @throws {MpError} ENOTCONN — no group attached (call init() from @mp/eal)
   * @see rte_hash_create
   */
  static create(name: string, opts: HashOptions): Hash {
    validateName('hash', name, HASH_NAME_MAX);
    const o = validateOptions(opts);
    const g = geometry(o.entries, o.keyLen, o.extendable);
    if (g.totalSize > TABLE_BYTES_MAX) {
      throw new MpError('EINVAL', `a table of ${o.entries} keys of ${o.keyLen} bytes needs ${g.totalSize} bytes (at most 4 GiB)`);
    }
    const mz = memzone.reserve(HASH_MZ_PREFIX + name, g.totalSize, { align: TABLE_ALIGN, socket: o.socket });
    const u32 = new Uint32Array(mz.buffer);
    const u16 = new Uint16Array(mz.buffer);
    new Uint8Array(mz.buffer).fill(0);
    u16[HDR_H.version] = HASH_VERSION;
    u16[HDR_H.flags] = (o.extendable ? F_EXT : 0) | (o.multiWriter ? F_MULTI_WRITER : 0) | F_LF;
    u32[HDR_W.hashFunc] = HASH_FUNC_IDS[o.hashFunc];
    u32[HDR_W.initVal] = o.initVal >>> 0;
    u32[HDR_W.keyLen] = o.keyLen;
    u32[HDR_W.entries] = o.entries;
    u32[HDR_W.numBuckets] = g.numBuckets;
    u32[HDR_W.numExt] = g.numExt;
    u32[HDR_W.keySlots] = g.keySlots;
    u32[HDR_W.slotSize] = g.slotSize;
    u32[HDR_W.bucketsOff] = g.bucketsOff;
    u32[HDR_W.keyStoreOff] = g.keyStoreOff;
    u32[HDR_W.freeKeysOff] = g.freeKeysOff;
    u32[HDR_W.freeExtOff] = g.freeExtOff;
    u32[HDR_W.totalSize] = g.totalSize;
    // A new table in a freed table's place has another instance id: the old table's handles elsewhere
    // refuse to write into it (enter()).
    u32[HDR_W.instance] = 1 + Math.floor(Math.random() * 0xfffffffe);
    const h = new Hash(name, mz);
    rebuildFree(h.t, null);
    // SYNC: the magic goes last: an attach in another process waits for it (findExisting).
    Atomics.store(u32, HDR_W.magic, HASH_MAGIC);
    cacheOf().set(name, h);
    return h;
  }

  /**
   * Attach to the table `name` created by any process of the group. Returns this process's one instance
   * of the table (the same object on every call).
   *
   * @throws {MpError} ENOENT — no table of that name
   * @throws {MpError} EPROTO — the memzone is not a hash table, or was written by another layout version
   * @throws {MpError} EINVAL / ENAMETOOLONG — bad name; ENOTCONN — no group attached
   * @see rte_hash_find_existing
   */
  static findExisting(name: string): Hash {
    const h = Hash.find(name);
    if (h === undefined) throw new MpError('ENOENT', `no hash table named '${name}'`);
    return h;
  }

  /**
   * {@link findExisting}, but undefined when no table of that name exists (as `memzone.find`).
   *
   * @throws {MpError} EPROTO / EINVAL / ENAMETOOLONG / ENOTCONN — as findExisting
   */
  static find(name: string): Hash | undefined {
    validateName('hash', name, HASH_NAME_MAX);
    const cache = cacheOf();
    const mz = memzone.find(HASH_MZ_PREFIX + name);
    if (mz === undefined) return undefined;
    const known = cache.get(name);
    if (known !== undefined && known.mz.offset === mz.offset && known.mz.segment === mz.segment && known.w.live) return known;
    const u32 = new Uint32Array(mz.buffer);
    // A creator in another process may still be formatting the table: wait for its magic (bounded).
    const deadline = Date.now() + ATTACH_WAIT_MS;
    let magic = Atomics.load(u32, HDR_W.magic);
    while (magic === 0 && Date.now() < deadline) {
      sleepSync(ATTACH_POLL_MS);
      magic = Atomics.load(u32, HDR_W.magic);
    }
    if (magic !== HASH_MAGIC) {
      throw new MpError('EPROTO', `memzone '${mz.name}' is not a hash table (magic 0x${magic.toString(16)}, expected 0x${HASH_MAGIC.toString(16)})`);
    }
    const version = new Uint16Array(mz.buffer)[HDR_H.version];
    if (version !== HASH_VERSION) {
      throw new MpError('EPROTO', `hash table '${name}' has layout version ${version}, this @mp/hash speaks version ${HASH_VERSION}`);
    }
    known?.closeFd();
    const h = new Hash(name, mz);
    cache.set(name, h);
    return h;
  }

  /**
   * @deprecated since 0.2: use {@link Hash.findExisting} (rte_hash_find_existing); this alias goes in the
   * next release. (`hash.lookup(key)` on an instance is the key lookup and stays.)
   * @throws {MpError} as findExisting
   */
  static lookup(name: string): Hash {
    return Hash.findExisting(name);
  }

  /**
   * Free the table and its memzone. Every call on this handle afterwards throws `EBADF` without touching
   * the memory (it may already hold the next memzone). In other processes, writers check the header
   * before they write anything and get `EBADF`; lookups there read whatever the memory holds next (they
   * never write): every process must have stopped using the table, as with rte_hash_free.
   *
   * @throws {MpError} EBADF — already freed (here or by another process); ETIMEDOUT — a live writer kept
   *   the lock too long
   * @see rte_hash_free
   */
  free(): void {
    this.w.run(() => {
      Atomics.store(this.t.u32, HDR_W.magic, 0);
      Atomics.store(this.t.u32, HDR_W.instance, 0);
    });
    const cache = cacheOf();
    if (cache.get(this.name) === this) cache.delete(this.name);
    this.poison(`hash '${this.name}' was freed by this process; the handle cannot be used any more`);
    memzone.free(HASH_MZ_PREFIX + this.name);
    this.closeFd();
  }

  /**
   * Make every method of this handle throw EBADF, including the per-table compiled lookups installed on
   * the instance: own properties shadow them, so live tables' lookups carry no check for it.
   */
  private poison(why: string): void {
    const stub = (): never => {
      throw new MpError('EBADF', why);
    };
    const names = new Set([...Object.getOwnPropertyNames(Hash.prototype), 'lookup', 'lookupWithHash', 'hash']);
    names.delete('constructor');
    names.delete('closeFd');
    for (const k of names) {
      const d = Object.getOwnPropertyDescriptor(Hash.prototype, k);
      if (d !== undefined && typeof d.value !== 'function') continue;
      Object.defineProperty(this, k, { value: stub, configurable: true, writable: true, enumerable: false });
    }
  }

  private closeFd(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  // ---- hashing and lookups (lock-free) ------------------------------------------------------------------

  /**
   * The table's hash of `key` (its function and initVal, from the shared header): the `sig` the
   * `*WithHash` calls take.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_hash
   */
  hash(key: Uint8Array): number {
    this.t.loadKey(key, this.t.kw, 0);
    return this.t.hashWords(this.t.kw, 0);
  }

  /**
   * Find `key`. Returns its position (0 … entries, as rte_hash), or -1 when absent. Lock-free.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_lookup
   */
  lookup(key: Uint8Array): number {
    const t = this.t;
    t.loadKey(key, t.kw, 0);
    return find(t, t.hashWords(t.kw, 0), t.kw, 0);
  }

  /**
   * {@link lookup} with the key's hash computed beforehand ({@link hash}, or the same function elsewhere).
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_lookup_with_hash
   */
  lookupWithHash(key: Uint8Array, sig: number): number {
    return this.probe(key, sig >>> 0);
  }

  /**
   * The data stored with `key`, or undefined when absent. Lock-free.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_lookup_data
   */
  lookupData(key: Uint8Array): number | undefined {
    return this.lookup(key) < 0 ? undefined : this.t.dLo + this.t.dHi * TWO32;
  }

  /**
   * {@link lookupData} with a precomputed hash.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_lookup_with_hash_data
   */
  lookupDataWithHash(key: Uint8Array, sig: number): number | undefined {
    return this.probe(key, sig >>> 0) < 0 ? undefined : this.t.dLo + this.t.dHi * TWO32;
  }

  /**
   * Where and what: `{ position, data }` of `key`, read together, or undefined when absent.
   *
   * @throws {MpError} EINVAL — key is not a Uint8Array of keyLen bytes
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_lookup_data
   */
  get(key: Uint8Array): HashEntry | undefined {
    const pos = this.lookup(key);
    return pos < 0 ? undefined : { position: pos, data: this.t.dLo + this.t.dHi * TWO32 };
  }

  /**
   * Look up a batch of keys: `positions[i]` gets key i's position or -1, `data[i]` (when given) its data
   * or -1. Returns the number of hits. Lock-free; one change-counter check per chunk of keys. Uses the
   * native addon when it is loaded (same results; see the README).
   *
   * @throws {MpError} EINVAL — a key of the wrong length, a packed batch not a multiple of keyLen, or
   *   output arrays shorter than the batch
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_lookup_bulk
   * @see rte_hash_lookup_bulk_data
   */
  lookupBulk(keys: KeyBatch, positions: Int32Array, data?: Float64Array): number {
    if (this.native !== undefined && keys instanceof Uint8Array) return this.native.lookup(keys, undefined, positions, data);
    return lookupBulk(this.t, this.passes, keys, undefined, positions, data);
  }

  /**
   * {@link lookupBulk} with precomputed hashes (`sigs[i]` for key i).
   *
   * @throws {MpError} EINVAL — as lookupBulk, or fewer sigs than keys
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_lookup_with_hash_bulk
   * @see rte_hash_lookup_with_hash_bulk_data
   */
  lookupBulkWithHash(keys: KeyBatch, sigs: Uint32Array | readonly number[], positions: Int32Array, data?: Float64Array): number {
    if (this.native !== undefined && keys instanceof Uint8Array && sigs instanceof Uint32Array) return this.native.lookup(keys, sigs, positions, data);
    return lookupBulk(this.t, this.passes, keys, sigs, positions, data);
  }

  /**
   * The bulk lookup in TypeScript, whatever {@link lookupBulk} would use: the reference the native path
   * is tested against. Same arguments, results and errors as lookupBulk / lookupBulkWithHash.
   * @internal
   */
  lookupBulkTs(keys: KeyBatch, sigs: Uint32Array | readonly number[] | undefined, positions: Int32Array, data?: Float64Array): number {
    return lookupBulk(this.t, this.passes, keys, sigs, positions, data);
  }

  /** Is the native bulk lookup in use for this table? */
  get nativeBulk(): boolean {
    return this.native !== undefined;
  }

  /**
   * The table's hash of each key of a batch into `out[i]` ({@link hash} for many keys; native when the
   * addon is loaded).
   *
   * @throws {MpError} EINVAL — a key of the wrong length, a packed batch not a multiple of keyLen, or
   *   `out` not a Uint32Array as long as the batch
   * @throws {MpError} EBADF — the table was freed (through this handle)
   * @see rte_hash_hash
   */
  hashBulk(keys: KeyBatch, out: Uint32Array): void {
    const t = this.t;
    const n = keys instanceof Uint8Array ? keys.length / t.keyLen : keys.length;
    if (!Number.isInteger(n)) throw new MpError('EINVAL', `packed key batch of ${keys.length} bytes is not a multiple of keyLen ${t.keyLen}`);
    if (!(out instanceof Uint32Array) || out.length < n) throw new MpError('EINVAL', `out must be a Uint32Array of at least ${n} elements`);
    if (this.native !== undefined && keys instanceof Uint8Array) return this.native.hash(keys, out);
    for (let i = 0; i < n; i++) {
      if (keys instanceof Uint8Array) loadWords(keys, i * t.keyLen, t.keyLen, t.kw, 0);
      else t.loadKey((keys as readonly Uint8Array[])[i]!, t.kw, 0);
      out[i] = t.hashWords(t.kw, 0);
    }
  }

  /**
   * The data of the key at `position` (from lookup/add), or undefined when that position holds no key.
   * Racy by nature when another process deletes the key meanwhile; prefer {@link get}.
   *
   * @throws {MpError} EINVAL — position out of range
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_get_key_with_position
   */
  dataAt(position: number): number | undefined {
    return dataOf(this.t, this.checkPosition(position));
  }

  /**
   * A copy of the key at `position`, or undefined when that position holds no key.
   *
   * @throws {MpError} EINVAL — position out of range
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_get_key_with_position
   */
  keyAt(position: number): Uint8Array | undefined {
    const k = this.checkPosition(position);
    return isLinked(this.t, k) ? copyKey(this.t, k) : undefined;
  }

  private checkPosition(position: number): number {
    if (!Number.isInteger(position) || position < 0 || position >= this.t.keySlots - 1) {
      throw new MpError('EINVAL', `position ${position} is outside 0…${this.t.keySlots - 2}`);
    }
    return position + 1;
  }

  /**
   * Number of keys in the table. @see rte_hash_count
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  count(): number {
    return Atomics.load(this.t.u32, HDR_W.count);
  }

  /**
   * Every key with its position and data (main buckets, then extendable buckets). Keys moved or added by
   * a concurrent writer may be missed or seen twice, as with rte_hash_iterate.
   *
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   * @see rte_hash_iterate
   */
  iterate(): IterableIterator<HashEntry & { key: Uint8Array }> {
    return entries(this.t);
  }

  // ---- writers ------------------------------------------------------------------------------------------

  /**
   * Add `key` with `data` (default 0), or update the data of a key already present (its position stays).
   * Returns the key's position. Multi-writer tables take the group-wide writer lock per call; wrap many
   * calls in {@link writeBatch} to take it once.
   *
   * @throws {MpError} EINVAL — key not a Uint8Array of keyLen bytes, data not a safe integer ≥ 0
   * @throws {MpError} ENOSPC — the table is full (or, without extendable buckets, no cuckoo path was found)
   * @throws {MpError} EBADF — the table was freed; EBUSY ({@link HashWriterBusyError}) — single-writer
   *   table, another live process is writing; ETIMEDOUT — multi-writer lock held by a live process too long
   * @see rte_hash_add_key_data
   */
  add(key: Uint8Array, data = 0): number {
    return this.w.add(this.loadHash(key), data);
  }

  /**
   * {@link add} with a precomputed hash. `sig` must be the table's hash of the key ({@link hash}), or the
   * key will not be found by plain lookups.
   *
   * @throws {MpError} EINVAL / ENOSPC / EBADF / EBUSY / ETIMEDOUT — as add
   * @see rte_hash_add_key_with_hash_data
   */
  addWithHash(key: Uint8Array, sig: number, data = 0): number {
    this.t.loadKey(key, this.t.kw, 0);
    return this.w.add(sig >>> 0, data);
  }

  /**
   * Delete `key`; returns the position it had.
   *
   * @throws {MpError} ENOENT — the key is not in the table
   * @throws {MpError} EINVAL / EBADF / EBUSY / ETIMEDOUT — as add
   * @see rte_hash_del_key
   */
  delete(key: Uint8Array): number {
    const h = this.loadHash(key);
    return this.w.run(() => delLocked(this.t, h));
  }

  /**
   * {@link delete} with a precomputed hash.
   *
   * @throws {MpError} ENOENT / EINVAL / EBADF / EBUSY / ETIMEDOUT — as delete
   * @see rte_hash_del_key_with_hash
   */
  deleteWithHash(key: Uint8Array, sig: number): number {
    this.t.loadKey(key, this.t.kw, 0);
    return this.w.run(() => delLocked(this.t, sig >>> 0));
  }

  /**
   * Remove every key. Readers running meanwhile may miss keys (as rte_hash_reset).
   *
   * @throws {MpError} EBADF / EBUSY / ETIMEDOUT — as add
   * @see rte_hash_reset
   */
  reset(): void {
    this.w.run(() => resetLocked(this.t));
  }

  /**
   * Run `fn` as one writer critical section: multi-writer tables take the lock once for all the writes
   * `fn` makes (much faster than a lock per add); single-writer tables mark the writer once.
   *
   * @throws {MpError} EBADF / EBUSY / ETIMEDOUT — as add; and whatever `fn` throws
   */
  writeBatch<T>(fn: () => T): T {
    return this.w.run(fn);
  }

  /**
   * Check the table's invariants (every entry in one of its key's two buckets or their chain, no key
   * index twice, free stack + entries = all slots, count right). Returns the problems found (empty: sound).
   * Diagnostic: run it while no writer is active.
   * @throws {MpError} EBADF — the table was freed (through this handle; writes also when freed elsewhere)
   */
  audit(): string[] {
    return audit(this.t);
  }
}
