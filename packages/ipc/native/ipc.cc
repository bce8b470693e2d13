// @mp/ipc native binding: unix datagram sockets with fd passing and sender credentials.
//
//   open        socket(AF_UNIX, SOCK_DGRAM) + bind(path) + chmod + SO_PASSCRED (or unbound)
//   probe       is a socket path bound by a live process? (connect: 0, ECONNREFUSED, ENOENT)
//   send        sendmsg to a sockaddr_un (built by TS) with SCM_RIGHTS; 0 or -errno, never throws
//   recv        drain up to N datagrams into a record buffer (optionally poll() first, bounded); each
//               record's datagram checked as it is read (record.h Classify: RECORD.fast)
//   watch       uv_poll on the socket: on readable, drain a batch and call back once with the count;
//               optionally keep polling (bounded) for the next datagram before going back to epoll
//   yieldCpu    one sched_yield (a sender waiting for room in a full inbox loops on it in TypeScript)
//   close       close(fd)
// Inboxes (shared-memory queues, src/inbox.ts) are TypeScript; the only thing here is that the spin
// loops (requestSync's recv, poll mode's watch) also watch one 32-bit word of the inbox (pubCount)
// with plain loads, so a message published there ends the spin without any system call.
//   memfdCreate memfd_create (for fd passing in tests and examples)
//   classify    re-run the check of record.h over records (tests hold it to the TypeScript decoder)
//
// The datagram layout is DPDK 22.11's struct mp_msg_internal, declared in record.h with the receive
// record, exported as sizeof/offsetof so src/layout.ts can be checked against the compiler. The one
// piece of validation here is record.h's check of each datagram read, with the TypeScript decoder's
// rules (it only saves the decoder the work; test/fast.test.ts holds both to the same verdicts). All
// other policy (the uid check, dispatch) lives in TypeScript: this file moves bytes and descriptors.

#include <napi.h>
#include <uv.h>

#include "args.h"
#include "errno_name.h"
#include "fds.h"
#include "record.h"
#include "watch.h"

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

constexpr int kSendSliceUs = 5000;  // SO_SNDTIMEO of every socket

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  std::string m = std::string(syscall) + ": " + strerror(err);
  if (!what.empty()) m += " (" + what + ")";
  Napi::Error e = Napi::Error::New(env, m);
  const char* code = mp::ErrnoName(err);
  e.Set("code", Napi::String::New(env, code != nullptr ? code : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) { return ErrnoError(env, err, syscall, ""); }

// open(path | null, mode) -> fd. Bound sockets are chmod'ed to mode; SO_PASSCRED is always on.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  uint32_t mode = 0;
  const bool bound = info.Length() > 0 && !info[0].IsNull();
  if (bound) {
    MP_ARG(String, path, 0);
    MP_ARG(Uint32, mode, 1);
  }
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
    mp::CloseQuiet(fd);
    ErrnoError(env, e, "setsockopt(SO_SNDTIMEO)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) {
    int e = errno;
    mp::CloseQuiet(fd);
    ErrnoError(env, e, "setsockopt(SO_PASSCRED)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (bound) {
    sockaddr_un un {};
    un.sun_family = AF_UNIX;
    if (path.size() >= sizeof(un.sun_path)) {
      mp::CloseQuiet(fd);
      ErrnoError(env, ENAMETOOLONG, "bind", path).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    memcpy(un.sun_path, path.c_str(), path.size() + 1);
    if (bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un)) != 0) {
      int e = errno;
      mp::CloseQuiet(fd);
      ErrnoError(env, e, "bind", path).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      int e = errno;
      mp::CloseQuiet(fd);
      unlink(path.c_str());  // error path: the chmod failure is the one reported
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
  MP_ARG(String, path, 0);
  sockaddr_un un {};
  un.sun_family = AF_UNIX;
  if (path.size() >= sizeof(un.sun_path)) return Napi::Number::New(env, -ENAMETOOLONG);
  memcpy(un.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  int r = connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un));
  int e = r == 0 ? 0 : errno;
  mp::CloseQuiet(fd);  // the probe socket only served connect()
  return Napi::Number::New(env, -e);
}

// flock(path, 'ex' | 'sh' | 'un', fd?) -> fd of the opened directory (ex/sh) ; releases and closes on 'un'
Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string op;
  MP_ARG(String, op, 1);
  if (op == "un") {
    int fd = -1;
    MP_ARG(Fd, fd, 2);
    int r = flock(fd, LOCK_UN);
    int e = errno;
    close(fd);  // closing releases the lock anyway; the unlock's own failure is still reported
    if (r != 0) ErrnoError(env, e, "flock(LOCK_UN)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (op != "ex" && op != "sh") return mp::ArgFail(info, 1, "op", "'ex', 'sh' or 'un'", true), env.Undefined();
  std::string path;
  MP_ARG(String, path, 0);
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
    mp::CloseQuiet(fd);
    ErrnoError(env, e, "flock", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// send(fd, addr: Uint8Array (sockaddr_un bytes), data: Uint8Array, fds: Int32Array | null, wait: boolean)
//   -> 0 | -errno. wait: a full receive queue is waited on for up to kSendSliceUs (SO_SNDTIMEO), else EAGAIN.
Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  mp::Span addr, data;
  MP_ARG(Span, addr, 1);
  if (addr.len < sizeof(sa_family_t) || addr.len > sizeof(sockaddr_un)) {
    return mp::ArgFail(info, 1, "addr", "a sockaddr_un (2..110 bytes)", true), env.Undefined();
  }
  MP_ARG(Span, data, 2);
  Napi::Int32Array fds;
  if (info.Length() > 3 && info[3].IsTypedArray() && info[3].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    fds = info[3].As<Napi::Int32Array>();
  } else if (info.Length() <= 3 || !info[3].IsNull()) {
    return mp::ArgFail(info, 3, "fds", "an Int32Array or null"), env.Undefined();
  }
  bool wait = false;
  MP_ARG(Bool, wait, 4);
  const int* fdv = fds.IsEmpty() ? nullptr : fds.Data();
  size_t nfds = fds.IsEmpty() ? 0 : fds.ElementLength();
  ssize_t r = mp::SendWithFds(fd, addr.data, static_cast<socklen_t>(addr.len), data.data, data.len, fdv, nfds,
                              MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
  return Napi::Number::New(env, r < 0 ? static_cast<double>(r) : 0);
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
    mp::FdControl control;
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
    mp::PrepareRx(&m, &s.control);
  }
  int got;
  do {
    got = recvmmsg(fd, mh, static_cast<unsigned>(max), mp::kRxFlags, nullptr);
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
    // At most RTE_MP_MAX_FD_NUM descriptors reach JS; the others are closed (fds.h) and flagged.
    ucred cr {};
    mp::RxFds rx = mp::TakeFds(&m, reinterpret_cast<int*>(h + kRecFds / 4), kMaxFdNum, &cr);
    if (rx.came > rx.kept && !rx.truncated) flags |= kRxFdOverflow;
    h[kRecPid / 4] = rx.hasCred ? cr.pid : -1;
    h[kRecUid / 4] = rx.hasCred ? static_cast<int32_t>(cr.uid) : -1;
    h[kRecGid / 4] = rx.hasCred ? static_cast<int32_t>(cr.gid) : -1;
    int nfds = rx.kept;
    h[kRecFlags / 4] = flags;
    h[kRecNfds / 4] = nfds;
    h[kRecSpill / 4] = roomy && r > kWireSize ? static_cast<int32_t>(spill - buf + n * kSpillMax) : -1;
    size_t pathLen = 0;
    if (m.msg_namelen > offsetof(sockaddr_un, sun_path)) {
      pathLen = strnlen(slots[n].from.sun_path, m.msg_namelen - offsetof(sockaddr_un, sun_path));
    }
    h[kRecPathLen / 4] = static_cast<int32_t>(pathLen);
    memcpy(rec + kRecPath, slots[n].from.sun_path, pathLen);
    SetFast(rec);
  }
  return got;
}

double NowUs() {
  timespec t {};
  clock_gettime(CLOCK_MONOTONIC, &t);  // cannot fail for CLOCK_MONOTONIC with a valid pointer
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
//
// Why this loop is native (issue 16.6 asks policy loops to be TypeScript unless shown otherwise): the
// watch's busy-poll rounds (IpcWatch::OnEvent) must each end in MakeCallback, so the microtasks a batch
// started (promise continuations of the replies it carried) run before the next spin. A TypeScript
// loop inside onBatch would hold them until the whole busy poll ends (up to 64 rounds), and leaving the
// callback for setImmediate puts an event-loop turn between rounds — either changes poll mode's
// latency. recv's spin (requestSync) is this same loop, kept as one implementation of the spin
// protocol (socket, pubCount, the polling flag) rather than a second copy in TypeScript. How long to
// spin (syncSpinUs, busyPollUs, the slice) is TypeScript's choice, passed in per call.
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
    sched_yield();  // always succeeds on Linux
  }
}

// A 32-bit word of an ArrayBuffer: buffer argument bi, byte offset argument oi (4-aligned, in range).
bool WordArg(const Napi::CallbackInfo& info, size_t bi, size_t oi, const char* offName, int32_t** out) {
  Napi::ArrayBuffer ab;
  int64_t off = 0;
  if (!mp::ArgArrayBuffer(info, bi, "buffer", &ab) || !mp::ArgInt64(info, oi, offName, &off)) return false;
  if (off < 0 || off % 4 != 0 || static_cast<size_t>(off) + 4 > ab.ByteLength()) {
    return mp::ArgFail(info, oi, offName, "a 4-aligned offset of a word inside the buffer", true);
  }
  *out = reinterpret_cast<int32_t*>(static_cast<uint8_t*>(ab.Data()) + off);
  return true;
}

// recv(fd, records: ArrayBuffer, timeoutMs, spinUs) -> n. timeoutMs > 0 blocks the caller: first
// re-trying for up to spinUs (a reply usually comes within tens of µs: no sleep/wake-up on this side),
// then in poll().
Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  mp::Span records;
  double timeoutMs = 0;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Span, records, 1);
  MP_ARG(Double, timeoutMs, 2);
  uint8_t* buf = records.data;
  size_t len = records.len;
  double spinUs = 0;
  if (info.Length() > 3 && !info[3].IsUndefined()) MP_ARG(Double, spinUs, 3);
  int32_t* word = nullptr;
  int32_t expected = 0;
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    if (!WordArg(info, 4, 5, "wordOffset", &word)) return env.Undefined();
    MP_ARG(Int32, expected, 6);
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

// watch(fd, records: ArrayBuffer, onBatch(n)) -> { close(), ref(), unref(), busyPoll(us), inbox(...) }:
// the lifetime is watch.h's; the socket stays the caller's (closed by close(fd), not by the watch).
struct IpcWatch : mp::Watch {
  Napi::ObjectReference keep;  // the record buffer
  uint8_t* buf = nullptr;
  size_t len = 0;
  double busyPollUs = 0;       // after a batch, poll this long for the next one before epoll (0: never)
  int32_t* pub = nullptr;      // the inbox's pubCount (watched while polling), or nullptr
  int32_t* polling = nullptr;  // the inbox's polling flag (1 while this spins)
  int32_t* epoch = nullptr;    // the inbox's readEpoch (advanced before every read)
  Napi::ObjectReference inboxKeep;

  void OnClose() override {
    keep.Reset();
    inboxKeep.Reset();
    pub = nullptr;
    polling = nullptr;
    epoch = nullptr;
  }
  void OnEvent(int status, int revents) override;
};

void IpcWatch::OnEvent(int status, int) {
  if (status < 0) return;
  Napi::Env e(env);
  // One batch per wake-up: epoll is level-triggered, so what came meanwhile wakes it again at once
  // (re-reading here would cost a syscall per wake-up, usually for nothing). With busyPollUs, read
  // again, re-trying for up to that long (the peer's next message then costs this process no wake-up),
  // at most 64 batches in a row before the event loop gets its turn.
  //
  // With an inbox, the callback also drains it and returns the pubCount it read first; polling then
  // also watches pubCount (with `polling` = 1, so senders send no wake datagram), and when the poll
  // ends empty-handed the callback runs once more after `polling` = 0 (the last drain of the protocol).
  int32_t expected = pub != nullptr ? __atomic_load_n(pub, __ATOMIC_ACQUIRE) : 0;
  for (int round = 0; round < 64 && !closed; round++) {
    if (round > 0 && busyPollUs <= 0) return;
    int n;
    bool last = false;
    if (round == 0) {
      BeforeRead(epoch);
      n = DrainInto(fd, buf, len);
    } else {
      bool changed = false;
      if (polling != nullptr) __atomic_store_n(polling, 1, __ATOMIC_SEQ_CST);
      n = SpinDrain(fd, buf, len, busyPollUs, pub, expected, &changed, epoch);
      if (polling != nullptr) __atomic_store_n(polling, 0, __ATOMIC_SEQ_CST);
      last = n == 0 && !changed;
    }
    // n < 0: recvmmsg failed (not EAGAIN); the callback gets -errno and reports it.
    if (n == 0 && pub == nullptr) return;
    Napi::HandleScope scope(e);
    // MakeCallback drains the microtask queue, as a libuv-originated callback should.
    Napi::Value r = cb.Value().MakeCallback(e.Global(), {Napi::Number::New(e, n)});
    if (last || closed) return;
    if (r.IsNumber()) expected = r.As<Napi::Number>().Int32Value();
  }
}

Napi::Value WatchNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  Napi::ArrayBuffer records;
  Napi::Function cb;
  MP_ARG(Fd, fd, 0);
  MP_ARG(ArrayBuffer, records, 1);
  MP_ARG(Function, cb, 2);
  auto* w = new IpcWatch();
  w->buf = static_cast<uint8_t*>(records.Data());
  w->len = records.ByteLength();
  w->keep = Napi::Persistent(records.As<Napi::Object>());
  mp::WatchOptions opt;
  opt.events = UV_READABLE;
  opt.ownsFd = false;
  // uv_poll_init makes the socket non-blocking; sends choose per call (MSG_DONTWAIT or SO_SNDTIMEO)
  // and receives always pass MSG_DONTWAIT, so the descriptor itself goes back to blocking mode.
  opt.blocking = true;
  Napi::Value v = mp::WatchStart(env, w, fd, cb, opt, ErrnoError);
  if (!v.IsObject()) return v;  // w is freed, the exception pending
  Napi::Object handle = v.As<Napi::Object>();
  handle.Set("busyPoll", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    const Napi::CallbackInfo& info = ci;
    double us = 0;
    MP_ARG(Double, us, 0);
    w->busyPollUs = us;
    return ci.Env().Undefined();
  }));
  handle.Set("inbox", Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    if (w->closed) return ci.Env().Undefined();
    int32_t* pub = nullptr;
    int32_t* polling = nullptr;
    if (!WordArg(ci, 0, 1, "pubOffset", &pub) || !WordArg(ci, 0, 2, "pollOffset", &polling)) return ci.Env().Undefined();
    // epochOffset may be left out (no readEpoch: builds of the JS before it, as the bench compares).
    int32_t* epoch = nullptr;
    if (ci.Length() > 3 && !ci[3].IsUndefined() && !WordArg(ci, 0, 3, "epochOffset", &epoch)) return ci.Env().Undefined();
    w->inboxKeep = Napi::Persistent(ci[0].As<Napi::Object>());
    w->pub = pub;
    w->polling = polling;
    w->epoch = epoch;
    return ci.Env().Undefined();
  }));
  return handle;
}

// classify(records: ArrayBuffer, n) -> undefined: (re)writes the `fast` word of the first n records, as
// every read does (tests compare it with the TypeScript decoder on crafted and fuzzed records).
Napi::Value ClassifyRecords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  mp::Span records;
  uint32_t n = 0;
  MP_ARG(Span, records, 0);
  MP_ARG(Uint32, n, 1);
  if (static_cast<size_t>(n) * kRecSize > records.len) return mp::ArgFail(info, 1, "n", "at most the records in the buffer", true), env.Undefined();
  for (uint32_t i = 0; i < n; i++) SetFast(records.data + static_cast<size_t>(i) * kRecSize);
  return env.Undefined();
}

// yieldCpu(): one sched_yield. How long to keep yielding is policy, in TypeScript (inbox-sender.ts).
Napi::Value YieldCpu(const Napi::CallbackInfo& info) {
  sched_yield();  // always succeeds on Linux
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int32_t fd = -1;
  MP_ARG(Int32, fd, 0);  // -1 (nothing open) is accepted and does nothing
  // EBADF (closed already) and EINTR (Linux closes the fd anyway) leave nothing to retry: not reported.
  if (fd >= 0) close(fd);
  return info.Env().Undefined();
}

// memfdCreate(name) -> fd (MFD_CLOEXEC)
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  MP_ARG(String, name, 0);
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
  exports.Set("classify", Napi::Function::New(env, ClassifyRecords));
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
  l.Set("recFast", static_cast<double>(kRecFast));
  l.Set("fastOk", static_cast<double>(kFastOk));
  l.Set("fastWake", static_cast<double>(kFastWake));
  l.Set("fastExt", static_cast<double>(kFastExt));
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
