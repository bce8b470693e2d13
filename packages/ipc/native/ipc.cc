// @mp/ipc native binding: unix datagram sockets with fd passing and sender credentials.
//
//   open        socket(AF_UNIX, SOCK_DGRAM) + bind(path) + chmod + SO_PASSCRED (or unbound)
//   probe       is a socket path bound by a live process? (connect: 0, ECONNREFUSED, ENOENT)
//   send        sendmsg to a sockaddr_un (built by TS) with SCM_RIGHTS; 0 or -errno, never throws
//   recv        drain up to N datagrams into a record buffer (optionally poll() first, bounded)
//   watch       uv_poll on the socket: on readable, drain a batch and call back once with the count;
//               optionally keep polling (bounded) for the next datagram before going back to epoll
//   yieldCpu    sched_yield (a sender waiting for room in a full inbox)
//   close       close(fd)
// Inboxes (shared-memory queues, src/inbox.ts) are TypeScript; the only thing here is that the spin
// loops (requestSync's recv, poll mode's watch) also watch one 32-bit word of the inbox (pubCount)
// with plain loads, so a message published there ends the spin without any system call.
//   memfdCreate memfd_create (for fd passing in tests and examples)
//
// The datagram layout is DPDK 22.11's struct mp_msg_internal; it is declared here only to export its
// sizeof/offsetof so src/layout.ts can be checked against the compiler. All policy (validation, uid
// check, dispatch) lives in TypeScript: this file moves bytes and descriptors.

#include <napi.h>
#include "errno_name.h"
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
// A buffer is min(16, len / 512) records, then the spill area, kSpillMax bytes per record: @mp peers
// may send datagrams of k * 332 bytes (k coalesced messages, k <= kMaxCoalesce); their bytes past the
// first 332 go to the record's spill room.
constexpr size_t kRecLen = 0, kRecFlags = 4, kRecPid = 8, kRecUid = 12, kRecGid = 16, kRecNfds = 20,
                 kRecFds = 24, kRecPathLen = 56, kRecPath = 60, kRecSpill = 168, kRecCarrier = 172, kRecData = 176,
                 kRecSize = 512;
constexpr size_t kRecsPerBatch = 16;
constexpr size_t kMaxCoalesce = 32;
constexpr size_t kSpillMax = (kMaxCoalesce - 1) * kWireSize;  // spill room per record
constexpr int kRxFdOverflow = 0x40000000;  // more than 8 fds came: the extra ones were closed here
constexpr int kMaxRxFds = 64;               // control room; beyond it the kernel sets MSG_CTRUNC
constexpr int kSendSliceUs = 5000;          // SO_SNDTIMEO of every socket
static_assert(kRecData + kWireSize <= kRecSize, "record too small");
static_assert(sizeof(((sockaddr_un*)nullptr)->sun_path) == 108, "sun_path");

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what = "") {
  std::string m = std::string(syscall) + ": " + strerror(err);
  if (!what.empty()) m += " (" + what + ")";
  Napi::Error e = Napi::Error::New(env, m);
  const char* code = mp::ErrnoName(err);
  e.Set("code", Napi::String::New(env, code != nullptr ? code : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

bool BytesOf(const Napi::Value& v, uint8_t** data, size_t* len) {
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    *data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    *len = ta.ByteLength();
    return true;
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
    *data = static_cast<uint8_t*>(ab.Data());
    *len = ab.ByteLength();
    return true;
  }
  return false;
}

// Checked argument getters: a wrong type is a TypeError (thrown; the getter returns false), never a
// silently coerced value (a missing fd read as 0 would act on stdin).
bool IntArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int32_t* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= INT32_MIN && d <= INT32_MAX) || d != static_cast<double>(static_cast<int32_t>(d))) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a 32-bit integer").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int32_t>(d);
  return true;
}

bool DoubleArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, double* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().DoubleValue();
  return true;
}

bool StringArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, std::string* out) {
  if (i >= info.Length() || !info[i].IsString()) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, bool* out) {
  if (i >= info.Length() || !info[i].IsBoolean()) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a boolean").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Boolean>().Value();
  return true;
}

// open(path | null, mode) -> fd. Bound sockets are chmod'ed to mode; SO_PASSCRED is always on.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  int32_t mode = 0;
  const bool bound = info.Length() > 0 && !info[0].IsNull();
  if (bound && (!StringArg(info, 0, "open", "path", &path) || !IntArg(info, 1, "open", "mode", &mode))) return env.Undefined();
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int one = 1;
  // A blocking send waits at most this long for room in a full peer queue (then EAGAIN): the
  // caller drains its own queue and retries, so two processes flooding each other never deadlock.
  // Unchecked, a failure here would leave sends blocking without bound on a full peer queue.
  timeval tv {0, kSendSliceUs};
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
    int e = errno;
    close(fd);
    ErrnoError(env, e, "setsockopt(SO_SNDTIMEO)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) {
    int e = errno;
    close(fd);
    ErrnoError(env, e, "setsockopt(SO_PASSCRED)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (bound) {
    sockaddr_un un {};
    un.sun_family = AF_UNIX;
    if (path.size() >= sizeof(un.sun_path)) {
      close(fd);
      ErrnoError(env, ENAMETOOLONG, "bind", path).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    memcpy(un.sun_path, path.c_str(), path.size() + 1);
    if (bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un)) != 0) {
      int e = errno;
      close(fd);
      ErrnoError(env, e, "bind", path).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      int e = errno;
      close(fd);
      unlink(path.c_str());
      ErrnoError(env, e, "chmod", path).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  return Napi::Number::New(env, fd);
}

// probe(path) -> 0 (a live socket is bound there), or -errno (ECONNREFUSED: stale, ENOENT: none)
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!StringArg(info, 0, "probe", "path", &path)) return env.Undefined();
  sockaddr_un un {};
  un.sun_family = AF_UNIX;
  if (path.size() >= sizeof(un.sun_path)) return Napi::Number::New(env, -ENAMETOOLONG);
  memcpy(un.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  int r = connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un));
  int e = r == 0 ? 0 : errno;
  close(fd);
  return Napi::Number::New(env, -e);
}

// flock(path, 'ex' | 'sh' | 'un', fd?) -> fd of the opened directory (ex/sh) ; releases and closes on 'un'
Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string op;
  if (!StringArg(info, 1, "flock", "op", &op)) return env.Undefined();
  if (op == "un") {
    int32_t fd = -1;
    if (!IntArg(info, 2, "flock", "fd", &fd)) return env.Undefined();
    int r = flock(fd, LOCK_UN);
    int e = errno;
    close(fd);  // closing releases the lock anyway; the unlock's own failure is still reported
    if (r != 0) ErrnoError(env, e, "flock(LOCK_UN)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (op != "ex" && op != "sh") {
    Napi::TypeError::New(env, "flock: op must be 'ex', 'sh' or 'un'").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path;
  if (!StringArg(info, 0, "flock", "path", &path)) return env.Undefined();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "open", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int r;
  do {
    r = flock(fd, op == "ex" ? LOCK_EX : LOCK_SH);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    int e = errno;
    close(fd);
    ErrnoError(env, e, "flock", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// send(fd, addr: Uint8Array (sockaddr_un bytes), data: Uint8Array, fds: Int32Array | null, wait: boolean)
//   -> 0 | -errno. wait: a full receive queue is waited on for up to kSendSliceUs (SO_SNDTIMEO), else EAGAIN.
Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = -1;
  bool wait = false;
  if (!IntArg(info, 0, "send", "fd", &fd) || !BoolArg(info, 4, "send", "wait", &wait)) return env.Undefined();
  uint8_t* addr = nullptr;
  size_t addrLen = 0;
  uint8_t* data = nullptr;
  size_t dataLen = 0;
  if (!BytesOf(info[1], &addr, &addrLen) || !BytesOf(info[2], &data, &dataLen) || addrLen < sizeof(sa_family_t) ||
      addrLen > sizeof(sockaddr_un)) {
    Napi::TypeError::New(env, "send: bad address or data").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int nfds = 0;
  int32_t* fds = nullptr;
  if (!info[3].IsNull() && !info[3].IsTypedArray()) {
    Napi::TypeError::New(env, "send: fds must be an Int32Array or null").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info[3].IsTypedArray()) {
    Napi::TypedArray ta = info[3].As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_int32_array) {
      Napi::TypeError::New(env, "send: fds must be an Int32Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    fds = reinterpret_cast<int32_t*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
    nfds = static_cast<int>(ta.ElementLength());
  }
  if (nfds > 253) return Napi::Number::New(env, -E2BIG);  // SCM_MAX_FD

  iovec iov {data, dataLen};
  msghdr mh {};
  mh.msg_name = addr;
  mh.msg_namelen = static_cast<socklen_t>(addrLen);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253)];
  if (nfds > 0) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    memset(control, 0, mh.msg_controllen);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  int flags = MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT);
  ssize_t r;
  do {
    r = sendmsg(fd, &mh, flags);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, 0);
}

// Drain up to kRecsPerBatch datagrams into records with one recvmmsg; returns how many (0 when the
// queue was empty), or -errno when recvmmsg failed otherwise (never read as an empty queue). Record i's spill room is spill area + i * kSpillMax (when the buffer has one).
int DrainInto(int fd, uint8_t* buf, size_t bufLen) {
  size_t max = bufLen / kRecSize < kRecsPerBatch ? bufLen / kRecSize : kRecsPerBatch;
  const uint8_t* spill = buf + max * kRecSize;
  const bool roomy = bufLen - max * kRecSize >= max * kSpillMax;  // room for coalesced datagrams
  struct Slot {
    sockaddr_un from;
    iovec iov[2];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * kMaxRxFds)];
  };
  // On the stack (~8 KiB), not thread_local: TLS in a dlopen'ed addon needs __tls_get_addr from
  // ld-linux, a dependency the prebuild should not have.
  Slot slots[kRecsPerBatch];
  mmsghdr mh[kRecsPerBatch];
  for (size_t i = 0; i < max; i++) {
    Slot& s = slots[i];
    s.iov[0] = {buf + i * kRecSize + kRecData, kWireSize};
    s.iov[1] = {const_cast<uint8_t*>(spill) + i * kSpillMax, kSpillMax};
    msghdr& m = mh[i].msg_hdr;
    m = msghdr {};
    m.msg_name = &s.from;
    m.msg_namelen = sizeof(s.from);
    m.msg_iov = s.iov;
    m.msg_iovlen = roomy ? 2 : 1;
    m.msg_control = s.control;
    m.msg_controllen = sizeof(s.control);
  }
  int got;
  do {
    got = recvmmsg(fd, mh, static_cast<unsigned>(max), MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;  // other errors surface
  if (got == 0) return 0;
  for (int n = 0; n < got; n++) {
    uint8_t* rec = buf + n * kRecSize;
    msghdr& m = mh[n].msg_hdr;
    size_t r = mh[n].msg_len;
    int32_t* h = reinterpret_cast<int32_t*>(rec);
    h[kRecLen / 4] = static_cast<int32_t>(r);  // with MSG_TRUNC: the real length, even when cut
    int flags = m.msg_flags & (MSG_TRUNC | MSG_CTRUNC);
    h[kRecPid / 4] = -1;
    h[kRecUid / 4] = -1;
    h[kRecGid / 4] = -1;
    int nfds = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
        ucred cr;
        memcpy(&cr, CMSG_DATA(c), sizeof(cr));
        h[kRecPid / 4] = cr.pid;
        h[kRecUid / 4] = static_cast<int32_t>(cr.uid);
        h[kRecGid / 4] = static_cast<int32_t>(cr.gid);
      } else if (c->cmsg_type == SCM_RIGHTS) {
        size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int* in = reinterpret_cast<int*>(CMSG_DATA(c));
        for (size_t i = 0; i < cnt; i++) {
          int rfd;
          memcpy(&rfd, in + i, sizeof(int));
          if (nfds < kMaxFdNum) {
            h[kRecFds / 4 + nfds++] = rfd;
          } else {
            close(rfd);  // beyond RTE_MP_MAX_FD_NUM: never reaches JS, never leaks
            flags |= kRxFdOverflow;
          }
        }
      }
    }
    h[kRecFlags / 4] = flags;
    h[kRecNfds / 4] = nfds;
    h[kRecSpill / 4] = roomy && r > kWireSize ? static_cast<int32_t>(spill - buf + n * kSpillMax) : -1;
    size_t pathLen = 0;
    if (m.msg_namelen > offsetof(sockaddr_un, sun_path)) {
      pathLen = strnlen(slots[n].from.sun_path, m.msg_namelen - offsetof(sockaddr_un, sun_path));
    }
    h[kRecPathLen / 4] = static_cast<int32_t>(pathLen);
    memcpy(rec + kRecPath, slots[n].from.sun_path, pathLen);
  }
  return got;
}

double NowUs() {
  timespec t {};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

// Re-try DrainInto (non-blocking) until a datagram comes or limitUs have passed: the caller stays
// on its CPU, so the next datagram costs no sleep/wake-up. Each miss yields the CPU, so a peer that is
// runnable on this CPU (few vCPUs, other load) gets it at once instead of at the end of the spin.
// Returns the count (0: none in time).
//
// word (optional): a 32-bit word in shared memory (an inbox's pubCount). Between socket reads the loop
// watches it with plain loads for up to kWordSliceUs (no system call), and returns 0 with *changed set
// as soon as it differs from `expected`.
constexpr double kWordSliceUs = 8;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// epoch (optional): the inbox's readEpoch, advanced before every read of the socket (senders order
// their datagrams against their inbox cells by it; src/layout.ts "Inline").
inline void BeforeRead(int32_t* epoch) {
  if (epoch != nullptr) __atomic_add_fetch(epoch, 1, __ATOMIC_SEQ_CST);
}

int SpinDrain(int fd, uint8_t* buf, size_t len, double limitUs, const int32_t* word = nullptr,
              int32_t expected = 0, bool* changed = nullptr, int32_t* epoch = nullptr) {
  double t0 = NowUs();
  for (;;) {
    BeforeRead(epoch);
    int n = DrainInto(fd, buf, len);
    if (n != 0) return n;
    if (word != nullptr) {
      double t1 = NowUs();
      do {
        for (int i = 0; i < 16; i++) {
          if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != expected) {
            *changed = true;
            return 0;
          }
          CpuRelax();
        }
      } while (NowUs() - t1 < kWordSliceUs && NowUs() - t0 < limitUs);
    }
    if (NowUs() - t0 >= limitUs) return n;
    sched_yield();
  }
}

// A 32-bit word at byte `off` of an ArrayBuffer argument (nullptr when absent or out of range).
int32_t* WordArg(const Napi::Value& buf, const Napi::Value& off) {
  if (!buf.IsArrayBuffer() || !off.IsNumber()) return nullptr;
  Napi::ArrayBuffer ab = buf.As<Napi::ArrayBuffer>();
  int64_t o = off.As<Napi::Number>().Int64Value();
  if (o < 0 || o % 4 != 0 || static_cast<size_t>(o) + 4 > ab.ByteLength()) return nullptr;
  return reinterpret_cast<int32_t*>(static_cast<uint8_t*>(ab.Data()) + o);
}

// recv(fd, records: ArrayBuffer, timeoutMs, spinUs) -> n. timeoutMs > 0 blocks the caller: first
// re-trying for up to spinUs (a reply usually comes within tens of µs: no sleep/wake-up on this side),
// then in poll().
Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = -1;
  double timeoutMs = 0;
  if (!IntArg(info, 0, "recv", "fd", &fd) || !DoubleArg(info, 2, "recv", "timeoutMs", &timeoutMs)) return env.Undefined();
  uint8_t* buf = nullptr;
  size_t len = 0;
  if (!BytesOf(info[1], &buf, &len)) {
    Napi::TypeError::New(env, "recv: bad record buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double spinUs = 0;
  if (info.Length() > 3 && !info[3].IsUndefined() && !DoubleArg(info, 3, "recv", "spinUs", &spinUs)) return env.Undefined();
  const int32_t* word = nullptr;
  int32_t expected = 0;
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    word = WordArg(info[4], info.Length() > 5 ? info[5] : env.Undefined());
    if (word == nullptr) {
      Napi::TypeError::New(env, "recv: word must be an ArrayBuffer with a 4-aligned in-range wordOffset").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!IntArg(info, 6, "recv", "expected", &expected)) return env.Undefined();
  }
  auto result = [&](int n) -> Napi::Value {
    if (n < 0) {
      ErrnoError(env, -n, "recvmmsg").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, n);
  };
  if (spinUs > 0 && (timeoutMs > 0 || word != nullptr)) {
    double limit = timeoutMs > 0 && timeoutMs * 1000 < spinUs ? timeoutMs * 1000 : spinUs;
    bool changed = false;
    int n = SpinDrain(fd, buf, len, limit, word, expected, &changed);
    if (n != 0 || changed || timeoutMs <= 0) return result(n);
  }
  if (timeoutMs > 0) {
    pollfd p {fd, POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, static_cast<int>(timeoutMs < 1 ? 1 : timeoutMs));
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      ErrnoError(env, errno, "poll").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (r == 0) return Napi::Number::New(env, 0);
  }
  return result(DrainInto(fd, buf, len));
}

// watch(fd, records: ArrayBuffer, onBatch(n)) -> { close(), ref(), unref() }
struct Watch {
  uv_poll_t poll;
  napi_env env;
  int fd;
  Napi::FunctionReference cb;
  Napi::ObjectReference keep;  // the record buffer
  uint8_t* buf;
  size_t len;
  double busyPollUs = 0;  // after a batch, poll this long for the next one before epoll (0: never)
  int32_t* pub = nullptr;      // the inbox's pubCount (watched while polling), or nullptr
  int32_t* polling = nullptr;  // the inbox's polling flag (1 while this spins)
  int32_t* epoch = nullptr;    // the inbox's readEpoch (advanced before every read)
  Napi::ObjectReference inboxKeep;
  bool closed = false;
  bool uvClosed = false;
  bool finalized = false;
};

void OnWatchClosed(uv_handle_t* h) {
  auto* w = static_cast<Watch*>(h->data);
  w->uvClosed = true;
  if (w->finalized) delete w;
}

void WatchTeardown(void* arg);

void CloseWatch(Watch* w, bool removeHook = true) {
  if (w->closed) return;
  w->closed = true;
  if (removeHook) napi_remove_env_cleanup_hook(w->env, WatchTeardown, w);
  uv_poll_stop(&w->poll);
  w->cb.Reset();
  w->keep.Reset();
  w->inboxKeep.Reset();
  w->pub = nullptr;
  w->polling = nullptr;
  w->epoch = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnWatchClosed);
}

void WatchTeardown(void* arg) {
  auto* w = static_cast<Watch*>(arg);
  w->finalized = true;
  CloseWatch(w, false);
}

void OnReadable(uv_poll_t* h, int status, int) {
  auto* w = static_cast<Watch*>(h->data);
  if (w->closed || status < 0) return;
  Napi::Env env(w->env);
  // One batch per wake-up: epoll is level-triggered, so what came meanwhile wakes it again at once
  // (re-reading here would cost a syscall per wake-up, usually for nothing). With busyPollUs, read
  // again, re-trying for up to that long (the peer's next message then costs this process no wake-up),
  // at most 64 batches in a row before the event loop gets its turn.
  //
  // With an inbox, the callback also drains it and returns the pubCount it read first; polling then
  // also watches pubCount (with `polling` = 1, so senders send no wake datagram), and when the poll
  // ends empty-handed the callback runs once more after `polling` = 0 (the last drain of the protocol).
  int32_t expected = w->pub != nullptr ? __atomic_load_n(w->pub, __ATOMIC_ACQUIRE) : 0;
  for (int round = 0; round < 64 && !w->closed; round++) {
    if (round > 0 && w->busyPollUs <= 0) return;
    int n;
    bool last = false;
    if (round == 0) {
      BeforeRead(w->epoch);
      n = DrainInto(w->fd, w->buf, w->len);
    } else {
      bool changed = false;
      if (w->polling != nullptr) __atomic_store_n(w->polling, 1, __ATOMIC_SEQ_CST);
      n = SpinDrain(w->fd, w->buf, w->len, w->busyPollUs, w->pub, expected, &changed, w->epoch);
      if (w->polling != nullptr) __atomic_store_n(w->polling, 0, __ATOMIC_SEQ_CST);
      last = n == 0 && !changed;
    }
    // n < 0: recvmmsg failed (not EAGAIN); the callback gets -errno and reports it.
    if (n == 0 && w->pub == nullptr) return;
    Napi::HandleScope scope(env);
    // MakeCallback drains the microtask queue, as a libuv-originated callback should.
    Napi::Value r = w->cb.Value().MakeCallback(env.Global(), {Napi::Number::New(env, n)});
    if (last || w->closed) return;
    if (r.IsNumber()) expected = r.As<Napi::Number>().Int32Value();
  }
}

Napi::Value WatchNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = -1;
  if (!IntArg(info, 0, "watch", "fd", &fd)) return env.Undefined();
  uint8_t* buf = nullptr;
  size_t len = 0;
  if (!info[1].IsArrayBuffer() || !BytesOf(info[1], &buf, &len) || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "watch(fd, ArrayBuffer, fn)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "watch: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new Watch();
  w->env = env;
  w->fd = fd;
  w->buf = buf;
  w->len = len;
  w->poll.data = w;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) {
    delete w;
    ErrnoError(env, -r, "uv_poll_init").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // uv_poll_init made the socket non-blocking; sends choose per call (MSG_DONTWAIT or SO_SNDTIMEO)
  // and receives always pass MSG_DONTWAIT, so the descriptor itself goes back to blocking mode.
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    int e = errno;
    w->closed = true;
    w->finalized = true;  // nothing else references w: OnWatchClosed frees it
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnWatchClosed);
    ErrnoError(env, e, "fcntl(F_SETFL)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  r = uv_poll_start(&w->poll, UV_READABLE, OnReadable);
  if (r != 0) {
    w->closed = true;
    w->finalized = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnWatchClosed);
    ErrnoError(env, -r, "uv_poll_start").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  w->cb = Napi::Persistent(info[2].As<Napi::Function>());
  w->keep = Napi::Persistent(info[1].As<Napi::Object>());
  napi_add_env_cleanup_hook(env, WatchTeardown, w);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("close", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    CloseWatch(w);
    return ci.Env().Undefined();
  }));
  handle.Set("ref", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    if (!w->closed) uv_ref(reinterpret_cast<uv_handle_t*>(&w->poll));
    return ci.Env().Undefined();
  }));
  handle.Set("busyPoll", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    double us = 0;
    if (!DoubleArg(ci, 0, "busyPoll", "us", &us)) return ci.Env().Undefined();
    w->busyPollUs = us;
    return ci.Env().Undefined();
  }));
  handle.Set("inbox", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    if (w->closed) return ci.Env().Undefined();
    int32_t* pub = WordArg(ci[0], ci[1]);
    int32_t* polling = WordArg(ci[0], ci[2]);
    // epochOffset may be left out (no readEpoch: builds of the JS before it, as the bench compares).
    const bool hasEpoch = ci.Length() > 3 && !ci[3].IsUndefined();
    int32_t* epoch = hasEpoch ? WordArg(ci[0], ci[3]) : nullptr;
    if (pub == nullptr || polling == nullptr || (hasEpoch && epoch == nullptr)) {
      Napi::TypeError::New(ci.Env(), "inbox(buffer, pubOffset, pollOffset, epochOffset)").ThrowAsJavaScriptException();
      return ci.Env().Undefined();
    }
    w->inboxKeep = Napi::Persistent(ci[0].As<Napi::Object>());
    w->pub = pub;
    w->polling = polling;
    w->epoch = epoch;
    return ci.Env().Undefined();
  }));
  handle.Set("unref", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    if (!w->closed) uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
    return ci.Env().Undefined();
  }));
  handle.AddFinalizer(
      [](Napi::Env, Watch* pw) {
        if (pw->finalized) return;
        pw->finalized = true;
        if (!pw->closed) {
          CloseWatch(pw);
        } else if (pw->uvClosed) {
          delete pw;
        }
      },
      w);
  return handle;
}

// yieldCpu(us): sched_yield once, then keep yielding for up to us µs.
Napi::Value YieldCpu(const Napi::CallbackInfo& info) {
  double us = 0;
  if (!DoubleArg(info, 0, "yieldCpu", "us", &us)) return info.Env().Undefined();
  double t0 = NowUs();
  do {
    sched_yield();
  } while (NowUs() - t0 < us);
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int32_t fd = -1;
  if (!IntArg(info, 0, "close", "fd", &fd)) return info.Env().Undefined();
  // EBADF (closed already) and EINTR (Linux closes the fd anyway) leave nothing to retry: not reported.
  if (fd >= 0) close(fd);
  return info.Env().Undefined();
}

// memfdCreate(name) -> fd (MFD_CLOEXEC)
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!StringArg(info, 0, "memfdCreate", "name", &name)) return env.Undefined();
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "memfd_create").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("send", Napi::Function::New(env, Send));
  exports.Set("recv", Napi::Function::New(env, Recv));
  exports.Set("watch", Napi::Function::New(env, WatchNew));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("yieldCpu", Napi::Function::New(env, YieldCpu));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate));
  Napi::Object l = Napi::Object::New(env);
  l.Set("sizeofMsgInternal", static_cast<double>(sizeof(mp_msg_internal_c)));
  l.Set("sizeofRteMpMsg", static_cast<double>(sizeof(rte_mp_msg_c)));
  l.Set("wireSize", static_cast<double>(kWireSize));
  l.Set("offType", static_cast<double>(offsetof(mp_msg_internal_c, type)));
  l.Set("offName", static_cast<double>(offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, name)));
  l.Set("offLenParam", static_cast<double>(offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, len_param)));
  l.Set("offNumFds", static_cast<double>(offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, num_fds)));
  l.Set("offParam", static_cast<double>(offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, param)));
  l.Set("offFds", static_cast<double>(offsetof(mp_msg_internal_c, msg) + offsetof(rte_mp_msg_c, fds)));
  l.Set("recSize", static_cast<double>(kRecSize));
  l.Set("recData", static_cast<double>(kRecData));
  l.Set("recPath", static_cast<double>(kRecPath));
  l.Set("recFds", static_cast<double>(kRecFds));
  l.Set("recSpill", static_cast<double>(kRecSpill));
  l.Set("recCarrier", static_cast<double>(kRecCarrier));
  l.Set("recsPerBatch", static_cast<double>(kRecsPerBatch));
  l.Set("maxCoalesce", static_cast<double>(kMaxCoalesce));
  l.Set("rxFdOverflow", static_cast<double>(kRxFdOverflow));
  l.Set("msgTrunc", static_cast<double>(MSG_TRUNC));
  l.Set("msgCtrunc", static_cast<double>(MSG_CTRUNC));
  l.Set("sunPathMax", static_cast<double>(sizeof(((sockaddr_un*)nullptr)->sun_path)));
  exports.Set("layout", l);
  return exports;
}

}  // namespace

NODE_API_MODULE(mp_ipc, Init)
