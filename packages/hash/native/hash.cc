// @mp/hash native binding: the bulk lookup and bulk hash of a table in shared memory.
//
//   bind        validate a table's geometry against its memzone buffer; returns a handle (External)
//   lookupBulk  rte_hash_lookup_bulk over keys packed back to back: prefetch every primary bucket of the
//               chunk, then every signature-matching key slot, then compare; the rest through their
//               secondary bucket and its chain of extendable buckets; misses settled against the table's
//               change counter (DPDK's tbl_chng_cnt protocol, as src/read.ts and src/bulk.ts)
//   hashBulk    the table's hash (crc32c or jhash, bit-identical to src/hashfn.ts) of packed keys
//   layout      the offsets this file reads, compared with src/layout.ts by src/native.ts
//
// Why native: a bulk lookup is bound by DRAM latency (a bucket miss and a key miss per key); C keeps
// the misses of a whole chunk in flight with prefetches, JavaScript cannot. The layout and the protocol
// are src/layout.ts's and src/read.ts's; this file only reads shared memory, never writes it. Policy
// (which path, argument checks a user sees) lives in TypeScript; every argument is checked again here.

#include <napi.h>
#include "errno_name.h"

#include <cstdint>
#include <cstring>

namespace {

// ---- src/layout.ts --------------------------------------------------------------------------------
constexpr uint32_t kHdrTblChngCnt = 64;  // HDR.tblChngCnt
constexpr uint32_t kBucketSize = 64;     // BUCKET.size
constexpr uint32_t kBucketEntries = 8;   // BUCKET_ENTRIES
constexpr uint32_t kBucketSigOff = 0;    // BUCKET.sigU16 * 2
constexpr uint32_t kBucketKeyIdxOff = 16;  // BUCKET.keyIdxW * 4
constexpr uint32_t kBucketNextOff = 48;  // BUCKET.nextW * 4
constexpr uint32_t kSlotDataOff = 8;     // SLOT.dataW * 4
constexpr uint32_t kSlotKeyOff = 24;     // SLOT.keyW * 4
constexpr uint32_t kFnCrc32c = 1;        // HASH_FUNC_IDS.crc32c
constexpr uint32_t kFnJhash = 2;         // HASH_FUNC_IDS.jhash
constexpr uint32_t kKeyLenMax = 1024;    // KEY_LEN_MAX

constexpr uint32_t kChunk = 64;          // keys per pass (BULK_CHUNK)
constexpr int32_t kMiss = -1;
constexpr int32_t kRetry = -2;
constexpr uint32_t kMaxRetries = 100000; // MAX_RETRIES
constexpr double kTwo32 = 4294967296.0;

struct Table {
  Napi::Reference<Napi::ArrayBuffer> buf;  // keeps the memzone's ArrayBuffer alive
  const uint8_t* base;
  size_t len;
  uint32_t keyLen, fnId, initVal, mask, numBuckets, numExt, keySlots, slotSize, bucketsOff, keyStoreOff;
  uint32_t crcT[4][256];
};

// ---- hash functions (the same bits as src/hashfn.ts) ------------------------------------------------
void crcTables(Table* t) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t->crcT[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int s = 1; s < 4; s++) t->crcT[s][i] = (t->crcT[s - 1][i] >> 8) ^ t->crcT[0][t->crcT[s - 1][i] & 0xff];
}

uint32_t loadLe32(const uint8_t* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap32(x);
#endif
  return x;
}

uint32_t crcSoft(const Table* t, const uint8_t* k, uint32_t len, uint32_t c) {
  uint32_t i = 0;
  for (; i + 4 <= len; i += 4) {
    const uint32_t x = c ^ loadLe32(k + i);
    c = t->crcT[3][x & 0xff] ^ t->crcT[2][(x >> 8) & 0xff] ^ t->crcT[1][(x >> 16) & 0xff] ^ t->crcT[0][x >> 24];
  }
  for (; i < len; i++) c = t->crcT[0][(c ^ k[i]) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crcHw(const uint8_t* k, uint32_t len, uint32_t c) {
  uint32_t i = 0;
  uint64_t c64 = c;
  for (; i + 8 <= len; i += 8) {
    uint64_t x;
    std::memcpy(&x, k + i, 8);
    c64 = __builtin_ia32_crc32di(c64, x);
  }
  c = static_cast<uint32_t>(c64);
  if (i + 4 <= len) {
    uint32_t x;
    std::memcpy(&x, k + i, 4);
    c = __builtin_ia32_crc32si(c, x);
    i += 4;
  }
  for (; i < len; i++) c = __builtin_ia32_crc32qi(c, k[i]);
  return c;
}
const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
#endif

inline uint32_t rol(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

uint32_t jhash(const uint8_t* k, uint32_t len, uint32_t initVal) {
  uint32_t a = 0xdeadbeefu + len + initVal, b = a, c = a;
  uint32_t n = len;
  const uint8_t* p = k;
  while (n > 12) {
    a += loadLe32(p);
    b += loadLe32(p + 4);
    c += loadLe32(p + 8);
    a -= c; a ^= rol(c, 4); c += b;
    b -= a; b ^= rol(a, 6); a += c;
    c -= b; c ^= rol(b, 8); b += a;
    a -= c; a ^= rol(c, 16); c += b;
    b -= a; b ^= rol(a, 19); a += c;
    c -= b; c ^= rol(b, 4); b += a;
    p += 12;
    n -= 12;
  }
  if (n == 0) return c;
  uint8_t tail[12] = {0};  // the last words zero padded, as src/hashfn.ts loads them
  std::memcpy(tail, p, n);
  a += loadLe32(tail);
  if (n > 4) b += loadLe32(tail + 4);
  if (n > 8) c += loadLe32(tail + 8);
  c ^= b; c -= rol(b, 14);
  a ^= c; a -= rol(c, 11);
  b ^= a; b -= rol(a, 25);
  c ^= b; c -= rol(b, 16);
  a ^= c; a -= rol(c, 4);
  b ^= a; b -= rol(a, 14);
  c ^= b; c -= rol(b, 24);
  return c;
}

inline uint32_t hashKey(const Table* t, const uint8_t* k) {
  if (t->fnId == kFnJhash) return jhash(k, t->keyLen, t->initVal);
#if defined(__x86_64__)
  if (kHaveSse42) return crcHw(k, t->keyLen, t->initVal);
#endif
  return crcSoft(t, k, t->keyLen, t->initVal);
}

// ---- shared-memory reads (the reader side of src/read.ts) ------------------------------------------
inline uint32_t ld(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_RELAXED); }
inline uint32_t ldAcq(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_ACQUIRE); }
inline const uint8_t* bucketAt(const Table* t, uint32_t b) { return t->base + t->bucketsOff + static_cast<size_t>(b) * kBucketSize; }
inline const uint8_t* slotAt(const Table* t, uint32_t k) { return t->base + t->keyStoreOff + static_cast<size_t>(k) * t->slotSize; }

/** Entry bits of bucket `bk` whose signature is `sig`. */
inline uint32_t sigMatches(const uint8_t* bk, uint16_t sig) {
  uint32_t mk = 0;
  for (uint32_t i = 0; i < kBucketEntries; i++) {
    const uint16_t s = __atomic_load_n(reinterpret_cast<const uint16_t*>(bk + kBucketSigOff) + i, __ATOMIC_RELAXED);
    mk |= static_cast<uint32_t>(s == sig) << i;
  }
  return mk;
}

/**
 * Compare key `key` with slot k under the slot's seqlock; on a match with a stable slot, its position
 * (and data in *d). kMiss, kRetry (odd or changed version) — as src/read.ts matchSlot.
 */
inline int32_t matchSlot(const Table* t, uint32_t k, const uint8_t* key, double* d) {
  if (k >= t->keySlots) return kMiss;  // a torn read of a moving entry: the counter check settles it
  const uint8_t* s = slotAt(t, k);
  // SYNC: acquire the version before the key and data; pairs with the writer's publish of the odd,
  // then even version (addLocked in src/write.ts).
  const uint32_t v = ldAcq(s);
  if (v & 1) return kRetry;
  if (std::memcmp(s + kSlotKeyOff, key, t->keyLen) != 0) return kMiss;
  const uint8_t* dc = s + kSlotDataOff + (v & 2) * 4;
  const uint32_t lo = ld(dc), hi = ld(dc + 4);
  // SYNC: the reads above complete before the version is read again (seqlock read side).
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  if (ld(s) != v) return kRetry;
  *d = lo + hi * kTwo32;
  return static_cast<int32_t>(k) - 1;
}

/** The first stable match among candidates mk of bucket bk (src/read.ts matchIn). */
inline int32_t matchIn(const Table* t, const uint8_t* bk, uint32_t mk, const uint8_t* key, double* d) {
  int32_t r = kMiss;
  while (mk != 0) {
    const uint32_t i = static_cast<uint32_t>(__builtin_ctz(mk));
    mk &= mk - 1;
    const uint32_t k = ld(bk + kBucketKeyIdxOff + 4 * i);
    if (k == 0) continue;
    const int32_t x = matchSlot(t, k, key, d);
    if (x >= 0) return x;
    if (x == kRetry) r = kRetry;
  }
  return r;
}

/** One pass: primary bucket, then the secondary and its chain (src/read.ts findOnce). */
int32_t findOnce(const Table* t, uint32_t h, const uint8_t* key, double* d) {
  const uint16_t sig = static_cast<uint16_t>(h >> 16);
  const uint32_t prim = h & t->mask;
  const uint8_t* bk = bucketAt(t, prim);
  int32_t r = matchIn(t, bk, sigMatches(bk, sig), key, d);
  if (r != kMiss) return r;
  uint32_t b = (prim ^ sig) & t->mask;
  for (uint32_t steps = 0; steps <= t->numExt; steps++) {
    bk = bucketAt(t, b);
    r = matchIn(t, bk, sigMatches(bk, sig), key, d);
    if (r != kMiss) return r;
    b = ld(bk + kBucketNextOff);
    if (b == 0) return kMiss;
    if (b < t->numBuckets || b >= t->numBuckets + t->numExt) return kRetry;  // changed under us
  }
  return kRetry;
}

/** keys: n packed keys; hs: their hashes; out pos/data (data may be null). Returns the hits. */
uint32_t lookupChunk(const Table* t, const uint8_t* keys, const uint32_t* hs, uint32_t m, int32_t* pos, double* data) {
  const uint32_t kl = t->keyLen;
  const uint8_t* cnt = t->base + kHdrTblChngCnt;
  uint32_t mk[kChunk];
  uint8_t pend[kChunk];
  uint32_t np = 0;
  uint32_t hits = 0;
  double d = 0;
  // Pass 1: every primary bucket of the chunk in flight at once.
  for (uint32_t i = 0; i < m; i++) __builtin_prefetch(bucketAt(t, hs[i] & t->mask));
  // SYNC: the counter before the chunk's first bucket read; misses are settled against it (pairs with
  // bump() in src/write.ts).
  uint32_t c0 = ldAcq(cnt);
  // Pass 2: signature matches; prefetch every candidate's key slot.
  for (uint32_t i = 0; i < m; i++) {
    const uint8_t* bk = bucketAt(t, hs[i] & t->mask);
    uint32_t x = sigMatches(bk, static_cast<uint16_t>(hs[i] >> 16));
    mk[i] = x;
    while (x != 0) {
      const uint32_t e = static_cast<uint32_t>(__builtin_ctz(x));
      x &= x - 1;
      const uint32_t k = ld(bk + kBucketKeyIdxOff + 4 * e);
      if (k != 0 && k < t->keySlots) __builtin_prefetch(slotAt(t, k));
    }
  }
  // Pass 3: compare in the primary buckets.
  for (uint32_t i = 0; i < m; i++) {
    const int32_t r = matchIn(t, bucketAt(t, hs[i] & t->mask), mk[i], keys + static_cast<size_t>(i) * kl, &d);
    pos[i] = r;
    if (r >= 0) {
      hits++;
      if (data != nullptr) data[i] = d;
    } else {
      pend[np++] = static_cast<uint8_t>(i);
    }
  }
  // Pass 4: the secondary buckets of the rest, in flight together, then searched (chains last).
  for (uint32_t j = 0; j < np; j++) {
    const uint32_t h = hs[pend[j]];
    __builtin_prefetch(bucketAt(t, ((h & t->mask) ^ (h >> 16)) & t->mask));
  }
  uint32_t misses = 0;
  bool retry = false;
  for (uint32_t j = 0; j < np; j++) {
    const uint32_t i = pend[j];
    const uint32_t h = hs[i];
    const uint8_t* key = keys + static_cast<size_t>(i) * kl;
    const uint8_t* bk = bucketAt(t, ((h & t->mask) ^ (h >> 16)) & t->mask);
    int32_t r = matchIn(t, bk, sigMatches(bk, static_cast<uint16_t>(h >> 16)), key, &d);
    if (r == kMiss && pos[i] == kRetry) r = kRetry;
    if (r == kMiss && t->numExt > 0 && ld(bk + kBucketNextOff) != 0) r = findOnce(t, h, key, &d);
    pos[i] = r;
    if (r >= 0) {
      hits++;
      if (data != nullptr) data[i] = d;
    } else {
      misses++;
      if (r == kRetry) retry = true;
    }
  }
  // Misses stand if the counter did not move since c0 and no slot changed under a compare; else search
  // them again until a pass sees the counter unchanged.
  for (uint32_t round = 0; misses > 0 && round < kMaxRetries; round++) {
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const uint32_t c1 = ldAcq(cnt);
    if (!retry && c1 == c0) break;
    c0 = c1;
    retry = false;
    misses = 0;
    for (uint32_t i = 0; i < m; i++) {
      if (pos[i] >= 0) continue;
      const int32_t r = findOnce(t, hs[i], keys + static_cast<size_t>(i) * kl, &d);
      pos[i] = r;
      if (r >= 0) {
        hits++;
        if (data != nullptr) data[i] = d;
      } else {
        misses++;
        if (r == kRetry) retry = true;
      }
    }
  }
  for (uint32_t i = 0; i < m; i++) {
    if (pos[i] < 0) {
      pos[i] = kMiss;
      if (data != nullptr) data[i] = kMiss;
    }
  }
  return hits;
}

// ---- argument checks --------------------------------------------------------------------------------
bool fail(Napi::Env env, const char* what) {
  Napi::TypeError::New(env, what).ThrowAsJavaScriptException();
  return false;
}

Table* tableArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsExternal()) {
    fail(info.Env(), "@mp/hash native: argument 1 must be a table handle from bind()");
    return nullptr;
  }
  return info[i].As<Napi::External<Table>>().Data();
}

template <typename T>
bool typedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, bool nullable, const char* what, T** data, size_t* count) {
  *data = nullptr;
  *count = 0;
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return nullable ? true : fail(info.Env(), what);
  if (!info[i].IsTypedArray()) return fail(info.Env(), what);
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != type) return fail(info.Env(), what);
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  *data = reinterpret_cast<T*>(static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset());
  *count = ta.ElementLength();
  return true;
}

// bind(buffer: ArrayBuffer, geo: Uint32Array [keyLen, fnId, initVal, numBuckets, numExt, keySlots,
//      slotSize, bucketsOff, keyStoreOff]) → External
Napi::Value Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArrayBuffer()) {
    fail(env, "bind: argument 1 must be the table's ArrayBuffer");
    return env.Undefined();
  }
  uint32_t* geo;
  size_t ng;
  if (!typedArg(info, 1, napi_uint32_array, false, "bind: argument 2 must be a Uint32Array of 9 geometry words", &geo, &ng)) return env.Undefined();
  if (ng != 9) {
    fail(env, "bind: argument 2 must be a Uint32Array of 9 geometry words");
    return env.Undefined();
  }
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  const uint64_t len = ab.ByteLength();
  const uint32_t keyLen = geo[0], fnId = geo[1], numBuckets = geo[3], numExt = geo[4], keySlots = geo[5], slotSize = geo[6];
  const uint32_t bucketsOff = geo[7], keyStoreOff = geo[8];
  const bool pow2 = numBuckets != 0 && (numBuckets & (numBuckets - 1)) == 0;
  const bool fits = static_cast<uint64_t>(bucketsOff) + (static_cast<uint64_t>(numBuckets) + numExt) * kBucketSize <= len &&
                    static_cast<uint64_t>(keyStoreOff) + static_cast<uint64_t>(keySlots) * slotSize <= len && kHdrTblChngCnt + 4 <= len;
  if (keyLen == 0 || keyLen > kKeyLenMax || (fnId != kFnCrc32c && fnId != kFnJhash) || !pow2 || slotSize < kSlotKeyOff + keyLen ||
      (bucketsOff & 3) != 0 || (keyStoreOff & 7) != 0 || (slotSize & 7) != 0 || !fits || ab.Data() == nullptr ||
      (reinterpret_cast<uintptr_t>(ab.Data()) & 7) != 0) {
    Napi::RangeError::New(env, "bind: the geometry does not describe a table inside this buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Table* t = new Table();
  t->buf = Napi::Persistent(ab);
  t->base = static_cast<const uint8_t*>(ab.Data());
  t->len = len;
  t->keyLen = keyLen;
  t->fnId = fnId;
  t->initVal = geo[2];
  t->mask = numBuckets - 1;
  t->numBuckets = numBuckets;
  t->numExt = numExt;
  t->keySlots = keySlots;
  t->slotSize = slotSize;
  t->bucketsOff = bucketsOff;
  t->keyStoreOff = keyStoreOff;
  crcTables(t);
  return Napi::External<Table>::New(env, t, [](Napi::Env, Table* p) { delete p; });
}

// lookupBulk(table, keys: Uint8Array (n·keyLen bytes), sigs: Uint32Array | null, positions: Int32Array,
//            data: Float64Array | null) → hits
Napi::Value LookupBulk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Table* t = tableArg(info, 0);
  if (t == nullptr) return env.Undefined();
  uint8_t* keys;
  uint32_t* sigs;
  int32_t* pos;
  double* data;
  size_t nk, ns, np, nd;
  if (!typedArg(info, 1, napi_uint8_array, false, "lookupBulk: keys must be a Uint8Array", &keys, &nk) ||
      !typedArg(info, 2, napi_uint32_array, true, "lookupBulk: sigs must be a Uint32Array or null", &sigs, &ns) ||
      !typedArg(info, 3, napi_int32_array, false, "lookupBulk: positions must be an Int32Array", &pos, &np) ||
      !typedArg(info, 4, napi_float64_array, true, "lookupBulk: data must be a Float64Array or null", &data, &nd)) {
    return env.Undefined();
  }
  const size_t n = nk / t->keyLen;
  if (nk % t->keyLen != 0 || np < n || (sigs != nullptr && ns < n) || (data != nullptr && nd < n)) {
    Napi::RangeError::New(env, "lookupBulk: keys not a multiple of keyLen, or an output/sigs array shorter than the batch").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t hs[kChunk];
  uint32_t hits = 0;
  for (size_t start = 0; start < n; start += kChunk) {
    const uint32_t m = static_cast<uint32_t>(n - start < kChunk ? n - start : kChunk);
    const uint8_t* k = keys + start * t->keyLen;
    if (sigs != nullptr) std::memcpy(hs, sigs + start, m * sizeof(uint32_t));
    else for (uint32_t i = 0; i < m; i++) hs[i] = hashKey(t, k + static_cast<size_t>(i) * t->keyLen);
    hits += lookupChunk(t, k, hs, m, pos + start, data == nullptr ? nullptr : data + start);
  }
  return Napi::Number::New(env, hits);
}

// hashBulk(table, keys: Uint8Array (n·keyLen bytes), out: Uint32Array) → undefined
Napi::Value HashBulk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Table* t = tableArg(info, 0);
  if (t == nullptr) return env.Undefined();
  uint8_t* keys;
  uint32_t* out;
  size_t nk, no;
  if (!typedArg(info, 1, napi_uint8_array, false, "hashBulk: keys must be a Uint8Array", &keys, &nk) ||
      !typedArg(info, 2, napi_uint32_array, false, "hashBulk: out must be a Uint32Array", &out, &no)) {
    return env.Undefined();
  }
  const size_t n = nk / t->keyLen;
  if (nk % t->keyLen != 0 || no < n) {
    Napi::RangeError::New(env, "hashBulk: keys not a multiple of keyLen, or out shorter than the batch").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  for (size_t i = 0; i < n; i++) out[i] = hashKey(t, keys + i * t->keyLen);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("lookupBulk", Napi::Function::New(env, LookupBulk, "lookupBulk"));
  exports.Set("hashBulk", Napi::Function::New(env, HashBulk, "hashBulk"));
  Napi::Object l = Napi::Object::New(env);
  l.Set("tblChngCnt", kHdrTblChngCnt);
  l.Set("bucketSize", kBucketSize);
  l.Set("bucketEntries", kBucketEntries);
  l.Set("sigOff", kBucketSigOff);
  l.Set("keyIdxOff", kBucketKeyIdxOff);
  l.Set("nextOff", kBucketNextOff);
  l.Set("slotDataOff", kSlotDataOff);
  l.Set("slotKeyOff", kSlotKeyOff);
  l.Set("fnCrc32c", kFnCrc32c);
  l.Set("fnJhash", kFnJhash);
  l.Set("keyLenMax", kKeyLenMax);
  l.Set("chunk", kChunk);
  l.Set("maxRetries", kMaxRetries);
  exports.Set("layout", l);
  return exports;
}

}  // namespace

NODE_API_MODULE(mp_hash, Init)
