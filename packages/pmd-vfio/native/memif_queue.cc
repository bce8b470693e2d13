// @mp/pmd-vfio native binding: the memif data path. One Queue is one ring as one side sees it;
// rxBurst/txBurst walk the descriptors and copy whole bursts between the ring's buffers and caller byte
// ranges — one N-API call a burst. Every descriptor is bounds-checked against the mapped regions
// before a byte moves (the peer writes that memory); head/tail moves follow DPDK's eth_memif_rx/tx,
// with the same acquire/release pairs.

#include "memif_abi.h"

#include <vector>
#include <unistd.h>

namespace mp_memif {
namespace {

// ---- Queue: one ring, one side ------------------------------------------------------------------
// kind: 0 client tx (C2S producer: writes head), 1 client rx (S2C: reads tail, refills head),
//       2 server rx (C2S: reads head, writes tail), 3 server tx (S2C: fills up to head, writes tail).
enum Kind { kClientTx = 0, kClientRx = 1, kServerRx = 2, kServerTx = 3 };

class Queue final : public Napi::ObjectWrap<Queue> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Queue",
                       {InstanceMethod("rxBurst", &Queue::RxBurst), InstanceMethod("txBurst", &Queue::TxBurst),
                        InstanceMethod("close", &Queue::Close)});
  }

  // new Queue(kind, regions: ArrayBuffer[], ringRegion, ringOffset, log2, bufferSize, eventfd, stats: BigUint64Array,
  //           resume?: boolean)
  explicit Queue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Queue>(info) {
    Napi::Env env = info.Env();
    Napi::Array regions;
    uint32_t ringRegion = 0;
    int64_t ringOffset = 0;
    Napi::BigUint64Array stats;
    // A constructor returns nothing: each failed check leaves its TypeError/RangeError pending.
    if (!mp::ArgInt32(info, 0, "kind", &kind_) || !mp::ArgArray(info, 1, "regions", &regions) ||
        !mp::ArgUint32(info, 2, "ringRegion", &ringRegion) || !mp::ArgInt64(info, 3, "ringOffset", &ringOffset) ||
        !mp::ArgInt32(info, 4, "log2", &log2_) || !mp::ArgUint32(info, 5, "bufferSize", &bufferSize_) ||
        !mp::ArgInt32(info, 6, "eventfd", &efd_) || !mp::ArgBigUint64Array(info, 7, "stats", &stats)) {
      return;
    }
    if (stats.ElementLength() < 3) {
      mp::ArgFail(info, 7, "stats", "a BigUint64Array of 3 or more", true);
      return;
    }
    bool resume = false;
    if (info.Length() > 8 && !info[8].IsUndefined() && !mp::ArgBool(info, 8, "resume", &resume)) return;
    for (uint32_t i = 0; i < regions.Length(); i++) {
      Napi::Value v = regions.Get(i);
      if (!v.IsArrayBuffer()) {
        mp::ArgFail(info, 1, "regions", "an array of ArrayBuffers");
        return;
      }
      Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
      base_.push_back(static_cast<uint8_t*>(ab.Data()));
      size_.push_back(ab.ByteLength());
    }
    keep_ = Napi::Persistent(regions);
    size_t ringBytes = sizeof(ring_c) + sizeof(desc_c) * (size_t {1} << (log2_ & 15));
    if (kind_ < 0 || kind_ > 3 || log2_ < 0 || log2_ > 15 || ringRegion >= base_.size() || ringOffset < 0 ||
        static_cast<uint64_t>(ringOffset) + ringBytes > size_[ringRegion] || (ringOffset & 7) != 0) {
      Napi::RangeError::New(env, "Queue: ring outside its region").ThrowAsJavaScriptException();
      return;
    }
    ring_ = reinterpret_cast<ring_c*>(base_[ringRegion] + ringOffset);
    stats_ = stats.Data();
    statsKeep_ = Napi::Persistent(stats.As<Napi::Object>());
    // resume (optional 9th argument): this side's private index comes from the ring, which another
    // process drove until now (ethdev: a secondary, or a new claimant of the queue, opening a ring that
    // is live). Every burst leaves the shared index equal to the private one, so the ring says it.
    if (resume) {
      if (kind_ == kServerRx) lastHead_ = __atomic_load_n(&ring_->tail, __ATOMIC_ACQUIRE);
      if (kind_ == kClientRx)
        lastTail_ = static_cast<uint16_t>(__atomic_load_n(&ring_->head, __ATOMIC_ACQUIRE) - (1u << log2_));
    }
  }

 private:
  // The buffer a descriptor names, or nullptr when it lies outside the mapped regions.
  uint8_t* Buffer(const desc_c& d, uint32_t len) const {
    if (d.region >= base_.size()) return nullptr;
    if (static_cast<uint64_t>(d.offset) + len > size_[d.region]) return nullptr;
    return base_[d.region] + d.offset;
  }

  // rxBurst(dst: Uint8Array, offsets: Uint32Array, room, lens: Uint32Array, n) -> frames received.
  // Frame i goes to dst[offsets[i] ..] (at most `room` bytes); lens[i] = its full length (> room:
  // truncated). Chained descriptors (MEMIF_DESC_FLAG_NEXT) make one frame.
  Napi::Value RxBurst(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    mp::Span dstSpan;
    Napi::Uint32Array offs, lensArr;
    uint32_t room = 0, count = 0;
    if (!mp::ArgSpan(info, 0, "dst", &dstSpan) || !mp::ArgUint32Array(info, 1, "offsets", &offs) ||
        !mp::ArgUint32(info, 2, "room", &room) || !mp::ArgUint32Array(info, 3, "lens", &lensArr) ||
        !mp::ArgUint32(info, 4, "n", &count)) {
      return env.Undefined();
    }
    uint8_t* dst = dstSpan.data;
    size_t dstLen = dstSpan.len;
    const uint32_t* offsets = offs.Data();
    uint32_t* lens = lensArr.Data();
    size_t n = count;
    if (n > offs.ElementLength()) n = offs.ElementLength();
    if (n > lensArr.ElementLength()) n = lensArr.ElementLength();
    if (ring_ == nullptr || (kind_ != kClientRx && kind_ != kServerRx)) return Napi::Number::New(env, 0);
    const uint16_t size = static_cast<uint16_t>(1u << log2_), mask = size - 1;
    uint16_t cur, last;
    if (kind_ == kServerRx) {
      cur = lastHead_;
      last = __atomic_load_n(&ring_->head, __ATOMIC_ACQUIRE);  // A1: pairs with the sender's R1
    } else {
      cur = lastTail_;
      last = __atomic_load_n(&ring_->tail, __ATOMIC_ACQUIRE);  // A1: pairs with the sender's R1
    }
    uint16_t avail = last - cur;
    size_t got = 0;
    uint64_t bytes = 0;
    if (avail > size) {  // a peer moved its index past the ring: nothing there is trustworthy
      stats_[2]++;
      avail = 0;
    }
    while (avail > 0 && got < n) {
      uint64_t off = offsets[got];
      uint32_t total = 0;
      uint16_t used = 0;
      bool bad = false, complete = false;
      while (used < avail) {
        const desc_c& d = ring_->desc[(cur + used) & mask];
        used++;
        uint32_t dl = d.length;
        const uint8_t* src = Buffer(d, dl);
        if (src == nullptr) bad = true;
        if (!bad && total < room && off + room <= dstLen) {
          uint32_t c = dl < room - total ? dl : room - total;
          memcpy(dst + off + total, src, c);
        }
        total += dl;
        if ((d.flags & kFlagNext) == 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;  // a chain not yet published whole: leave it for the next burst
      cur += used;
      avail -= used;
      if (bad || off + room > dstLen) {
        stats_[2]++;
        continue;
      }
      lens[got++] = total;
      bytes += total;
    }
    // Shared indices are stored only when they move: an empty poll writes nothing the peer reads, so
    // the peer's cache line stays valid (DPDK's rx skips the store the same way).
    if (kind_ == kServerRx) {
      if (cur != lastHead_) __atomic_store_n(&ring_->tail, cur, __ATOMIC_RELEASE);  // R2: slots back to the client
      lastHead_ = cur;
    } else {
      lastTail_ = cur;
      // Refill: every slot the server gave back returns to it as an empty buffer of bufferSize.
      uint16_t head = __atomic_load_n(&ring_->head, __ATOMIC_RELAXED);
      uint16_t slots = static_cast<uint16_t>(size - head + lastTail_);
      if (slots > size) slots = 0;  // our own head is ours: only a peer scribbling on it gets here
      if (slots > 0) {
        while (slots-- > 0) {
          desc_c& d = ring_->desc[head++ & mask];
          d.length = bufferSize_;
          d.flags = 0;
        }
        __atomic_store_n(&ring_->head, head, __ATOMIC_RELEASE);  // R2: pairs with the server tx's A2
      }
    }
    stats_[0] += got;
    stats_[1] += bytes;
    return Napi::Number::New(env, static_cast<double>(got));
  }

  // txBurst(src: Uint8Array, offsets: Uint32Array, lens: Uint32Array, n) -> frames sent (the first k).
  Napi::Value TxBurst(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    mp::Span srcSpan;
    Napi::Uint32Array offs, lensArr;
    uint32_t count = 0;
    if (!mp::ArgSpan(info, 0, "src", &srcSpan) || !mp::ArgUint32Array(info, 1, "offsets", &offs) ||
        !mp::ArgUint32Array(info, 2, "lens", &lensArr) || !mp::ArgUint32(info, 3, "n", &count)) {
      return env.Undefined();
    }
    uint8_t* src = srcSpan.data;
    size_t srcLen = srcSpan.len;
    const uint32_t* offsets = offs.Data();
    const uint32_t* lens = lensArr.Data();
    size_t n = count;
    if (n > offs.ElementLength()) n = offs.ElementLength();
    if (n > lensArr.ElementLength()) n = lensArr.ElementLength();
    if (ring_ == nullptr || (kind_ != kClientTx && kind_ != kServerTx)) return Napi::Number::New(env, 0);
    const uint16_t size = static_cast<uint16_t>(1u << log2_), mask = size - 1;
    uint16_t slot, nfree;
    if (kind_ == kClientTx) {
      slot = __atomic_load_n(&ring_->head, __ATOMIC_RELAXED);
      nfree = static_cast<uint16_t>(size - slot + __atomic_load_n(&ring_->tail, __ATOMIC_ACQUIRE));  // A2
    } else {
      slot = __atomic_load_n(&ring_->tail, __ATOMIC_RELAXED);
      nfree = static_cast<uint16_t>(__atomic_load_n(&ring_->head, __ATOMIC_ACQUIRE) - slot);  // A2
    }
    if (nfree > size) {  // the peer's index is past the ring
      stats_[2]++;
      nfree = 0;
    }
    size_t sent = 0, skipped = 0;  // sent counts the skipped too: the caller is done with both
    uint64_t bytes = 0;
    while (sent < n && nfree > 0) {
      uint64_t off = offsets[sent];
      uint32_t len = lens[sent];
      if (off + len > srcLen) {  // the caller's range is outside its buffer: drop it, count it
        stats_[2]++;
        sent++;
        skipped++;
        continue;
      }
      uint16_t s = slot, left = nfree;
      uint32_t done = 0;
      bool ok = true;
      for (;;) {
        desc_c& d = ring_->desc[s & mask];
        uint32_t cap = kind_ == kClientTx ? bufferSize_ : d.length;
        uint8_t* buf = Buffer(d, cap);
        if (buf == nullptr || cap == 0) {
          ok = false;
          break;
        }
        uint32_t c = len - done < cap ? len - done : cap;
        memcpy(buf, src + off + done, c);
        done += c;
        d.length = c;
        d.metadata = 0;
        s++;
        left--;
        if (done == len) {
          d.flags = 0;
          break;
        }
        d.flags = kFlagNext;
        if (left == 0) {
          ok = false;
          break;
        }
      }
      if (!ok) {
        if (left == 0) break;  // no room for the whole chain: it stays unsent
        stats_[2]++;           // a descriptor outside the regions: the peer broke the ring
        break;
      }
      slot = s;
      nfree = left;
      sent++;
      bytes += len;
    }
    if (sent > skipped) {
      if (kind_ == kClientTx) __atomic_store_n(&ring_->head, slot, __ATOMIC_RELEASE);  // R1: pairs with A1
      else __atomic_store_n(&ring_->tail, slot, __ATOMIC_RELEASE);                     // R1: pairs with A1
    }
    if (sent > skipped && efd_ >= 0 && (__atomic_load_n(&ring_->flags, __ATOMIC_RELAXED) & kRingMaskInt) == 0) {
      uint64_t one = 1;
      if (write(efd_, &one, sizeof(one)) < 0 && errno != EAGAIN) stats_[2]++;
    }
    stats_[0] += sent - skipped;
    stats_[1] += bytes;
    return Napi::Number::New(env, static_cast<double>(sent));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    ring_ = nullptr;
    base_.clear();
    size_.clear();
    keep_.Reset();
    return info.Env().Undefined();
  }

  int kind_ = -1;
  int log2_ = 0;
  uint32_t bufferSize_ = 0;
  int efd_ = -1;
  ring_c* ring_ = nullptr;
  uint16_t lastHead_ = 0, lastTail_ = 0;
  std::vector<uint8_t*> base_;
  std::vector<size_t> size_;
  uint64_t* stats_ = nullptr;
  Napi::Reference<Napi::Array> keep_;
  Napi::ObjectReference statsKeep_;
};

}  // namespace

Napi::Function DefineQueue(Napi::Env env) { return Queue::Define(env); }

}  // namespace mp_memif
