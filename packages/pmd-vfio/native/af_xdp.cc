// @mp/pmd-vfio native binding, AF_XDP part: the kernel objects of net_af_xdp, by raw syscalls only
// (no libbpf, no libxdp: the prebuild loads on a machine without them).
//
//   xdpIfindex / xdpIfFlags / xdpChannels   if_nametoindex, SIOCGIFNAME + SIOCGIFFLAGS (again after an
//                  RTNL-serialised SIOCETHTOOL when not up and running), ETHTOOL_GCHANNELS
//   xdpSocket      socket(AF_XDP) + XDP_UMEM_REG over a caller's ArrayBuffer range + the 4 ring sizes
//   xdpBind        bind(sockaddr_xdp) to (ifindex, queue) in copy mode
//   xdpRings       XDP_MMAP_OFFSETS + mmap of the rx/tx/fill/completion rings (any process holding the fd)
//   xdpKick        sendto(fd, NULL, 0, MSG_DONTWAIT): copy-mode tx runs inside this call
//   xdpStats       XDP_STATISTICS (the kernel's drops on a socket)
//   xdpMapCreate / xdpMapSet   BPF_MAP_CREATE (XSKMAP) / BPF_MAP_UPDATE_ELEM (queue -> socket)
//   xdpProgLoad    BPF_PROG_LOAD of the program in af_xdp_prog.h
//   xdpAttach / xdpDetach      BPF_LINK_CREATE (BPF_XDP) / BPF_LINK_DETACH: a link fd every process of
//                              the group holds, so the kernel detaches the program when the last one dies
//   xdpCopy        n memcpy's between two ArrayBuffers (offsets and lengths bounds-checked): the
//                  UMEM <-> mbuf copy of one burst in one call
//
// Ring indices are read and written in TypeScript (Atomics on the mapped rings); nothing here runs
// per packet except xdpCopy's loop.

#include <napi.h>

#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>  // XDP_FLAGS_*
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "af_xdp_prog.h"
#include "fds.h"
#include "memif_abi.h"  // ErrnoError, args.h

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace {

using mp_memif::ErrnoError;

Napi::Value Throw(Napi::Env env, int err, const char* syscall, const std::string& what = "") {
  ErrnoError(env, err, syscall, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

long Bpf(int cmd, union bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

// ---- interfaces ----------------------------------------------------------------------------------

Napi::Value Ifindex(const Napi::CallbackInfo& info) {
  std::string name;
  MP_ARG(String, name, 0);
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) return Throw(info.Env(), errno == ENXIO ? ENODEV : errno, "if_nametoindex", name);
  return Napi::Number::New(info.Env(), idx);
}

// xdpIfFlags(ifindex) -> IFF_* flags, or -errno (-ENODEV: no such interface any more).
Napi::Value IfFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t ifindex = 0;
  MP_ARG(Int32, ifindex, 0);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return Napi::Number::New(env, -errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_ifindex = ifindex;
  int r = ioctl(s, SIOCGIFNAME, &ifr);
  if (r == 0) r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0 && (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) != (IFF_UP | IFF_RUNNING)) {
    // Read without RTNL, the flags may be a change half made (`ip link del` closes the device before
    // unlisting it, `ip link set down` hides IFF_RUNNING before clearing IFF_UP): wait for RTNL with
    // SIOCETHTOOL (its answer does not matter; EOPNOTSUPP takes RTNL too) and read again, as
    // af_packet.cc's ifState does.
    ethtool_value ev {};
    ev.cmd = ETHTOOL_GLINK;
    ifr.ifr_data = reinterpret_cast<char*>(&ev);
    r = ioctl(s, SIOCETHTOOL, &ifr);
    if (r != 0 && errno == EOPNOTSUPP) r = 0;
    if (r == 0) {
      memset(&ifr, 0, sizeof(ifr));
      ifr.ifr_ifindex = ifindex;
      r = ioctl(s, SIOCGIFNAME, &ifr);
      if (r == 0) r = ioctl(s, SIOCGIFFLAGS, &ifr);
    }
  }
  int e = errno;
  mp::CloseQuiet(s);  // a socket that only served the ioctls
  return Napi::Number::New(env, r == 0 ? static_cast<uint16_t>(ifr.ifr_flags) : -e);
}

// xdpChannels(name) -> { rx, tx, combined, maxRx, maxTx, maxCombined } (ETHTOOL_GCHANNELS), or
// undefined when the driver does not report channels (EOPNOTSUPP).
Napi::Value Channels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  MP_ARG(String, name, 0);
  if (name.size() >= IFNAMSIZ) return Throw(env, ENAMETOOLONG, "ioctl", name);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return Throw(env, errno, "socket");
  struct ethtool_channels ch;
  memset(&ch, 0, sizeof(ch));
  ch.cmd = ETHTOOL_GCHANNELS;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_data = reinterpret_cast<char*>(&ch);
  int r = ioctl(s, SIOCETHTOOL, &ifr);
  int e = errno;
  mp::CloseQuiet(s);  // a socket that only served the ioctl
  if (r != 0) {
    if (e == EOPNOTSUPP) return env.Undefined();
    return Throw(env, e, "ioctl(SIOCETHTOOL)", name);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("rx", ch.rx_count);
  o.Set("tx", ch.tx_count);
  o.Set("combined", ch.combined_count);
  o.Set("maxRx", ch.max_rx);
  o.Set("maxTx", ch.max_tx);
  o.Set("maxCombined", ch.max_combined);
  return o;
}

// ---- sockets and rings ---------------------------------------------------------------------------

int SetRing(int fd, int opt, uint32_t n) { return setsockopt(fd, SOL_XDP, opt, &n, sizeof(n)); }

// xdpSocket(buf, off, len, frameSize, fillSize, compSize, rxSize, txSize) -> fd. The UMEM is
// buf[off, off + len): page aligned, frameSize a power of two in 2048..4096 (the kernel checks).
Napi::Value Socket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer ab;
  int64_t off = 0, len = 0;
  uint32_t frameSize = 0, fillSize = 0, compSize = 0, rxSize = 0, txSize = 0;
  if (!mp::ArgArrayBuffer(info, 0, "buf", &ab) || !mp::ArgInt64(info, 1, "off", &off) || !mp::ArgInt64(info, 2, "len", &len) ||
      !mp::ArgUint32(info, 3, "frameSize", &frameSize) || !mp::ArgUint32(info, 4, "fillSize", &fillSize) ||
      !mp::ArgUint32(info, 5, "compSize", &compSize) || !mp::ArgUint32(info, 6, "rxSize", &rxSize) ||
      !mp::ArgUint32(info, 7, "txSize", &txSize)) {
    return env.Undefined();
  }
  if (off < 0 || len <= 0 || static_cast<uint64_t>(off + len) > ab.ByteLength()) {
    Napi::RangeError::New(env, "xdpSocket: UMEM range outside the buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return Throw(env, errno, "socket(AF_XDP)");
  struct xdp_umem_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.addr = reinterpret_cast<uintptr_t>(static_cast<uint8_t*>(ab.Data()) + static_cast<size_t>(off));
  reg.len = static_cast<uint64_t>(len);
  reg.chunk_size = frameSize;
  reg.headroom = 0;
  const char* what = "XDP_UMEM_REG";
  int r = setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg));
  if (r == 0 && (r = SetRing(fd, XDP_UMEM_FILL_RING, fillSize)) != 0) what = "XDP_UMEM_FILL_RING";
  if (r == 0 && (r = SetRing(fd, XDP_UMEM_COMPLETION_RING, compSize)) != 0) what = "XDP_UMEM_COMPLETION_RING";
  if (r == 0 && (r = SetRing(fd, XDP_RX_RING, rxSize)) != 0) what = "XDP_RX_RING";
  if (r == 0 && (r = SetRing(fd, XDP_TX_RING, txSize)) != 0) what = "XDP_TX_RING";
  if (r != 0) {
    int e = errno;
    mp::CloseQuiet(fd);
    return Throw(env, e, "setsockopt", what);
  }
  return Napi::Number::New(env, fd);
}

// xdpBind(fd, ifindex, queue): copy mode (XDP_COPY), works on any driver (veth included).
Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd = -1;
  uint32_t ifindex = 0, queue = 0;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Uint32, ifindex, 1);
  MP_ARG(Uint32, queue, 2);
  struct sockaddr_xdp sx;
  memset(&sx, 0, sizeof(sx));
  sx.sxdp_family = AF_XDP;
  sx.sxdp_flags = XDP_COPY;
  sx.sxdp_ifindex = ifindex;
  sx.sxdp_queue_id = queue;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sx), sizeof(sx)) != 0) {
    return Throw(info.Env(), errno, "bind(AF_XDP)", "queue " + std::to_string(sx.sxdp_queue_id));
  }
  return info.Env().Undefined();
}

struct RingMap {
  void* base;
  size_t len;
};

void FreeRing(Napi::Env, void*, void* hint) {
  auto* m = static_cast<RingMap*>(hint);
  if (munmap(m->base, m->len) != 0) {
    // Nothing to report to at finalization: the range stays mapped (a leak, never a fault).
  }
  delete m;
}

// One ring: mmap(fd, pgoff) of desc + n entries, as an external ArrayBuffer with its offsets.
bool MapRing(Napi::Env env, int fd, const xdp_ring_offset& o, uint32_t n, size_t entry, uint64_t pgoff,
             const char* name, Napi::Object out) {
  size_t len = static_cast<size_t>(o.desc) + n * entry;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(pgoff));
  if (p == MAP_FAILED) {
    ErrnoError(env, errno, "mmap", std::string(name) + " ring").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("buf", Napi::ArrayBuffer::New(env, p, len, FreeRing, new RingMap {p, len}));
  r.Set("producer", Napi::Number::New(env, static_cast<double>(o.producer)));
  r.Set("consumer", Napi::Number::New(env, static_cast<double>(o.consumer)));
  r.Set("flags", Napi::Number::New(env, static_cast<double>(o.flags)));
  r.Set("desc", Napi::Number::New(env, static_cast<double>(o.desc)));
  out.Set(name, r);
  return true;
}

// xdpRings(fd, fillSize, compSize, rxSize, txSize) -> { fill, comp, rx, tx }: each { buf, producer,
// consumer, flags, desc } (byte offsets in buf). Unmapped when the buffers are collected.
Napi::Value Rings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint32_t fillSize = 0, compSize = 0, rxSize = 0, txSize = 0;
  if (!mp::ArgFd(info, 0, "fd", &fd) || !mp::ArgUint32(info, 1, "fillSize", &fillSize) ||
      !mp::ArgUint32(info, 2, "compSize", &compSize) || !mp::ArgUint32(info, 3, "rxSize", &rxSize) ||
      !mp::ArgUint32(info, 4, "txSize", &txSize)) {
    return env.Undefined();
  }
  struct xdp_mmap_offsets off;
  socklen_t ol = sizeof(off);
  memset(&off, 0, sizeof(off));
  if (getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) != 0) return Throw(env, errno, "getsockopt(XDP_MMAP_OFFSETS)");
  if (ol != sizeof(off)) return Throw(env, EPROTO, "getsockopt(XDP_MMAP_OFFSETS)", "kernel without ring flags (< 5.4)");
  Napi::Object out = Napi::Object::New(env);
  if (!MapRing(env, fd, off.fr, fillSize, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING, "fill", out)) return env.Undefined();
  if (!MapRing(env, fd, off.cr, compSize, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING, "comp", out)) return env.Undefined();
  if (!MapRing(env, fd, off.rx, rxSize, sizeof(xdp_desc), XDP_PGOFF_RX_RING, "rx", out)) return env.Undefined();
  if (!MapRing(env, fd, off.tx, txSize, sizeof(xdp_desc), XDP_PGOFF_TX_RING, "tx", out)) return env.Undefined();
  return out;
}

// xdpKick(fd) -> 0 or -errno (EAGAIN / EBUSY / ENOBUFS: the kernel is busy, try at the next burst).
Napi::Value Kick(const Napi::CallbackInfo& info) {
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  ssize_t r = sendto(fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

// xdpStats(fd) -> XDP_STATISTICS: what the kernel dropped on this socket.
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  struct xdp_statistics st;
  memset(&st, 0, sizeof(st));
  socklen_t len = sizeof(st);
  if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len) != 0) return Throw(env, errno, "getsockopt(XDP_STATISTICS)");
  Napi::Object o = Napi::Object::New(env);
  o.Set("rxDropped", Napi::Number::New(env, static_cast<double>(st.rx_dropped)));
  o.Set("rxInvalid", Napi::Number::New(env, static_cast<double>(st.rx_invalid_descs)));
  o.Set("txInvalid", Napi::Number::New(env, static_cast<double>(st.tx_invalid_descs)));
  o.Set("rxRingFull", Napi::Number::New(env, static_cast<double>(st.rx_ring_full)));
  o.Set("rxFillEmpty", Napi::Number::New(env, static_cast<double>(st.rx_fill_ring_empty_descs)));
  o.Set("txRingEmpty", Napi::Number::New(env, static_cast<double>(st.tx_ring_empty_descs)));
  return o;
}

// ---- BPF ---------------------------------------------------------------------------------------

// xdpMapCreate(entries) -> fd of an XSKMAP (key: rx queue index, value: socket fd).
Napi::Value MapCreate(const Napi::CallbackInfo& info) {
  uint32_t entries = 0;
  MP_ARG(Uint32, entries, 0);
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_type = BPF_MAP_TYPE_XSKMAP;
  a.key_size = 4;
  a.value_size = 4;
  a.max_entries = entries;
  memcpy(a.map_name, "mp_xsks", sizeof("mp_xsks"));
  long fd = Bpf(BPF_MAP_CREATE, &a);
  if (fd < 0) return Throw(info.Env(), errno, "bpf(BPF_MAP_CREATE)", "XSKMAP");
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// xdpMapSet(mapFd, key, fd): fd < 0 deletes the key.
Napi::Value MapSet(const Napi::CallbackInfo& info) {
  int mapFd = -1;
  uint32_t key = 0;
  int32_t fd = -1;
  MP_ARG(Fd, mapFd, 0);
  MP_ARG(Uint32, key, 1);
  MP_ARG(Int32, fd, 2);  // < 0: delete the key
  uint32_t val = static_cast<uint32_t>(fd);
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_fd = static_cast<uint32_t>(mapFd);
  a.key = reinterpret_cast<uintptr_t>(&key);
  bool del = fd < 0;
  if (!del) {
    a.value = reinterpret_cast<uintptr_t>(&val);
    a.flags = BPF_ANY;
  }
  if (Bpf(del ? BPF_MAP_DELETE_ELEM : BPF_MAP_UPDATE_ELEM, &a) != 0 && !(del && errno == ENOENT)) {
    return Throw(info.Env(), errno, del ? "bpf(BPF_MAP_DELETE_ELEM)" : "bpf(BPF_MAP_UPDATE_ELEM)", "queue " + std::to_string(key));
  }
  return info.Env().Undefined();
}

// xdpProgLoad(mapFd) -> prog fd. The verifier's log is in the error message when it refuses.
Napi::Value ProgLoad(const Napi::CallbackInfo& info) {
  int mapFd = -1;
  MP_ARG(Fd, mapFd, 0);
  struct bpf_insn prog[mp_xdp::kProgLen];
  mp_xdp::MakeProg(prog, mapFd);
  static const char license[] = "Dual BSD/GPL";
  char log[1024];
  log[0] = 0;
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.expected_attach_type = BPF_XDP;
  a.insn_cnt = mp_xdp::kProgLen;
  a.insns = reinterpret_cast<uintptr_t>(prog);
  a.license = reinterpret_cast<uintptr_t>(license);
  memcpy(a.prog_name, "mp_xsk_redir", sizeof("mp_xsk_redir"));
  long fd = Bpf(BPF_PROG_LOAD, &a);
  if (fd < 0 && errno == EACCES) {
    // Load again with the verifier's log, for the message.
    a.log_level = 1;
    a.log_buf = reinterpret_cast<uintptr_t>(log);
    a.log_size = sizeof(log);
    fd = Bpf(BPF_PROG_LOAD, &a);
    log[sizeof(log) - 1] = 0;
  }
  if (fd < 0) return Throw(info.Env(), errno, "bpf(BPF_PROG_LOAD)", log);
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// BPF_LINK_CREATE (BPF_XDP) in one mode; fd or -errno.
long LinkCreate(int prog, int ifindex, uint32_t mode) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.link_create.prog_fd = static_cast<uint32_t>(prog);
  a.link_create.target_ifindex = static_cast<uint32_t>(ifindex);
  a.link_create.attach_type = BPF_XDP;
  a.link_create.flags = mode;
  long fd = Bpf(BPF_LINK_CREATE, &a);
  return fd < 0 ? -errno : fd;
}

// xdpAttach(ifindex, progFd) -> { fd, mode }: a bpf_link (native mode, else generic). The program stays
// attached while any process holds a duplicate of the link fd, and is detached by the kernel when the
// last one closes (every process of the group died) or by xdpDetach. EBUSY: another program is attached.
Napi::Value Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t ifindex = 0;
  int progFd = -1;
  MP_ARG(Int32, ifindex, 0);
  MP_ARG(Fd, progFd, 1);
  int prog = progFd;
  const char* mode = "drv";
  long fd = LinkCreate(prog, ifindex, XDP_FLAGS_DRV_MODE);
  if (fd == -EOPNOTSUPP || fd == -EINVAL) {
    // No native XDP in this driver: the generic (skb) hook.
    mode = "skb";
    fd = LinkCreate(prog, ifindex, XDP_FLAGS_SKB_MODE);
  }
  if (fd < 0) return Throw(env, static_cast<int>(-fd), "bpf(BPF_LINK_CREATE)", "XDP on ifindex " + std::to_string(ifindex));
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", Napi::Number::New(env, static_cast<double>(fd)));
  o.Set("mode", Napi::String::New(env, mode));
  return o;
}

// xdpDetach(linkFd) -> 0 or -errno: BPF_LINK_DETACH, the program leaves the interface for every holder.
Napi::Value Detach(const Napi::CallbackInfo& info) {
  int linkFd = -1;
  MP_ARG(Fd, linkFd, 0);
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.link_detach.link_fd = static_cast<uint32_t>(linkFd);
  return Napi::Number::New(info.Env(), Bpf(BPF_LINK_DETACH, &a) == 0 ? 0 : -errno);
}

// ---- copy ----------------------------------------------------------------------------------------

// xdpCopy(src, srcOff, dst, dstOff, lens, n) -> how many were copied (stops at the first range outside
// its buffer). src/dst: ArrayBuffers; srcOff/dstOff/lens: Uint32Arrays (or a Float64Array srcOff for
// offsets past 4 GiB is not needed: UMEMs and pools are < 4 GiB).
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer src, dst;
  Napi::Uint32Array so, doff, lens;
  uint32_t count = 0;
  if (!mp::ArgArrayBuffer(info, 0, "src", &src) || !mp::ArgUint32Array(info, 1, "srcOff", &so) ||
      !mp::ArgArrayBuffer(info, 2, "dst", &dst) || !mp::ArgUint32Array(info, 3, "dstOff", &doff) ||
      !mp::ArgUint32Array(info, 4, "lens", &lens) || !mp::ArgUint32(info, 5, "n", &count)) {
    return env.Undefined();
  }
  size_t n = count;
  if (n > so.ElementLength() || n > doff.ElementLength() || n > lens.ElementLength()) {
    Napi::RangeError::New(env, "xdpCopy: n exceeds an offsets array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* s = static_cast<uint8_t*>(src.Data());
  auto* d = static_cast<uint8_t*>(dst.Data());
  size_t sl = src.ByteLength();
  size_t dl = dst.ByteLength();
  size_t i = 0;
  for (; i < n; i++) {
    size_t a = so[i], b = doff[i], l = lens[i];
    if (a + l > sl || b + l > dl) break;
    memcpy(d + b, s + a, l);
  }
  return Napi::Number::New(env, static_cast<double>(i));
}

}  // namespace

namespace mp_xdp {

/** Add the AF_XDP functions to the addon's exports (called from the module's Init). */
void InitAfXdp(Napi::Env env, Napi::Object exports) {
  exports.Set("xdpIfindex", Napi::Function::New(env, Ifindex));
  exports.Set("xdpIfFlags", Napi::Function::New(env, IfFlags));
  exports.Set("xdpChannels", Napi::Function::New(env, Channels));
  exports.Set("xdpSocket", Napi::Function::New(env, Socket));
  exports.Set("xdpBind", Napi::Function::New(env, Bind));
  exports.Set("xdpRings", Napi::Function::New(env, Rings));
  exports.Set("xdpKick", Napi::Function::New(env, Kick));
  exports.Set("xdpStats", Napi::Function::New(env, Stats));
  exports.Set("xdpMapCreate", Napi::Function::New(env, MapCreate));
  exports.Set("xdpMapSet", Napi::Function::New(env, MapSet));
  exports.Set("xdpProgLoad", Napi::Function::New(env, ProgLoad));
  exports.Set("xdpAttach", Napi::Function::New(env, Attach));
  exports.Set("xdpDetach", Napi::Function::New(env, Detach));
  exports.Set("xdpCopy", Napi::Function::New(env, Copy));
  Napi::Object l = Napi::Object::New(env);
  l.Set("descSize", Napi::Number::New(env, sizeof(struct xdp_desc)));
  l.Set("descAddr", Napi::Number::New(env, offsetof(struct xdp_desc, addr)));
  l.Set("descLen", Napi::Number::New(env, offsetof(struct xdp_desc, len)));
  l.Set("descOptions", Napi::Number::New(env, offsetof(struct xdp_desc, options)));
  l.Set("iffUp", Napi::Number::New(env, IFF_UP));
  l.Set("iffRunning", Napi::Number::New(env, IFF_RUNNING));
  exports.Set("xdpLayout", l);
}

}  // namespace mp_xdp
