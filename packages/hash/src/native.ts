/**
 * The native bulk lookup (native/hash.cc): loaded when present (a prebuild, or a local build), checked
 * against layout.ts, and used by {@link Hash.lookupBulk} for packed keys; the TypeScript path (bulk.ts)
 * stays the fallback and the reference the tests compare it with. `MP_HASH_NATIVE=0` turns it off.
 * Single lookups stay in TypeScript: a native call costs more than the whole JS lookup (see the README).
 */
import { MpError } from '@mp/memory';
import { loadAddon, log } from '@mp/memory/internal';
import { checkBatch } from './bulk.js';
import { BUCKET, BUCKET_ENTRIES, HASH_FUNC_IDS, HDR, KEY_LEN_MAX, SLOT } from './layout.js';
import { MAX_RETRIES } from './read.js';
import { BULK_CHUNK, type TableView } from './view.js';

/** A table handle made by the binding's bind(). */
type Handle = object & { readonly __brand: 'mp_hash table' };

/** What native/hash.cc exports. Arguments are validated in TypeScript first; the binding checks again. */
interface HashBinding {
  bind(buffer: ArrayBufferLike, geo: Uint32Array): Handle;
  lookupBulk(t: Handle, keys: Uint8Array, sigs: Uint32Array | null, positions: Int32Array, data: Float64Array | null): number;
  hashBulk(t: Handle, keys: Uint8Array, out: Uint32Array): void;
  readonly layout: Readonly<Record<string, number>>;
}

/** Compare the binding's constants with layout.ts; any difference is fatal. */
function checkLayout(l: Readonly<Record<string, number>>): void {
  const want: Record<string, number> = {
    tblChngCnt: HDR.tblChngCnt,
    bucketSize: BUCKET.size,
    bucketEntries: BUCKET_ENTRIES,
    sigOff: BUCKET.sigU16 * 2,
    keyIdxOff: BUCKET.keyIdxW * 4,
    nextOff: BUCKET.nextW * 4,
    slotDataOff: SLOT.dataW * 4,
    slotKeyOff: SLOT.keyW * 4,
    fnCrc32c: HASH_FUNC_IDS.crc32c,
    fnJhash: HASH_FUNC_IDS.jhash,
    keyLenMax: KEY_LEN_MAX,
    chunk: BULK_CHUNK,
    maxRetries: MAX_RETRIES,
  };
  const bad = Object.keys(want).filter((k) => l[k] !== want[k]);
  if (bad.length > 0) {
    throw new MpError('EPROTO', `the @mp/hash addon was built for another layout (${bad.map((k) => `${k}: ${l[k]} ≠ ${want[k]}`).join(', ')}); rebuild it`);
  }
}

let binding: HashBinding | null | undefined;
/** The binding, or null when absent or turned off (the TypeScript paths serve). */
function load(): HashBinding | null {
  if (binding !== undefined) return binding;
  if (process.env.MP_HASH_NATIVE === '0') return (binding = null);
  try {
    const b = loadAddon<HashBinding>(import.meta.url, '@mp/hash', 'mp_hash');
    checkLayout(b.layout);
    binding = b;
  } catch (err) {
    if (!(err instanceof MpError) || err.code !== 'ENOTSUP') throw err;
    log('debug', 'HASH', `native bulk lookup not available, using TypeScript: ${err.message}`);
    binding = null;
  }
  return binding;
}

/** A table's native bulk calls. */
export interface NativeBulk {
  /** lookupBulk / lookupBulkWithHash over packed keys (validated here, as the TypeScript path does). */
  lookup(keys: Uint8Array, sigs: Uint32Array | undefined, positions: Int32Array, data: Float64Array | undefined): number;
  /** The table's hash of each packed key into out[i]. */
  hash(keys: Uint8Array, out: Uint32Array): void;
}

/** The native bulk calls over table t, or undefined without the addon. */
export function nativeBulk(t: TableView): NativeBulk | undefined {
  const b = load();
  if (b === null) return undefined;
  const handle = b.bind(
    t.buf,
    Uint32Array.of(t.keyLen, t.fnId, t.initVal, t.numBuckets, t.numExt, t.keySlots, t.slotWords * 4, t.bw * 4, t.kw0 * 4),
  );
  return {
    lookup(keys, sigs, positions, data) {
      checkBatch(t, keys, sigs, positions, data);
      return b.lookupBulk(handle, keys, sigs ?? null, positions, data ?? null);
    },
    hash(keys, out) {
      b.hashBulk(handle, keys, out);
    },
  };
}
