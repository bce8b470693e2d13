// af_xdp_prog.h: net_af_xdp's XDP program, as BPF instructions (no compiler, no libbpf, no object file).
//
//   r2 = ((struct xdp_md *)r1)->rx_queue_index      ldxw r2, [r1 + 16]
//   r1 = <the XSKMAP>                                ld_imm64 r1, map fd (BPF_PSEUDO_MAP_FD)
//   r3 = XDP_PASS                                    mov64 r3, 2
//   r0 = bpf_redirect_map(r1, r2, r3)                call 51
//   return r0                                        exit
//
// bpf_redirect_map's low flag bits are the action returned when the key has no socket (kernel ≥ 5.3):
// a frame on a queue without an AF_XDP socket goes to the kernel's stack, as DPDK's default program.
#pragma once
#include <linux/bpf.h>

#include <cstddef>
#include <cstdint>

namespace mp_xdp {

constexpr uint8_t kLdxW = BPF_LDX | BPF_MEM | BPF_W;
constexpr uint8_t kLdImm64 = BPF_LD | BPF_DW | BPF_IMM;
constexpr uint8_t kMov64K = BPF_ALU64 | BPF_MOV | BPF_K;
constexpr uint8_t kCall = BPF_JMP | BPF_CALL;
constexpr uint8_t kExit = BPF_JMP | BPF_EXIT;

/** Offset of rx_queue_index in struct xdp_md (data, data_end, data_meta, ingress_ifindex: u32 each). */
constexpr int16_t kRxQueueIndexOff = 16;
static_assert(offsetof(struct xdp_md, rx_queue_index) == kRxQueueIndexOff, "xdp_md layout");

/** The instruction at which the map fd goes (the first half of ld_imm64). */
constexpr size_t kMapFdInsn = 1;
constexpr size_t kProgLen = 6;

/** The program with `mapFd` patched in. */
inline void MakeProg(struct bpf_insn (&out)[kProgLen], int mapFd) {
  const struct bpf_insn prog[kProgLen] = {
      {kLdxW, BPF_REG_2, BPF_REG_1, kRxQueueIndexOff, 0},
      {kLdImm64, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, 0},
      {0, 0, 0, 0, 0},
      {kMov64K, BPF_REG_3, 0, 0, XDP_PASS},
      {kCall, 0, 0, 0, BPF_FUNC_redirect_map},
      {kExit, 0, 0, 0, 0},
  };
  for (size_t i = 0; i < kProgLen; i++) out[i] = prog[i];
  out[kMapFdInsn].imm = mapFd;
}

}  // namespace mp_xdp
