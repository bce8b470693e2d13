// @mp/memory native binding: the syscalls TypeScript cannot make by itself.
//
//   map          mmap(MAP_SHARED) a file range, hand it back as an external ArrayBuffer
//   mapSegment   mmap a whole segment file once; `view` then makes ArrayBuffers over parts of it
//                with no system call (the mapping lives while the segment handle or any view does)
//   fallocate    reserve file blocks up front, so a full tmpfs/hugetlbfs gives ENOSPC, not SIGBUS
//   futexWait    FUTEX_WAIT on a 32-bit word of a mapped buffer (shared, not private: cross-process)
//   futexWaitAsync  the same on the libuv thread pool, resolving a Promise
//   futexWake    FUTEX_WAKE
//   ofdLock      F_OFD_SETLK / F_OFD_SETLKW (released by the kernel when the holder dies)
//   ofdTest      F_OFD_GETLK: is a range locked by another open file description?
//   pidWatch     pidfd_open + a once watch (watch.h): call back once when a process exits
//   seqpacket*   AF_UNIX SOCK_SEQPACKET listen/connect/accept/recv/send (DPDK's telemetry socket, which
//                Node's `net` cannot open); all non-blocking, expected outcomes returned as -errno
//   fdWatch      uv_poll on a descriptor it owns: call back on every readable event until closed
//   intervalWatch  a timerfd under the same watch: call back every n ms until closed
//   checksum, readCached  the V8 code cache of the bundles: its checksum, and its whole read (code_cache.h)
//
// No policy lives here. The TypeScript callers validate arguments first; every argument is still type-
// and range-checked here (args.h), so a wrong one is a TypeError/RangeError, never a syscall on fd 0.

#include <napi.h>
#include "args.h"
#include "code_cache.h"
#include "errno_name.h"
#include "watch.h"
#include <uv.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  const char* code = mp::ErrnoName(err);
  e.Set("code", Napi::String::New(env, code != nullptr ? code : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

// Address of a 4-byte-aligned word inside an ArrayBuffer or TypedArray.
uint32_t* WordAt(const Napi::CallbackInfo& info, size_t bufArg, size_t offArg) {
  Napi::Env env = info.Env();
  uint8_t* base = nullptr;
  size_t len = 0;
  if (info[bufArg].IsArrayBuffer()) {
    Napi::ArrayBuffer ab = info[bufArg].As<Napi::ArrayBuffer>();
    base = static_cast<uint8_t*>(ab.Data());
    len = ab.ByteLength();
  } else if (info[bufArg].IsTypedArray()) {
    Napi::TypedArray ta = info[bufArg].As<Napi::TypedArray>();
    base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    len = ta.ByteLength();
  } else {
    Napi::TypeError::New(env, "expected an ArrayBuffer or TypedArray").ThrowAsJavaScriptException();
    return nullptr;
  }
  int64_t off;
  if (!mp::ArgInt64(info, offArg, "offset", &off)) return nullptr;
  if (off < 0 || (off & 3) != 0 || static_cast<size_t>(off) + 4 > len) {
    Napi::RangeError::New(env, "futex word offset out of range or not 4-byte aligned")
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  return reinterpret_cast<uint32_t*>(base + off);
}

// Returns 0 woken, 1 timed out, 2 value differed; negative errno otherwise.
int FutexWaitRaw(uint32_t* word, uint32_t expected, double timeoutMs) {
  struct timespec deadline {};
  bool bounded = timeoutMs >= 0;
  if (bounded) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t ns = static_cast<int64_t>(timeoutMs * 1e6);
    deadline.tv_sec += ns / 1000000000;
    deadline.tv_nsec += ns % 1000000000;
    if (deadline.tv_nsec >= 1000000000) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000;
    }
  }
  for (;;) {
    struct timespec rel {};
    if (bounded) {
      struct timespec now {};
      clock_gettime(CLOCK_MONOTONIC, &now);
      int64_t left = (deadline.tv_sec - now.tv_sec) * 1000000000LL + (deadline.tv_nsec - now.tv_nsec);
      if (left <= 0) return 1;
      rel.tv_sec = left / 1000000000;
      rel.tv_nsec = left % 1000000000;
    }
    long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, bounded ? &rel : nullptr, nullptr, 0);
    if (r == 0) return 0;
    if (errno == EAGAIN) return 2;
    if (errno == ETIMEDOUT) return 1;
    if (errno == EINTR) continue;
    return -errno;
  }
}

void FreeMapping(Napi::Env, void*, void* hint) {
  auto* m = static_cast<std::pair<void*, size_t>*>(hint);
  munmap(m->first, m->second);
  delete m;
}

// map(fd, fileOffset, mapLength, viewDelta, viewLength) -> ArrayBuffer over [base+viewDelta, +viewLength)
// fileOffset must be page aligned (the caller aligns it for the file system's page size).
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  MP_ARG(Fd, fd, 0);
  int64_t off = 0;
  MP_ARG(Int64, off, 1);
  int64_t mapLen = 0;
  MP_ARG(Int64, mapLen, 2);
  int64_t delta = 0;
  MP_ARG(Int64, delta, 3);
  int64_t viewLen = 0;
  MP_ARG(Int64, viewLen, 4);
  if (off < 0 || mapLen <= 0 || delta < 0 || viewLen < 0 || delta + viewLen > mapLen) {
    Napi::RangeError::New(env, "map: bad range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  void* p = mmap(nullptr, static_cast<size_t>(mapLen), PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
  if (p == MAP_FAILED) {
    ErrnoError(env, errno, "mmap").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* hint = new std::pair<void*, size_t>(p, static_cast<size_t>(mapLen));
  return Napi::ArrayBuffer::New(env, static_cast<uint8_t*>(p) + delta, static_cast<size_t>(viewLen),
                                FreeMapping, hint);
}

// A whole-segment mapping shared by the views made of it; unmapped when the last reference goes.
struct Segment {
  uint8_t* base;
  size_t len;
  size_t refs;  // the JS handle + every live view (all on one JS thread: no atomics needed)
};

void DropSegment(Segment* seg) {
  if (--seg->refs == 0) {
    munmap(seg->base, seg->len);
    delete seg;
  }
}

// mapSegment(fd, length) -> External handle
Napi::Value MapSegment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  MP_ARG(Fd, fd, 0);
  int64_t len = 0;
  MP_ARG(Int64, len, 1);
  if (len <= 0) {
    Napi::RangeError::New(env, "mapSegment: bad length").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // MAP_NORESERVE: on hugetlbfs a shared mapping would otherwise reserve pages for the whole file at
  // once; memory is committed per memzone by fallocate, and only those ranges are ever touched.
  void* p = mmap(nullptr, static_cast<size_t>(len), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED) {
    ErrnoError(env, errno, "mmap").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* seg = new Segment{static_cast<uint8_t*>(p), static_cast<size_t>(len), 1};
  return Napi::External<Segment>::New(env, seg, [](Napi::Env, Segment* s) { DropSegment(s); });
}

// view(segment, offset, length) -> ArrayBuffer over [base+offset, +length) of a mapped segment
Napi::Value View(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment* seg = nullptr;
  MP_ARG(External, seg, 0);
  int64_t off = 0;
  MP_ARG(Int64, off, 1);
  int64_t len = 0;
  MP_ARG(Int64, len, 2);
  if (off < 0 || len < 0 || static_cast<size_t>(off + len) > seg->len) {
    Napi::RangeError::New(env, "view: range outside the segment").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  seg->refs++;
  return Napi::ArrayBuffer::New(env, seg->base + off, static_cast<size_t>(len),
                                [](Napi::Env, void*, Segment* s) { DropSegment(s); }, seg);
}

Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  MP_ARG(Fd, fd, 0);
  int64_t off = 0;
  MP_ARG(Int64, off, 1);
  int64_t len = 0;
  MP_ARG(Int64, len, 2);
  int r;
  do {
    r = fallocate(fd, 0, off, len);
  } while (r != 0 && errno == EINTR);
  if (r != 0) ErrnoError(env, errno, "fallocate").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value FutexWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordAt(info, 0, 1);
  if (word == nullptr) return env.Undefined();
  uint32_t expected = 0;
  MP_ARG(Uint32, expected, 2);
  double timeoutMs = 0;
  MP_ARG(Double, timeoutMs, 3);
  int r = FutexWaitRaw(word, expected, timeoutMs);
  if (r < 0) {
    ErrnoError(env, -r, "futex").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, r);
}

class FutexWaitWorker : public Napi::AsyncWorker {
 public:
  FutexWaitWorker(Napi::Env env, Napi::Object keep, uint32_t* word, uint32_t expected, double timeoutMs)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), word_(word),
        expected_(expected), timeoutMs_(timeoutMs) {
    keep_ = Napi::Persistent(keep);  // the buffer stays mapped while we sleep on it
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { result_ = FutexWaitRaw(word_, expected_, timeoutMs_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (result_ < 0) {
      deferred_.Reject(ErrnoError(env, -result_, "futex").Value());
    } else {
      deferred_.Resolve(Napi::Number::New(env, result_));
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keep_;
  uint32_t* word_;
  uint32_t expected_;
  double timeoutMs_;
  int result_ = 0;
};

Napi::Value FutexWaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordAt(info, 0, 1);
  if (word == nullptr) return env.Undefined();
  uint32_t expected = 0;
  MP_ARG(Uint32, expected, 2);
  double timeoutMs = 0;
  MP_ARG(Double, timeoutMs, 3);
  auto* w = new FutexWaitWorker(env, info[0].As<Napi::Object>(), word, expected, timeoutMs);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordAt(info, 0, 1);
  if (word == nullptr) return env.Undefined();
  int count = 0;
  MP_ARG(Int32, count, 2);
  long r = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  if (r < 0) {
    ErrnoError(env, errno, "futex").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(r));
}

short LockType(const std::string& t) {
  if (t == "w") return F_WRLCK;
  if (t == "r") return F_RDLCK;
  return F_UNLCK;
}

// The flock of (fd, start, len, type) arguments shared by ofdLock and ofdTest; false with an exception
// pending when one is wrong (a type other than 'r', 'w' or 'u' included).
bool RangeArgs(const Napi::CallbackInfo& info, int* fd, struct flock* fl) {
  int64_t start = 0, len = 0;
  std::string type;
  if (!mp::ArgFd(info, 0, "fd", fd) || !mp::ArgInt64(info, 1, "start", &start) || !mp::ArgInt64(info, 2, "len", &len) ||
      !mp::ArgString(info, 3, "type", &type)) {
    return false;
  }
  if (start < 0 || len < 0) return mp::ArgFail(info, 1, "start/len", "non-negative", true);
  if (type != "r" && type != "w" && type != "u") return mp::ArgFail(info, 3, "type", "'r', 'w' or 'u'", true);
  *fl = {};
  fl->l_whence = SEEK_SET;
  fl->l_start = start;
  fl->l_len = len;
  fl->l_type = LockType(type);
  return true;
}

// ofdLock(fd, start, len, 'r'|'w'|'u', wait) -> true when taken (or released), false when busy and !wait
Napi::Value OfdLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  struct flock fl {};
  if (!RangeArgs(info, &fd, &fl)) return env.Undefined();
  bool wait = false;
  MP_ARG(Bool, wait, 4);
  int r;
  do {
    r = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
  } while (r != 0 && errno == EINTR);
  if (r == 0) return Napi::Boolean::New(env, true);
  if (!wait && (errno == EAGAIN || errno == EACCES)) return Napi::Boolean::New(env, false);
  ErrnoError(env, errno, "fcntl").ThrowAsJavaScriptException();
  return env.Undefined();
}

// ofdTest(fd, start, len, 'r'|'w') -> true when another open file description holds a conflicting lock
Napi::Value OfdTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  struct flock fl {};
  if (!RangeArgs(info, &fd, &fl)) return env.Undefined();
  if (fl.l_type == F_UNLCK) return mp::ArgFail(info, 3, "type", "'r' or 'w'", true), env.Undefined();
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) {
    ErrnoError(env, errno, "fcntl").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Boolean::New(env, fl.l_type != F_UNLCK);
}

// pidWatch(pid, onExit, ref) -> { close() }: onExit() is called once, from the event loop, when pid
// exits (a pidfd becomes readable). Lifetime: watch.h.
Napi::Value PidWatchNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = 0;
  MP_ARG(Int32, pid, 0);
  Napi::Function cb;
  MP_ARG(Function, cb, 1);
  bool ref = false;
  if (info.Length() > 2 && !info[2].IsUndefined()) MP_ARG(Bool, ref, 2);
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    ErrnoError(env, errno, "pidfd_open").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Value handle = mp::WatchNew(env, fd, UV_READABLE, true, cb, ref, ErrnoError);
  if (handle.IsUndefined()) close(fd);
  return handle;
}

// ---- AF_UNIX SOCK_SEQPACKET ---------------------------------------------------------------------------

// Fill a sockaddr_un; false (ENAMETOOLONG) when the path does not fit.
bool UnixAddr(const std::string& path, sockaddr_un* un) {
  *un = sockaddr_un{};
  un->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(un->sun_path)) return false;
  memcpy(un->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// seqpacketListen(path, mode, backlog) -> fd (non-blocking, close-on-exec), bound and chmod'ed to mode.
// Throws with .code (EADDRINUSE when the name exists: the caller decides whether it is stale).
Napi::Value SeqpacketListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  MP_ARG(String, path, 0);
  uint32_t mode = 0;
  MP_ARG(Uint32, mode, 1);
  int backlog = 0;
  MP_ARG(Int32, backlog, 2);
  sockaddr_un un;
  if (!UnixAddr(path, &un)) {
    ErrnoError(env, ENAMETOOLONG, "bind").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ErrnoError(env, errno, "socket").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un)) != 0) {
    int e = errno;
    close(fd);
    ErrnoError(env, e, "bind").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // The runtime dir is 0700 already; the socket itself gets the mode asked for before anyone is let in.
  if (chmod(un.sun_path, mode) != 0 || listen(fd, backlog) != 0) {
    int e = errno;
    close(fd);
    unlink(un.sun_path);
    ErrnoError(env, e, "chmod/listen").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// seqpacketConnect(path) -> fd (close-on-exec, non-blocking after the connect), or -errno (ENOENT: no
// such socket, ECONNREFUSED: nobody listens — a stale name, EACCES, EAGAIN: backlog full, …).
Napi::Value SeqpacketConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  MP_ARG(String, path, 0);
  sockaddr_un un;
  if (!UnixAddr(path, &un)) return Napi::Number::New(env, -ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  int r;
  do {
    r = connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un));
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    int e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    int e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  return Napi::Number::New(env, fd);
}

// seqpacketAccept(listenFd) -> [fd, peerUid, peerPid] for one pending connection, or -errno (EAGAIN: none
// pending; EMFILE/ENFILE: out of descriptors — the caller backs off).
Napi::Value SeqpacketAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int lfd = 0;
  MP_ARG(Fd, lfd, 0);
  int fd;
  do {
    fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Napi::Number::New(env, -errno);
  ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    int e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, fd));
  out.Set(1u, Napi::Number::New(env, cred.uid));
  out.Set(2u, Napi::Number::New(env, cred.pid));
  return out;
}

// seqpacketRecv(fd, buffer) -> bytes of one message copied into buffer (a longer message is cut, as
// read() does), 0 at end of stream, or -errno (EAGAIN: nothing to read now).
Napi::Value SeqpacketRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  MP_ARG(Fd, fd, 0);
  Napi::Uint8Array buf;
  MP_ARG(Bytes, buf, 1);
  ssize_t n;
  do {
    n = recv(fd, buf.Data(), buf.ByteLength(), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// seqpacketSend(fd, bytes) -> bytes sent (one message), or -errno (EAGAIN: the peer's queue is full,
// EPIPE/ECONNRESET: the peer went; never SIGPIPE).
Napi::Value SeqpacketSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  MP_ARG(Fd, fd, 0);
  Napi::Uint8Array buf;
  MP_ARG(Bytes, buf, 1);
  ssize_t n;
  do {
    n = send(fd, buf.Data(), buf.ByteLength(), MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// fdWatch(fd, onReadable, ref) -> { close(), pause(), resume() }: onReadable() runs from the event loop
// each time fd is readable (or hung up), until close(). The watch owns fd. Lifetime: watch.h.
Napi::Value FdWatchNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  MP_ARG(Fd, fd, 0);
  Napi::Function cb;
  MP_ARG(Function, cb, 1);
  bool ref = false;
  if (info.Length() > 2 && !info[2].IsUndefined()) MP_ARG(Bool, ref, 2);
  return mp::WatchNew(env, fd, UV_READABLE | UV_DISCONNECT, false, cb, ref, ErrnoError);
}

// intervalWatch(ms, cb, ref = false): call cb() every `ms` milliseconds until close() — a timerfd under
// the poll watch of watch.h (its lifetime rules, its handle). For @mp/eal's process-table watch: a
// process's first Node timer cost ≈ 0.8 ms of CPU (Node's timer lists and async resources set up on first
// use), this one the pidfd watch's path, already taken by every secondary.
struct IntervalWatch : mp::Watch {
  void OnEvent(int status, int revents) override {
    uint64_t expirations;
    // Read the expiration count so the descriptor stops being readable (non-blocking: EAGAIN when none).
    while (read(fd, &expirations, sizeof expirations) == static_cast<ssize_t>(sizeof expirations)) {
    }
    mp::Watch::OnEvent(status, revents);
  }
};

Napi::Value IntervalWatchNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ms = 0;
  MP_ARG(Uint32, ms, 0);
  Napi::Function cb;
  MP_ARG(Function, cb, 1);
  bool ref = false;
  if (info.Length() > 2 && !info[2].IsUndefined()) MP_ARG(Bool, ref, 2);
  if (ms == 0) {
    Napi::RangeError::New(env, "intervalWatch: ms must be at least 1").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "timerfd_create").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  itimerspec its{};
  its.it_interval.tv_sec = ms / 1000;
  its.it_interval.tv_nsec = static_cast<long>(ms % 1000) * 1000000L;
  its.it_value = its.it_interval;
  if (timerfd_settime(fd, 0, &its, nullptr) != 0) {
    const int e = errno;
    close(fd);
    ErrnoError(env, e, "timerfd_settime").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  mp::WatchOptions opt;
  opt.ref = ref;
  Napi::Value handle = mp::WatchStart(env, new IntervalWatch(), fd, cb, opt, ErrnoError);
  if (handle.IsUndefined()) close(fd);  // a failed start leaves the descriptor to its caller
  return handle;
}

// errnoName(n): the symbolic name of errno n ("EMFILE"), undefined when unknown (errno_name.h) — for
// messages about the -errno values the seqpacket calls return, without loading node:os for its table.
Napi::Value ErrnoNameOf(const Napi::CallbackInfo& info) {
  int32_t err = 0;
  MP_ARG(Int32, err, 0);
  const char* name = mp::ErrnoName(err);
  return name != nullptr ? Napi::String::New(info.Env(), name) : info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("map", Napi::Function::New(env, Map));
  exports.Set("mapSegment", Napi::Function::New(env, MapSegment));
  exports.Set("view", Napi::Function::New(env, View));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate));
  exports.Set("futexWait", Napi::Function::New(env, FutexWait));
  exports.Set("futexWaitAsync", Napi::Function::New(env, FutexWaitAsync));
  exports.Set("futexWake", Napi::Function::New(env, FutexWake));
  exports.Set("ofdLock", Napi::Function::New(env, OfdLock));
  exports.Set("ofdTest", Napi::Function::New(env, OfdTest));
  exports.Set("pidWatch", Napi::Function::New(env, PidWatchNew));
  exports.Set("seqpacketListen", Napi::Function::New(env, SeqpacketListen));
  exports.Set("seqpacketConnect", Napi::Function::New(env, SeqpacketConnect));
  exports.Set("seqpacketAccept", Napi::Function::New(env, SeqpacketAccept));
  exports.Set("seqpacketRecv", Napi::Function::New(env, SeqpacketRecv));
  exports.Set("seqpacketSend", Napi::Function::New(env, SeqpacketSend));
  exports.Set("fdWatch", Napi::Function::New(env, FdWatchNew));
  exports.Set("checksum", Napi::Function::New(env, mp::Checksum));
  exports.Set("readCached", Napi::Function::New(env, mp::ReadCached));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoNameOf));
  exports.Set("intervalWatch", Napi::Function::New(env, IntervalWatchNew));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(sysconf(_SC_PAGESIZE))));
  return exports;
}

}  // namespace

NODE_API_MODULE(mp_memory, Init)
