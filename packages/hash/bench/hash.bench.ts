/**
 * @mp/hash benchmark (`pnpm --filter @mp/hash bench`): 1M 16-byte keys in a table of 1.25M entries
 * (crc32c, seed 0). Measures add, lookup, lookupWithHash, lookupBulk(32) in one process, lookups from a
 * second process while the first writes, and in the same run: lmdb get on the same keys, a JS Map, and
 * DPDK's rte_hash (a C program compiled against libdpdk, when installed). Prints ratios to
 * ../shared/bench/ANCHORS.md. Never asserts time.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildDpdkC, median, mops, startBench } from '@mp/bench-utils';
import { init, eal, memzone } from '@mp/eal';
import { hugepageInfo } from '@mp/memory';
import { Hash } from '../src/index.js';
import { geometry } from '../src/layout.js';

const N = Number(process.env.HASH_BENCH_KEYS ?? 1_000_000);
const ENTRIES = Math.ceil(N * 1.25);
const KEY_LEN = 16;
const ROUNDS = 5;
const SELF = fileURLToPath(import.meta.url);

/** The same pseudo-random keys in every process: xorshift32 bytes. */
function makeKeys(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n * KEY_LEN);
  let x = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
const views = (packed: Uint8Array): Uint8Array[] =>
  Array.from({ length: packed.length / KEY_LEN }, (_, i) => packed.subarray(i * KEY_LEN, (i + 1) * KEY_LEN));

/** Mops/s of `ops` operations done by `fn`, median of `rounds` consecutive runs. */
const rate = (ops: number, fn: () => number, rounds = ROUNDS): number => median(Array.from({ length: rounds }, () => mops(ops, fn)));

function lookups(h: Hash, ks: Uint8Array[], packed: Uint8Array, sigs: Uint32Array) {
  const pos = new Int32Array(32);
  const n = ks.length - (ks.length % 32);
  return {
    lookup: rate(ks.length, () => {
      let s = 0;
      for (let i = 0; i < ks.length; i++) s += h.lookup(ks[i]!);
      return s;
    }),
    lookupWithHash: rate(ks.length, () => {
      let s = 0;
      for (let i = 0; i < ks.length; i++) s += h.lookupWithHash(ks[i]!, sigs[i]!);
      return s;
    }),
    lookupBulk: rate(n, () => {
      let s = 0;
      for (let i = 0; i < n; i += 32) s += h.lookupBulk(packed.subarray(i * KEY_LEN, (i + 32) * KEY_LEN), pos);
      return s;
    }),
    lookupBulkTs: rate(n, () => {
      let s = 0;
      for (let i = 0; i < n; i += 32) s += h.lookupBulkTs(packed.subarray(i * KEY_LEN, (i + 32) * KEY_LEN), undefined, pos);
      return s;
    }),
    lookupBulkWithHash: rate(n, () => {
      let s = 0;
      for (let i = 0; i < n; i += 32) s += h.lookupBulkWithHash(packed.subarray(i * KEY_LEN, (i + 32) * KEY_LEN), sigs.subarray(i, i + 32), pos);
      return s;
    }),
  };
}

// ---- the second process: lookups while the primary writes ----------------------------------------------
if (process.argv[2] === 'reader') {
  const [prefix, mem] = [process.argv[3]!, JSON.parse(process.argv[4]!) as string[]];
  init([`--file-prefix=${prefix}`, '--proc-type=secondary', ...mem]);
  const h = Hash.findExisting('bench');
  const packed = makeKeys(N, 12345);
  const ks = views(packed);
  const sigs = Uint32Array.from(ks, (k) => h.hash(k));
  const ctl = new Int32Array(memzone.find('ctl')!.buffer);
  lookups(h, ks.slice(0, 100_000), packed.subarray(0, 100_000 * KEY_LEN), sigs.subarray(0, 100_000)); // warm up
  process.stdout.write('ready\n');
  while (Atomics.load(ctl, 1) === 0); // the writer has started
  const r = lookups(h, ks, packed, sigs);
  Atomics.store(ctl, 0, 1);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  eal().cleanup();
  process.exit(0);
}

// ---- the primary -------------------------------------------------------------------------------------------
const MW = Math.min(N, 200_000);
const needBytes = geometry(ENTRIES, KEY_LEN, false).totalSize + geometry(Math.ceil(MW * 1.25), KEY_LEN, false).totalSize + (8 << 20);
const huge = (() => {
  const info = hugepageInfo();
  return info.mounts.find((m) => info.sizes.some((s) => s.pageSize === m.pageSize && s.free * s.pageSize >= needBytes));
})();
const mem = huge ? [`--huge-dir=${huge.path}`, '-m', String(Math.ceil(needBytes / 2 ** 20))] : ['--no-huge', '-m', '1024'];
const packed = makeKeys(N, 12345);
// DPDK's rte_hash on the same keys, first, while hugepages are free (it exits before @mp takes them).
let dpdk: CResult | undefined;
let dpdkWhy = '';
let dpdkMode = '';
const hugeFree = hugepageInfo().sizes.reduce((a, x) => a + x.free * x.pageSize, 0);
const cDir = mkdtempSync(join(tmpdir(), 'mp-hash-dpdk-'));
try {
  const built = buildDpdkC(join(import.meta.dirname, 'dpdk/hash_lookup.c'), cDir);
  if (built.bin === undefined) throw new Error(built.skipped);
  const exe = built.bin;
  const keyFile = join(cDir, 'keys.bin');
  writeFileSync(keyFile, packed);
  const app = ['--no-pci', `--file-prefix=hbc${process.pid}`, '-l', '0', '--log-level=error', '--', keyFile, String(KEY_LEN), String(ENTRIES), '0', String(ROUNDS)];
  // Hugepages when free ones exist (--in-memory: memfd-backed, no files left behind), else 4 KiB pages.
  for (const pages of hugeFree >= 64 << 20 ? [['--in-memory'], ['--no-huge', '-m', '1024']] : [['--no-huge', '-m', '1024']]) {
    try {
      const out = execFileSync(exe, [...pages, ...app], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      dpdk = JSON.parse(out.trim().split('\n').find((l) => l.startsWith('{'))!) as CResult;
      dpdkMode = pages[0] === '--in-memory' ? 'hugepages (--in-memory)' : '4 KiB pages (--no-huge)';
      break;
    } catch (err) {
      dpdkWhy = (err as Error).message.split('\n')[0]!;
    }
  }
} catch (err) {
  dpdkWhy = (err as Error).message.split('\n')[0]!;
} finally {
  rmSync(cDir, { recursive: true, force: true });
  // DPDK leaves its runtime dir (config, fbarrays) behind even after a clean exit.
  rmSync(join('/var/run/dpdk', `hbc${process.pid}`), { recursive: true, force: true });
}

const prefix = `hbench${process.pid}`;
init([`--file-prefix=${prefix}`, '--proc-type=primary', ...mem]);
const bench = startBench({
  package: '@mp/hash',
  what: 'add and lookups in one process and from a second one, beside DPDK rte_hash, lmdb and a JS Map',
  memory: huge ? `hugetlbfs ${huge.path} (${huge.pageSize >> 20} MiB pages)` : '/dev/shm, 4 KiB pages (no hugetlbfs mount with enough free pages)',
  pinning: 'none',
  params: `${N} keys of ${KEY_LEN} bytes, table of ${ENTRIES} entries (crc32c), medians of ${ROUNDS} consecutive runs per op`,
});

const ks = views(packed);
const h = Hash.create('bench', { entries: ENTRIES, keyLen: KEY_LEN, hashFunc: 'crc32c', initVal: 0 });
let t = process.hrtime.bigint();
for (let i = 0; i < N; i++) h.add(ks[i]!, i);
const addRate = N / (Number(process.hrtime.bigint() - t) / 1e3);
const sigs = Uint32Array.from(ks, (k) => h.hash(k));
const single = lookups(h, ks, packed, sigs);

// Multi-writer table: the lock per add, and one lock per writeBatch.
const mw = Hash.create('mw', { entries: Math.ceil(MW * 1.25), keyLen: KEY_LEN, hashFunc: 'crc32c', multiWriter: true });
t = process.hrtime.bigint();
for (let i = 0; i < MW; i++) mw.add(ks[i]!, i);
const addLocked = MW / (Number(process.hrtime.bigint() - t) / 1e3);
mw.reset();
t = process.hrtime.bigint();
mw.writeBatch(() => {
  for (let i = 0; i < MW; i++) mw.add(ks[i]!, i);
});
const addBatch = MW / (Number(process.hrtime.bigint() - t) / 1e3);
mw.free();

// Cross-process: a secondary looks up while this process adds and deletes other keys.
const ctl = new Int32Array(memzone.reserve('ctl', 64).buffer);
const child = spawn(process.execPath, ['--import', 'tsx', SELF, 'reader', prefix, JSON.stringify(huge ? [] : ['--no-huge'])], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const lines = createInterface({ input: child.stdout! });
const it = lines[Symbol.asyncIterator]();
const first = await it.next();
if (first.value !== 'ready') throw new Error(`reader said ${String(first.value)}`);
const churn = views(makeKeys(100_000, 777));
let writes = 0;
Atomics.store(ctl, 1, 1);
t = process.hrtime.bigint();
while (Atomics.load(ctl, 0) === 0) {
  for (let i = 0; i < churn.length && Atomics.load(ctl, 0) === 0; i++) {
    h.add(churn[i]!, i);
    writes++;
  }
  for (let i = 0; i < churn.length && Atomics.load(ctl, 0) === 0; i++) {
    if (h.lookup(churn[i]!) >= 0) {
      h.delete(churn[i]!);
      writes++;
    }
  }
}
const writeRate = writes / (Number(process.hrtime.bigint() - t) / 1e3);
const cross = JSON.parse(String((await it.next()).value)) as ReturnType<typeof lookups>;
await new Promise((r) => child.once('exit', r));

// References in this run: lmdb get, a JS Map, DPDK's rte_hash.
const LM = N;
let lmdbGet = NaN;
const lmDir = mkdtempSync(join(tmpdir(), 'mp-hash-lmdb-'));
try {
  const { open } = await import('lmdb');
  const db = open<number, Buffer>({ path: lmDir, keyEncoding: 'binary', noSync: true });
  const bufs = ks.map((k) => Buffer.from(k.buffer, k.byteOffset, KEY_LEN));
  db.transactionSync(() => {
    for (let i = 0; i < N; i++) db.putSync(bufs[i]!, i);
  });
  lmdbGet = rate(LM, () => {
    let s = 0;
    for (let i = 0; i < LM; i++) s += db.get(bufs[i]!) ?? 0;
    return s;
  }, 3);
  await db.close();
} catch (err) {
  console.log(`lmdb: skipped (${(err as Error).message})`);
} finally {
  rmSync(lmDir, { recursive: true, force: true });
}
const strKeys = ks.map((k) => Buffer.from(k.buffer, k.byteOffset, KEY_LEN).toString('latin1'));
const map = new Map<string, number>();
strKeys.forEach((s, i) => map.set(s, i));
const mapGet = rate(N, () => {
  let s = 0;
  for (let i = 0; i < N; i++) s += map.get(strKeys[i]!)!;
  return s;
});

interface CResult {
  add: number;
  lookup: number;
  lookupWithHash: number;
  lookupBulk: number;
  failed: number;
}
// ANCHORS.md, rte_hash at 2.45 GHz, 16-byte keys (midpoints of the ranges).
const ANCHOR = { add: 2450 / 317, lookup: 5.7, lookupWithHash: 2450 / 250, lookupBulk: 27, lookupBulkWithHash: 31 };
const rows: Array<[string, number, number | undefined, number]> = [
  ['add (single writer)', addRate, dpdk?.add, ANCHOR.add],
  ['lookup', single.lookup, dpdk?.lookup, ANCHOR.lookup],
  ['lookupWithHash', single.lookupWithHash, dpdk?.lookupWithHash, ANCHOR.lookupWithHash],
  ['lookupBulk (32), per key', single.lookupBulk, dpdk?.lookupBulk, ANCHOR.lookupBulk],
  ['lookupBulkWithHash (32), per key', single.lookupBulkWithHash, undefined, ANCHOR.lookupBulkWithHash],
  [`lookupBulk (32), per key, TypeScript path${h.nativeBulk ? '' : ' (native not loaded)'}`, single.lookupBulkTs, dpdk?.lookupBulk, ANCHOR.lookupBulk],
];
const DPDK_REF = 'DPDK C rte_hash, this run';
bench.table(
  { title: `@mp/hash, one process, ${N} keys`, ours: '@mp/hash', unit: 'Mops/s', refs: [DPDK_REF, 'lmdb get', 'JS Map get'], anchors: ['rte_hash'] },
  rows.map(([op, v, c, a]) => {
    const isLookup = op.startsWith('lookup');
    return { op, ours: v, refs: { [DPDK_REF]: c, ...(isLookup ? { 'lmdb get': lmdbGet, 'JS Map get': mapGet } : {}) }, anchors: { rte_hash: a } };
  }),
);
bench.table(
  { title: `multi-writer table (${MW} keys), and a second process looking up while this one writes (${writeRate.toFixed(2)} M adds+deletes/s)`, ours: '@mp/hash', unit: 'Mops/s', refs: ['same op, one process, no writer'] },
  [
    { op: 'add, multi-writer table, the lock per call', ours: addLocked, refs: { 'same op, one process, no writer': addRate } },
    { op: 'add, multi-writer table, in one writeBatch', ours: addBatch, refs: { 'same op, one process, no writer': addRate } },
    ...(['lookup', 'lookupWithHash', 'lookupBulk', 'lookupBulkWithHash'] as const).map((k) => ({
      op: `${k}${k.includes('Bulk') ? ' (32), per key' : ''}, second process while this one writes`,
      ours: cross[k],
      refs: { 'same op, one process, no writer': single[k] },
    })),
  ],
);
bench.note(dpdk ? `DPDK C: rte_hash ${ENTRIES} entries, RW_CONCURRENCY_LF, ${dpdkMode}, ${dpdk.failed} failed adds` : `DPDK C: skipped (${dpdkWhy})`);
eal().cleanup();
bench.end();
