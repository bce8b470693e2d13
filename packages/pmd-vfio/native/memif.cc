// @mp/pmd-vfio native binding, memif part: the kernel objects of DPDK's net_memif and its burst copy.
//
//   listen/connect/accept   AF_UNIX SOCK_SEQPACKET (a path or an abstract name), non-blocking, CLOEXEC
//   send/recv               one 128-byte control message, with at most one descriptor (SCM_RIGHTS, fds.h)
//   memfd                   memfd_create(MFD_ALLOW_SEALING) + ftruncate + F_SEAL_SHRINK (as DPDK)
//   fdInfo                  what a received descriptor is (regular file size + seals, eventfd, other)
//   eventfd/notify/drain    the interrupt descriptors of the rings
//   map/release             mmap of a region as an external ArrayBuffer; release swaps the pages for
//                           anonymous ones at once (no view can fault), the address goes at GC
//   watch                   uv_poll on a descriptor (watch.h), one JS callback per readable wake-up
//   Queue                   the data path, in memif_queue.cc; the ABI structs are in memif_abi.h
//
// All policy (message checks, handshake, which descriptor is acceptable) lives in TypeScript; every
// argument is checked (args.h: a wrong one is a TypeError/RangeError naming it), every syscall here is checked, and every descriptor read from shared memory is bounds-checked against the
// mapped regions before a byte is copied (the peer writes that memory).

#include "memif_abi.h"

#include <uv.h>

#include "fds.h"
#include "watch.h"

#include <set>
#include <vector>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace mp_afpacket {
void Register(Napi::Env env, Napi::Object exports);  // native/af_packet.cc
}
namespace mp_tap {
void Register(Napi::Env env, Napi::Object exports);  // native/tap.cc
}
namespace mp_xdp {
void InitAfXdp(Napi::Env env, Napi::Object exports);
}

namespace {

using namespace mp_memif;

// sockaddr_un for a path or (abstract) a name, sized as DPDK sizes it (sun_path[0] = 0, no NUL after).
bool MakeAddr(const std::string& name, bool abstract, sockaddr_un* sa, socklen_t* len) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (abstract) {
    if (name.size() + 1 > sizeof(sa->sun_path)) return false;
    memcpy(sa->sun_path + 1, name.data(), name.size());
    *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  } else {
    if (name.size() + 1 > sizeof(sa->sun_path)) return false;
    memcpy(sa->sun_path, name.data(), name.size());
    *len = sizeof(*sa);
  }
  return true;
}

int SeqpacketSocket() { return socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

// listen(name, abstract, mode, backlog) -> fd. A path held by a dead listener (connect refused) is
// replaced; a live one is EADDRINUSE.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  bool abstract = false;
  uint32_t mode = 0;
  int32_t backlog = 0;
  MP_ARG(String, name, 0);
  MP_ARG(Bool, abstract, 1);
  MP_ARG(Uint32, mode, 2);
  MP_ARG(Int32, backlog, 3);
  sockaddr_un sa;
  socklen_t len;
  if (!MakeAddr(name, abstract, &sa, &len)) {
    ErrnoError(env, ENAMETOOLONG, "bind", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = SeqpacketSocket();
  if (fd < 0) {
    ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int r = bind(fd, reinterpret_cast<sockaddr*>(&sa), len);
  if (r != 0 && errno == EADDRINUSE && !abstract) {
    struct statx st;  // statx (glibc 2.28), not lstat: lstat64@GLIBC_2.33 would raise the prebuild's floor
    int probe = SeqpacketSocket();
    if (probe < 0) {
      int e = errno;
      mp::CloseQuiet(fd);
      ErrnoError(env, e, "socket").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    bool stale = statx(AT_FDCWD, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE, &st) == 0 && S_ISSOCK(st.stx_mode) &&
                 connect(probe, reinterpret_cast<sockaddr*>(&sa), len) != 0 && errno == ECONNREFUSED;
    mp::CloseQuiet(probe);  // it only served connect()
    if (stale && unlink(name.c_str()) == 0) r = bind(fd, reinterpret_cast<sockaddr*>(&sa), len);
    else errno = EADDRINUSE;
  }
  if (r != 0) {
    int e = errno;
    mp::CloseQuiet(fd);
    ErrnoError(env, e, "bind", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!abstract && chmod(name.c_str(), static_cast<mode_t>(mode)) != 0) {
    int e = errno;
    mp::CloseQuiet(fd);
    unlink(name.c_str());  // error path: the chmod failure is the one reported
    ErrnoError(env, e, "chmod", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (listen(fd, backlog) != 0) {
    int e = errno;
    mp::CloseQuiet(fd);
    if (!abstract) unlink(name.c_str());  // error path: the listen failure is the one reported
    ErrnoError(env, e, "listen", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// connect(name, abstract) -> fd (SOCK_SEQPACKET connects at once or fails: no EINPROGRESS on AF_UNIX).
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  bool abstract = false;
  MP_ARG(String, name, 0);
  MP_ARG(Bool, abstract, 1);
  sockaddr_un sa;
  socklen_t len;
  if (!MakeAddr(name, abstract, &sa, &len)) {
    ErrnoError(env, ENAMETOOLONG, "connect", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = SeqpacketSocket();
  if (fd < 0) {
    ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    int e = errno;
    mp::CloseQuiet(fd);
    ErrnoError(env, e, "connect", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// accept(fd) -> new fd, or -errno (-EAGAIN: nobody waiting).
Napi::Value Accept(const Napi::CallbackInfo& info) {
  int lfd = -1;
  if (!mp::ArgFd(info, 0, "fd", &lfd)) return info.Env().Undefined();
  int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return Napi::Number::New(info.Env(), fd >= 0 ? fd : -errno);
}

// send(fd, bytes, passFd) -> 0 or -errno. passFd < 0: no descriptor.
Napi::Value Send(const Napi::CallbackInfo& info) {
  int fd = -1;
  mp::Span bytes;
  int32_t passFd = -1;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Span, bytes, 1);
  MP_ARG(Int32, passFd, 2);
  ssize_t n = mp::SendWithFds(fd, nullptr, 0, bytes.data, bytes.len, &passFd, passFd >= 0 ? 1 : 0,
                              MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) return Napi::Number::New(info.Env(), static_cast<double>(n));
  return Napi::Number::New(info.Env(), n == static_cast<ssize_t>(bytes.len) ? 0 : -EMSGSIZE);
}

// recv(fd, bytes, out: Int32Array[2]) -> real length (MSG_TRUNC), 0 at EOF, or -errno (-EAGAIN: none).
// out[0] = the first descriptor received (owned by the caller) or -1; out[1] = descriptors that came
// (the ones past the first are closed here; when the control data was truncated, all of them, and
// out[1] is at least 9 so the caller sees "too many").
Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  mp::Span bytes;
  Napi::Int32Array out;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Span, bytes, 1);
  MP_ARG(Int32Array, out, 2);
  if (out.ElementLength() < 2) return mp::ArgFail(info, 2, "out", "an Int32Array of 2 or more", true), env.Undefined();
  out[0] = -1;
  out[1] = 0;
  iovec iov {bytes.data, bytes.len};
  msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mp::FdControl ctl;
  mp::PrepareRx(&mh, &ctl);
  ssize_t n;
  do {
    n = recvmsg(fd, &mh, mp::kRxFlags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Napi::Number::New(env, -errno);
  int first = -1;
  mp::RxFds rx = mp::TakeFds(&mh, &first, 1);
  out[0] = first;
  out[1] = rx.truncated && rx.came <= 1 ? 9 : rx.came;  // some were lost in transit: say so
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int32_t fd = -1;
  MP_ARG(Int32, fd, 0);  // -1 (nothing open) is accepted and does nothing
  if (fd >= 0 && close(fd) != 0 && errno != EINTR) {
    ErrnoError(info.Env(), errno, "close").ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

// memfd(name, size) -> fd, sealed against shrinking (a peer that maps it can never take a SIGBUS).
Napi::Value Memfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  int64_t size = 0;
  MP_ARG(String, name, 0);
  MP_ARG(Int64, size, 1);
  int fd = memfd_create(name.c_str(), MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "memfd_create", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const char* what = nullptr;
  if (ftruncate(fd, size) != 0) what = "ftruncate";
  else if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) what = "fcntl(F_ADD_SEALS)";
  if (what != nullptr) {
    int e = errno;
    mp::CloseQuiet(fd);
    ErrnoError(env, e, what, name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// fdInfo(fd) -> { kind: 'file' | 'eventfd' | 'other', size, seals } (seals -1: not sealable)
Napi::Value FdInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  struct statx st;  // statx (glibc 2.28) on the fd itself, not fstat: fstat64@GLIBC_2.33
  if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, &st) != 0) {
    ErrnoError(env, errno, "statx").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  std::string kind = "other";
  if (S_ISREG(st.stx_mode)) {
    kind = "file";
  } else {
    char link[64];
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof(link) - 1);  // < 0: not an eventfd we can name, "other"
    if (n > 0) {
      link[n] = 0;
      if (strcmp(link, "anon_inode:[eventfd]") == 0) kind = "eventfd";
    }
  }
  // -1 (EINVAL): a regular file that cannot carry seals; the caller refuses it as unsealed.
  int seals = S_ISREG(st.stx_mode) ? fcntl(fd, F_GET_SEALS) : -1;
  o.Set("kind", kind);
  o.Set("size", Napi::Number::New(env, static_cast<double>(st.stx_size)));
  o.Set("seals", Napi::Number::New(env, seals));
  return o;
}

Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    ErrnoError(info.Env(), errno, "eventfd").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), fd);
}

// notify(fd) -> 0 or -errno: add 1 to an eventfd.
Napi::Value Notify(const Napi::CallbackInfo& info) {
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  uint64_t one = 1;
  ssize_t n = write(fd, &one, sizeof(one));
  return Napi::Number::New(info.Env(), n == sizeof(one) ? 0 : -errno);
}

// drain(fd) -> the eventfd's count (0 when none: the descriptor is non-blocking), or -errno when the
// read failed otherwise.
Napi::Value Drain(const Napi::CallbackInfo& info) {
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  uint64_t v = 0;
  ssize_t n = read(fd, &v, sizeof(v));
  if (n < 0) return Napi::Number::New(info.Env(), errno == EAGAIN ? 0 : -errno);
  return Napi::Number::New(info.Env(), n == sizeof(v) ? static_cast<double>(v) : 0);
}

// ---- mappings -----------------------------------------------------------------------------------
struct Mapping {
  uint8_t* base;
  size_t len;
};
std::set<uint8_t*> liveMappings;  // bases not yet released (one JS thread: no lock)

void FreeMapping(Napi::Env, void*, void* hint) {
  auto* m = static_cast<Mapping*>(hint);
  if (munmap(m->base, m->len) != 0) {
    // Nothing to report to at finalization; the range stays mapped (a leak, never a fault).
  }
  liveMappings.erase(m->base);
  delete m;
}

// map(fd, size) -> ArrayBuffer over the whole of it (MAP_SHARED, read/write).
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  int64_t size = 0;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Int64, size, 1);
  if (size <= 0) {
    Napi::RangeError::New(env, "map: size must be > 0").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  void* p = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ErrnoError(env, errno, "mmap").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* m = new Mapping {static_cast<uint8_t*>(p), static_cast<size_t>(size)};
  liveMappings.insert(m->base);
  return Napi::ArrayBuffer::New(env, p, static_cast<size_t>(size), FreeMapping, m);
}

// release(ab): give back the shared pages now. The range becomes private anonymous zero pages (so any
// view or queue still pointing there reads zeros instead of faulting); munmap happens at GC.
Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer ab;
  MP_ARG(ArrayBuffer, ab, 0);
  auto* base = static_cast<uint8_t*>(ab.Data());
  if (liveMappings.count(base) == 0) return Napi::Boolean::New(env, false);
  void* p = mmap(base, ab.ByteLength(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) {
    ErrnoError(env, errno, "mmap(MAP_FIXED)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  liveMappings.erase(base);
  return Napi::Boolean::New(env, true);
}

// watch(fd, cb(events)) -> { close(), ref(), unref(), pause(), resume() }: watch.h's watch; the
// descriptor stays the caller's (closed by close(fd), not by the watch). status < 0 (EBADF...) or a
// hang-up is also reported (events -1 / UV_DISCONNECT): the callback's read then sees the error/EOF.
Napi::Value WatchNew(const Napi::CallbackInfo& info) {
  int fd = -1;
  Napi::Function cb;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Function, cb, 1);
  mp::WatchOptions opt;
  opt.events = UV_READABLE | UV_DISCONNECT;
  opt.ownsFd = false;
  opt.passEvents = true;
  return mp::WatchStart(info.Env(), new mp::Watch(), fd, cb, opt, ErrnoError);
}

}  // namespace

namespace mp_vfio {
void InitVfio(Napi::Env env, Napi::Object exports);  // native/vfio.cc
}  // namespace mp_vfio

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mp_xdp::InitAfXdp(env, exports);  // native/af_xdp.cc
  exports.Set("listen", Napi::Function::New(env, Listen));
  exports.Set("connect", Napi::Function::New(env, Connect));
  exports.Set("accept", Napi::Function::New(env, Accept));
  exports.Set("send", Napi::Function::New(env, Send));
  exports.Set("recv", Napi::Function::New(env, Recv));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("memfd", Napi::Function::New(env, Memfd));
  exports.Set("fdInfo", Napi::Function::New(env, FdInfo));
  exports.Set("eventfd", Napi::Function::New(env, Eventfd));
  exports.Set("notify", Napi::Function::New(env, Notify));
  exports.Set("drain", Napi::Function::New(env, Drain));
  exports.Set("map", Napi::Function::New(env, Map));
  exports.Set("release", Napi::Function::New(env, Release));
  exports.Set("watch", Napi::Function::New(env, WatchNew));
  exports.Set("Queue", DefineQueue(env));
  mp_afpacket::Register(env, exports);
  mp_tap::Register(env, exports);
  Napi::Object l = Napi::Object::New(env);
  l.Set("msgSize", Napi::Number::New(env, sizeof(msg_c)));
  l.Set("helloName", Napi::Number::New(env, offsetof(msg_c, hello.name)));
  l.Set("helloMinVersion", Napi::Number::New(env, offsetof(msg_c, hello.min_version)));
  l.Set("helloMaxVersion", Napi::Number::New(env, offsetof(msg_c, hello.max_version)));
  l.Set("helloMaxRegion", Napi::Number::New(env, offsetof(msg_c, hello.max_region)));
  l.Set("helloMaxS2c", Napi::Number::New(env, offsetof(msg_c, hello.max_s2c_ring)));
  l.Set("helloMaxC2s", Napi::Number::New(env, offsetof(msg_c, hello.max_c2s_ring)));
  l.Set("helloMaxLog2", Napi::Number::New(env, offsetof(msg_c, hello.max_log2_ring_size)));
  l.Set("initVersion", Napi::Number::New(env, offsetof(msg_c, init.version)));
  l.Set("initId", Napi::Number::New(env, offsetof(msg_c, init.id)));
  l.Set("initMode", Napi::Number::New(env, offsetof(msg_c, init.mode)));
  l.Set("initSecret", Napi::Number::New(env, offsetof(msg_c, init.secret)));
  l.Set("initName", Napi::Number::New(env, offsetof(msg_c, init.name)));
  l.Set("regionIndex", Napi::Number::New(env, offsetof(msg_c, add_region.index)));
  l.Set("regionSize", Napi::Number::New(env, offsetof(msg_c, add_region.size)));
  l.Set("ringFlags", Napi::Number::New(env, offsetof(msg_c, add_ring.flags)));
  l.Set("ringIndex", Napi::Number::New(env, offsetof(msg_c, add_ring.index)));
  l.Set("ringRegion", Napi::Number::New(env, offsetof(msg_c, add_ring.region)));
  l.Set("ringOffset", Napi::Number::New(env, offsetof(msg_c, add_ring.offset)));
  l.Set("ringLog2", Napi::Number::New(env, offsetof(msg_c, add_ring.log2_ring_size)));
  l.Set("ringPrivHdr", Napi::Number::New(env, offsetof(msg_c, add_ring.private_hdr_size)));
  l.Set("ifName", Napi::Number::New(env, offsetof(msg_c, if_name)));
  l.Set("discCode", Napi::Number::New(env, offsetof(msg_c, disconnect.code)));
  l.Set("discString", Napi::Number::New(env, offsetof(msg_c, disconnect.string)));
  l.Set("ringHdrSize", Napi::Number::New(env, sizeof(ring_c)));
  l.Set("ringCookie", Napi::Number::New(env, offsetof(ring_c, cookie)));
  l.Set("ringFlagsOff", Napi::Number::New(env, offsetof(ring_c, flags)));
  l.Set("ringHead", Napi::Number::New(env, offsetof(ring_c, head)));
  l.Set("ringTail", Napi::Number::New(env, offsetof(ring_c, tail)));
  l.Set("descSize", Napi::Number::New(env, sizeof(desc_c)));
  l.Set("descFlags", Napi::Number::New(env, offsetof(desc_c, flags)));
  l.Set("descRegion", Napi::Number::New(env, offsetof(desc_c, region)));
  l.Set("descLength", Napi::Number::New(env, offsetof(desc_c, length)));
  l.Set("descOffset", Napi::Number::New(env, offsetof(desc_c, offset)));
  l.Set("descMetadata", Napi::Number::New(env, offsetof(desc_c, metadata)));
  l.Set("cookie", Napi::Number::New(env, kCookie));
  l.Set("sealShrink", Napi::Number::New(env, F_SEAL_SHRINK));
  exports.Set("layout", l);
  mp_vfio::InitVfio(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(mp_pmd_vfio, Init)
