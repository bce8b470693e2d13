// @mp/pmd-vfio native binding, af_packet part: the kernel objects of net_af_packet, nothing more.
//
//   afpOpen     one AF_PACKET socket: TPACKET_V3, an RX ring (blocks) and a TX ring (frames) in one
//               mapping, PACKET_QDISC_BYPASS, PACKET_LOSS, PACKET_IGNORE_OUTGOING, bound to the
//               interface, joined to a PACKET_FANOUT group (hash)
//   afpKick     sendto(fd, NULL, 0, MSG_DONTWAIT): the kernel sends the TX ring's SEND_REQUEST frames
//   afpStats    PACKET_STATISTICS (the kernel resets them at every read)
//   ifState     SIOCGIFINDEX / SIOCGIFFLAGS / SIOCGIFMTU / SIOCGIFHWADDR of an interface by name (index
//               and flags read again after an RTNL-serialised SIOCETHTOOL when not up and running)
//   ifSetUp     SIOCSIFFLAGS IFF_UP on or off
//   copyFrames  one burst of memcpy's between two buffers (bounds-checked), so that no frame crosses
//               N-API alone
//
// The rings are mapped with the memif part's `map` (a MAP_SHARED mapping of the socket) and walked in
// TypeScript (src/drivers/af-packet-ring.ts). Every syscall here is checked.

#include "fds.h"
#include "memif_abi.h"

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mp_afpacket {

using mp_memif::ErrnoError;

namespace {

// An error path: close what was opened (fd >= 0) and throw the error that stopped the call.
Napi::Value Fail(Napi::Env env, int fd, int err, const char* syscall, const std::string& what) {
  if (fd >= 0) mp::CloseQuiet(fd);
  ErrnoError(env, err, syscall, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

// afpOpen(ifname, { blockSize, blockNr, frameSize, txFrameNr, retireTovMs, qdiscBypass, fanout })
//   -> { fd, ifindex, rxSize, txSize, hdrLen, txDataOff }
// fanout: (group id) | (type and flags << 16) as an unsigned 32-bit number, or 0 for none.
Napi::Value AfpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  Napi::Object o;
  MP_ARG(String, name, 0);
  MP_ARG(Object, o, 1);
  tpacket_req3 rx {};
  tpacket_req3 tx {};
  bool qdiscBypass = false;
  uint32_t fanout = 0;
  if (!mp::PropUint32(info, 1, o, "blockSize", &rx.tp_block_size) || !mp::PropUint32(info, 1, o, "blockNr", &rx.tp_block_nr) ||
      !mp::PropUint32(info, 1, o, "frameSize", &rx.tp_frame_size) || !mp::PropUint32(info, 1, o, "retireTovMs", &rx.tp_retire_blk_tov) ||
      !mp::PropUint32(info, 1, o, "txFrameNr", &tx.tp_frame_nr) || !mp::PropBool(info, 1, o, "qdiscBypass", &qdiscBypass) ||
      !mp::PropUint32(info, 1, o, "fanout", &fanout)) {
    return env.Undefined();
  }
  if (rx.tp_frame_size == 0 || rx.tp_block_size < rx.tp_frame_size) {
    return mp::ArgFail(info, 1, "frameSize", "> 0 and <= blockSize", true), env.Undefined();
  }
  if (name.empty() || name.size() >= IFNAMSIZ) return Fail(env, -1, ENODEV, "if_nametoindex", name);
  unsigned ifindex = if_nametoindex(name.c_str());
  if (ifindex == 0) return Fail(env, -1, errno == 0 ? ENODEV : errno, "if_nametoindex", name);
  // Protocol 0: no frame reaches the socket before it is bound to the interface.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(env, -1, errno, "socket(AF_PACKET)", name);
  int v = TPACKET_V3;
  if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) != 0) return Fail(env, fd, errno, "setsockopt(PACKET_VERSION)", name);
  // The kernel's tp_hdrlen for V3 (PACKET_HDRLEN answers sizeof(tpacket3_hdr), not this): a TX frame's
  // data starts at tp_hdrlen - sizeof(sockaddr_ll) when PACKET_TX_HAS_OFF is off.
  int hdrlen = static_cast<int>(TPACKET3_HDRLEN);
  int loss = 1;  // a malformed TX frame is skipped (status AVAILABLE), never left to block the ring
  if (setsockopt(fd, SOL_PACKET, PACKET_LOSS, &loss, sizeof(loss)) != 0) return Fail(env, fd, errno, "setsockopt(PACKET_LOSS)", name);
  rx.tp_frame_nr = rx.tp_block_size / rx.tp_frame_size * rx.tp_block_nr;
  if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) != 0) return Fail(env, fd, errno, "setsockopt(PACKET_RX_RING)", name);
  tx.tp_frame_size = rx.tp_frame_size;
  tx.tp_block_size = rx.tp_block_size;
  tx.tp_block_nr = tx.tp_frame_nr / (tx.tp_block_size / tx.tp_frame_size);
  if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) != 0) return Fail(env, fd, errno, "setsockopt(PACKET_TX_RING)", name);
  if (qdiscBypass) {
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0) return Fail(env, fd, errno, "setsockopt(PACKET_QDISC_BYPASS)", name);
  }
  int ign = 1;  // our own (and the stack's) transmissions are not received back
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &ign, sizeof(ign)) != 0) return Fail(env, fd, errno, "setsockopt(PACKET_IGNORE_OUTGOING)", name);
  sockaddr_ll sll {};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) return Fail(env, fd, errno, "bind(AF_PACKET)", name);
  if (fanout != 0 && setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)) != 0) return Fail(env, fd, errno, "setsockopt(PACKET_FANOUT)", name);
  Napi::Object r = Napi::Object::New(env);
  r.Set("fd", fd);
  r.Set("ifindex", ifindex);
  r.Set("rxSize", static_cast<double>(rx.tp_block_size) * rx.tp_block_nr);
  r.Set("txSize", static_cast<double>(tx.tp_block_size) * tx.tp_block_nr);
  r.Set("hdrLen", hdrlen);
  r.Set("txDataOff", hdrlen - static_cast<int>(sizeof(sockaddr_ll)));
  return r;
}

// afpKick(fd) -> bytes queued or -errno (EAGAIN / ENOBUFS: the device is busy; ENXIO / ENETDOWN: gone or down).
Napi::Value AfpKick(const Napi::CallbackInfo& info) {
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  ssize_t r = sendto(fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : static_cast<double>(r));
}

// afpStats(fd) -> [packets, drops, freezes] since the last read.
Napi::Value AfpStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  tpacket_stats_v3 st {};
  socklen_t len = sizeof(st);
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) {
    ErrnoError(env, errno, "getsockopt(PACKET_STATISTICS)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array a = Napi::Array::New(env, 3);
  a.Set(0u, st.tp_packets);
  a.Set(1u, st.tp_drops);
  a.Set(2u, st.tp_freeze_q_cnt);
  return a;
}

// A socket for interface ioctls in this process's network namespace (or the given one's: fd >= 0).
int IoctlSocket(int fd) { return fd >= 0 ? fd : socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

// ifState(name, fd) -> { ifindex, up, running, mtu, mac } ; throws ENODEV for no such interface.
Napi::Value IfState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  int32_t fd = -1;
  MP_ARG(String, name, 0);
  MP_ARG(Int32, fd, 1);  // < 0: a socket of this process's namespace
  int given = fd;
  if (name.empty() || name.size() >= IFNAMSIZ) return Fail(env, -1, ENODEV, "ioctl(SIOCGIFINDEX)", name);
  int s = IoctlSocket(given);
  if (s < 0) return Fail(env, -1, errno, "socket", name);
  int own = given >= 0 ? -1 : s;
  ifreq r {};
  memcpy(r.ifr_name, name.data(), name.size());
  int ifindex = 0;
  unsigned flags = 0;
  // Two passes at most: the second after an RTNL barrier, when the first saw the link not up and running.
  for (int pass = 0;; pass++) {
    if (ioctl(s, SIOCGIFINDEX, &r) != 0) return Fail(env, own, errno, "ioctl(SIOCGIFINDEX)", name);
    ifindex = r.ifr_ifindex;
    if (ioctl(s, SIOCGIFFLAGS, &r) != 0) return Fail(env, own, errno, "ioctl(SIOCGIFFLAGS)", name);
    flags = static_cast<unsigned short>(r.ifr_flags);
    if (pass == 1 || ((flags & IFF_UP) != 0 && (flags & IFF_RUNNING) != 0)) break;
    // These ioctls read without RTNL, so they can see a change the kernel makes under RTNL half done:
    // dev_close clears netif_running (which hides IFF_RUNNING) first and IFF_UP last, and `ip link del`
    // closes the device (and its veth peer's carrier) before unlisting it; a reader in between takes a
    // link going down or away for one without carrier. SIOCETHTOOL takes RTNL, so once it returns no
    // such change is in progress: read again. Its own answer does not matter (EOPNOTSUPP: a device
    // without get_link, RTNL taken all the same).
    ethtool_value ev {};
    ev.cmd = ETHTOOL_GLINK;
    r.ifr_data = reinterpret_cast<char*>(&ev);
    if (ioctl(s, SIOCETHTOOL, &r) != 0 && errno != EOPNOTSUPP) return Fail(env, own, errno, "ioctl(SIOCETHTOOL)", name);
  }
  if (ioctl(s, SIOCGIFMTU, &r) != 0) return Fail(env, own, errno, "ioctl(SIOCGIFMTU)", name);
  int mtu = r.ifr_mtu;
  if (ioctl(s, SIOCGIFHWADDR, &r) != 0) return Fail(env, own, errno, "ioctl(SIOCGIFHWADDR)", name);
  if (own >= 0) mp::CloseQuiet(own);  // a socket that only served the ioctls
  Napi::Object o = Napi::Object::New(env);
  o.Set("ifindex", ifindex);
  o.Set("up", (flags & IFF_UP) != 0);
  o.Set("running", (flags & IFF_RUNNING) != 0);
  o.Set("mtu", mtu);
  Napi::Array mac = Napi::Array::New(env, 6);
  for (uint32_t i = 0; i < 6; i++) mac.Set(i, static_cast<uint8_t>(r.ifr_hwaddr.sa_data[i]));
  o.Set("mac", mac);
  return o;
}

// ifSetUp(name, up, fd): set IFF_UP on or off.
Napi::Value IfSetUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  bool up = false;
  int32_t fd = -1;
  MP_ARG(String, name, 0);
  MP_ARG(Bool, up, 1);
  MP_ARG(Int32, fd, 2);  // < 0: a socket of this process's namespace
  int given = fd;
  if (name.empty() || name.size() >= IFNAMSIZ) return Fail(env, -1, ENODEV, "ioctl(SIOCGIFFLAGS)", name);
  int s = IoctlSocket(given);
  if (s < 0) return Fail(env, -1, errno, "socket", name);
  int own = given >= 0 ? -1 : s;
  ifreq r {};
  memcpy(r.ifr_name, name.data(), name.size());
  if (ioctl(s, SIOCGIFFLAGS, &r) != 0) return Fail(env, own, errno, "ioctl(SIOCGIFFLAGS)", name);
  if (up) r.ifr_flags = static_cast<short>(r.ifr_flags | IFF_UP);
  else r.ifr_flags = static_cast<short>(r.ifr_flags & ~IFF_UP);
  if (ioctl(s, SIOCSIFFLAGS, &r) != 0) return Fail(env, own, errno, "ioctl(SIOCSIFFLAGS)", name);
  if (own >= 0) mp::CloseQuiet(own);  // a socket that only served the ioctls
  return env.Undefined();
}

// copyFrames(dst, dstOffs, src, srcOffs, lens, n) -> how many were copied (stops at the first one out
// of bounds of either buffer).
Napi::Value CopyFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  mp::Span dst, src;
  Napi::Uint32Array dOff, sOff, lens;
  uint32_t count = 0;
  if (!mp::ArgSpan(info, 0, "dst", &dst) || !mp::ArgUint32Array(info, 1, "dstOffs", &dOff) ||
      !mp::ArgSpan(info, 2, "src", &src) || !mp::ArgUint32Array(info, 3, "srcOffs", &sOff) ||
      !mp::ArgUint32Array(info, 4, "lens", &lens) || !mp::ArgUint32(info, 5, "n", &count)) {
    return env.Undefined();
  }
  size_t dlen = dst.len, slen = src.len;
  size_t n = count;
  if (n > dOff.ElementLength() || n > sOff.ElementLength() || n > lens.ElementLength()) n = 0;
  size_t i = 0;
  for (; i < n; i++) {
    size_t l = lens[i], d = dOff[i], s = sOff[i];
    if (d > dlen || l > dlen - d || s > slen || l > slen - s) break;
    memcpy(dst.data + d, src.data + s, l);
  }
  return Napi::Number::New(env, static_cast<double>(i));
}

}  // namespace

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("afpOpen", Napi::Function::New(env, AfpOpen));
  exports.Set("afpKick", Napi::Function::New(env, AfpKick));
  exports.Set("afpStats", Napi::Function::New(env, AfpStats));
  exports.Set("ifState", Napi::Function::New(env, IfState));
  exports.Set("ifSetUp", Napi::Function::New(env, IfSetUp));
  exports.Set("copyFrames", Napi::Function::New(env, CopyFrames));
  Napi::Object l = Napi::Object::New(env);
  l.Set("blockStatus", offsetof(tpacket_block_desc, hdr.bh1.block_status));
  l.Set("numPkts", offsetof(tpacket_block_desc, hdr.bh1.num_pkts));
  l.Set("firstPkt", offsetof(tpacket_block_desc, hdr.bh1.offset_to_first_pkt));
  l.Set("nextOffset", offsetof(tpacket3_hdr, tp_next_offset));
  l.Set("snaplen", offsetof(tpacket3_hdr, tp_snaplen));
  l.Set("len", offsetof(tpacket3_hdr, tp_len));
  l.Set("status", offsetof(tpacket3_hdr, tp_status));
  l.Set("mac", offsetof(tpacket3_hdr, tp_mac));
  l.Set("rxhash", offsetof(tpacket3_hdr, hv1.tp_rxhash));
  l.Set("hdrSize", sizeof(tpacket3_hdr));
  exports.Set("afpLayout", l);
}

}  // namespace mp_afpacket
