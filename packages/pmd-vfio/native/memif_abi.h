// The memif ABI (DPDK 22.11 drivers/net/memif/memif.h) as C structs, for sizeof/offsetof and for the
// data path, plus the helpers every native file of the addon uses. Declared, not copied: field order and widths are
// memif's; src/memif/layout.ts is checked against these when the addon loads.
#pragma once

#include <napi.h>

#include "args.h"
#include "errno_name.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace mp_memif {

inline constexpr uint32_t kCookie = 0x3E31F20;
inline constexpr uint16_t kFlagNext = 1;      // MEMIF_DESC_FLAG_NEXT
inline constexpr uint16_t kRingMaskInt = 1;   // MEMIF_RING_FLAG_MASK_INT
inline constexpr size_t kMsgSize = 128;

struct __attribute__((packed)) msg_hello_c {
  uint8_t name[32];
  uint16_t min_version, max_version, max_region, max_s2c_ring, max_c2s_ring;
  uint8_t max_log2_ring_size;
};
struct __attribute__((packed)) msg_init_c {
  uint16_t version;
  uint32_t id;
  uint8_t mode;
  uint8_t secret[24];
  uint8_t name[32];
};
struct __attribute__((packed)) msg_add_region_c {
  uint16_t index;
  uint64_t size;
};
struct __attribute__((packed)) msg_add_ring_c {
  uint16_t flags, index, region;
  uint32_t offset;
  uint8_t log2_ring_size;
  uint16_t private_hdr_size;
};
struct __attribute__((packed)) msg_disconnect_c {
  uint32_t code;
  uint8_t string[96];
};
struct __attribute__((packed, aligned(128))) msg_c {
  uint16_t type;
  union {
    msg_hello_c hello;
    msg_init_c init;
    msg_add_region_c add_region;
    msg_add_ring_c add_ring;
    uint8_t if_name[32];
    msg_disconnect_c disconnect;
  };
};
static_assert(sizeof(msg_c) == kMsgSize, "memif_msg_t is 128 bytes");

struct __attribute__((packed)) desc_c {
  uint16_t flags;
  uint16_t region;
  uint32_t length;
  uint32_t offset;
  uint32_t metadata;
};
struct ring_c {
  alignas(64) uint32_t cookie;
  uint16_t flags;
  uint16_t head;
  alignas(64) uint16_t tail;
  alignas(64) desc_c desc[0];
};

// The addon's one errno error (af_packet, tap, vfio, af_xdp and memif all throw it): `.code` is the
// errno name, `.errno` its negative value, `.syscall` what failed.
inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  std::string m = std::string(syscall) + ": " + strerror(err);
  if (!what.empty()) m += " (" + what + ")";
  Napi::Error e = Napi::Error::New(env, m);
  const char* code = mp::ErrnoName(err);
  e.Set("code", Napi::String::New(env, code != nullptr ? code : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) { return ErrnoError(env, err, syscall, ""); }

/** The Queue class (native/memif_queue.cc). */
Napi::Function DefineQueue(Napi::Env env);

}  // namespace mp_memif
