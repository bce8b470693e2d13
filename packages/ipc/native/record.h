// @mp/ipc's receive records: DPDK 22.11's datagram layout, the record the reads fill for TypeScript
// (src/layout.ts RECORD), and the check of each datagram as it is read (RECORD.fast). Only
// native/ipc.cc includes this file; the layout is exported from there and compared at load.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace {

// ---- DPDK 22.11 wire layout (rte_eal.h: struct rte_mp_msg; eal_common_proc.c: mp_msg_internal) ----
constexpr int kMaxNameLen = 64;   // RTE_MP_MAX_NAME_LEN
constexpr int kMaxParamLen = 256; // RTE_MP_MAX_PARAM_LEN
constexpr int kMaxFdNum = 8;      // RTE_MP_MAX_FD_NUM

struct rte_mp_msg_c {
  char name[kMaxNameLen];
  int len_param;
  int num_fds;
  uint8_t param[kMaxParamLen];
  int fds[kMaxFdNum];
};
struct mp_msg_internal_c {
  int type;
  rte_mp_msg_c msg;
};
// DPDK sends sizeof(mp_msg_internal) - sizeof(fds): the fds travel as SCM_RIGHTS.
constexpr size_t kWireSize = sizeof(mp_msg_internal_c) - sizeof(int) * kMaxFdNum;

// ---- receive records (native -> TS), one per datagram, kRecSize bytes each -----------------------
//   0 i32 len     real datagram length (MSG_TRUNC), or -errno for a failed recvmsg (not used)
//   4 i32 flags   msg_flags (MSG_TRUNC, MSG_CTRUNC) | kRxFdOverflow
//   8 i32 pid     SCM_CREDENTIALS pid, -1 when absent
//  12 i32 uid     SCM_CREDENTIALS uid, -1 when absent
//  16 i32 gid
//  20 i32 nfds    descriptors now owned by this process (<= 8), listed next
//  24 i32 fds[8]
//  56 i32 pathLen length of the sender's sun_path (0 = unbound sender)
//  60 u8  path[108]
// 168 i32 spill   byte offset in the buffer of the datagram's bytes beyond the first 332 (-1: none)
// 172 i32 carrier inbox records only (written by TS senders): tag of the fds' carrier datagram
// 176 u8  data[332] the datagram (first min(len, 332) bytes)
// 508 i32 fast    what Classify found (below): 0, or FAST_OK | nameLen << 8 | FAST_EXT, or FAST_WAKE
// A buffer is min(16, len / 512) records, then the spill area, kSpillMax bytes per record: @mp peers
// may send datagrams of k * 332 bytes (k coalesced messages, k <= kMaxCoalesce); their bytes past the
// first 332 go to the record's spill room.
constexpr size_t kRecLen = 0, kRecFlags = 4, kRecPid = 8, kRecUid = 12, kRecGid = 16, kRecNfds = 20,
                 kRecFds = 24, kRecPathLen = 56, kRecPath = 60, kRecSpill = 168, kRecCarrier = 172, kRecData = 176,
                 kRecFast = 508, kRecSize = 512;
constexpr size_t kRecsPerBatch = 16;
constexpr size_t kMaxCoalesce = 32;
constexpr size_t kSpillMax = (kMaxCoalesce - 1) * kWireSize;  // spill room per record
constexpr int kRxFdOverflow = 0x40000000;  // more than 8 fds came: the extra ones were closed here
static_assert(kRecData + kWireSize <= kRecFast && kRecFast + 4 <= kRecSize, "record too small");
static_assert(sizeof(((sockaddr_un*)nullptr)->sun_path) == 108, "sun_path");

// ---- the receive fast path: each datagram checked here, once, as it is read -------------------------
// Classify(record) writes the record's `fast` word, which src/codec.ts's decodeRecord trusts instead of
// checking the datagram again in JavaScript (and which lets the channel skip wake-ups and match
// replies without decoding them):
//   FAST_OK | nameLen << 8 [| FAST_EXT]  one plain 332-byte DPDK datagram that decodeRecord would accept
//          with an ASCII name: not truncated, <= 8 fds, type 0..3, name NUL-terminated, 1..63 printable
//          ASCII bytes without '/', '\' or "..", len_param 0..256, num_fds 0..8 and equal to the
//          descriptors that came. FAST_EXT: @mp's extension is there and its check word holds.
//   FAST_WAKE  an intact @mp wake datagram (what receive.ts's isWake matched: 332 bytes, no fds, type
//          MSG, name mp_ipc_wake, empty param, the extension's magic with flags exactly EXT_WAKE).
//   0      anything else (coalesced, truncated, malformed, a name that is not plain ASCII): decoded
//          and judged in TypeScript as before.
// The sender's uid is not judged here: TypeScript compares it with its own (one load).
constexpr int32_t kFastOk = 1, kFastWake = 2, kFastExt = 1 << 16;
constexpr uint32_t kExtMagic = 0x3158504d;  // 'MPX1' (src/layout.ts EXT)
constexpr size_t kExtSize = 12, kExtId = 4, kExtFlags = 8, kExtCheck = 10;
constexpr int kNameRoomMax = kMaxNameLen - static_cast<int>(kExtSize) - 1;  // 51
constexpr int kParamRoomMax = kMaxParamLen - static_cast<int>(kExtSize);     // 244
constexpr uint16_t kExtWake = 2;
constexpr int kMpMsg = 0, kMpIgn = 3;
constexpr char kWakeName[] = "mp_ipc_wake";  // src/layout.ts WAKE_ACTION
constexpr size_t kOffType = offsetof(mp_msg_internal_c, type);
constexpr size_t kOffName = offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, name);
constexpr size_t kOffLenParam = offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, len_param);
constexpr size_t kOffNumFds = offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, num_fds);
constexpr size_t kOffParam = offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, param);

inline int32_t I32(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
inline uint32_t U32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
inline uint16_t U16(const uint8_t* p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

// src/layout.ts extCheck
inline uint16_t ExtCheck(uint32_t id, uint32_t flags) {
  return static_cast<uint16_t>((kExtMagic ^ (kExtMagic >> 16) ^ id ^ (id >> 16) ^ flags ^ 0x6d70u) & 0xffffu);
}

int32_t Classify(const uint8_t* rec) {
  if (I32(rec + kRecLen) != static_cast<int32_t>(kWireSize) || I32(rec + kRecFlags) != 0) return 0;
  const int32_t nfds = I32(rec + kRecNfds);
  if (nfds < 0 || nfds > kMaxFdNum) return 0;
  const uint8_t* d = rec + kRecData;
  const int32_t type = I32(d + kOffType);
  if (type < kMpMsg || type > kMpIgn) return 0;
  const int32_t lenParam = I32(d + kOffLenParam);
  const int32_t numFds = I32(d + kOffNumFds);
  const uint8_t* name = d + kOffName;
  // A wake first (the common datagram between inbox peers), exactly as isWake judged it.
  if (nfds == 0 && type == kMpMsg && lenParam == 0 && numFds == 0 && memcmp(name, kWakeName, sizeof(kWakeName)) == 0) {
    const uint8_t* x = name + kMaxNameLen - kExtSize;
    if (U32(x) == kExtMagic && U16(x + kExtFlags) == kExtWake) return kFastWake;
  }
  int nameLen = -1;
  for (int i = 0; i < kMaxNameLen; i++) {
    const uint8_t c = name[i];
    if (c == 0) {
      nameLen = i;
      break;
    }
    if (c < 0x20 || c >= 0x7f || c == '/' || c == '\\') return 0;
    if (c == '.' && i > 0 && name[i - 1] == '.') return 0;
  }
  if (nameLen < 1) return 0;
  if (lenParam < 0 || lenParam > kMaxParamLen || numFds < 0 || numFds > kMaxFdNum || numFds != nfds) return 0;
  int32_t word = kFastOk | (nameLen << 8);
  const uint8_t* x = nameLen <= kNameRoomMax ? name + kMaxNameLen - kExtSize
                     : lenParam <= kParamRoomMax ? d + kOffParam + kMaxParamLen - kExtSize
                                                 : nullptr;
  if (x != nullptr && U32(x) == kExtMagic && U16(x + kExtCheck) == ExtCheck(U32(x + kExtId), U16(x + kExtFlags))) word |= kFastExt;
  return word;
}

inline void SetFast(uint8_t* rec) {
  const int32_t w = Classify(rec);
  memcpy(rec + kRecFast, &w, 4);
}

}  // namespace
