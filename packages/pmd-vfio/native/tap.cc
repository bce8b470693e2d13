// @mp/pmd-vfio native binding, tap part: the kernel objects of net_tap and its burst read/write.
//
//   tapOpen   N queue descriptors of one IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE interface (TUNSETIFF on
//             /dev/net/tun, non-blocking, close-on-exec); the interface is made when it does not exist
//   tapRx     read() frames into a buffer at the given offsets until n or EAGAIN (one N-API call per burst)
//   tapTx     write() frames from a buffer until n or EAGAIN
//
// Policy (which mbufs, counters) lives in TypeScript (src/drivers/net-tap.ts). Every syscall is checked.

#include "memif_abi.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <vector>

namespace mp_tap {

using mp_memif::BytesOf;
using mp_memif::ErrnoError;
using mp_memif::Int;

namespace {

// tapOpen(name, queues) -> fds
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int queues = Int(info[1]);
  if (name.empty() || name.size() >= IFNAMSIZ || queues < 1) {
    ErrnoError(env, EINVAL, "TUNSETIFF", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<int> fds;
  auto fail = [&](int err, const char* what) {
    for (int f : fds) close(f);
    ErrnoError(env, err, what, name).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  for (int q = 0; q < queues; q++) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(errno, "open(/dev/net/tun)");
    fds.push_back(fd);
    ifreq r {};
    memcpy(r.ifr_name, name.data(), name.size());
    r.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
    if (ioctl(fd, TUNSETIFF, &r) != 0) return fail(errno, "ioctl(TUNSETIFF)");
  }
  Napi::Array a = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) a.Set(i, fds[i]);
  return a;
}

// tapRx(fd, dst, offsets, room, lens, n) -> frames read (lens[i] > room: the frame was cut), or -errno
// when the first read fails with something else than EAGAIN (EIO / EBADFD: the interface is down or gone).
Napi::Value TapRx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int(info[0]);
  uint8_t* dst;
  size_t dlen;
  if (!BytesOf(info[1], &dst, &dlen) || !info[2].IsTypedArray() || !info[4].IsTypedArray()) {
    Napi::TypeError::New(env, "tapRx(fd, buf, Uint32Array, room, Uint32Array, n)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint32Array offs = info[2].As<Napi::Uint32Array>();
  size_t room = static_cast<size_t>(Int(info[3]));
  Napi::Uint32Array lens = info[4].As<Napi::Uint32Array>();
  size_t n = static_cast<size_t>(Int(info[5]));
  if (n > offs.ElementLength() || n > lens.ElementLength()) n = 0;
  size_t i = 0;
  for (; i < n; i++) {
    size_t o = offs[i];
    if (o > dlen || room > dlen - o) break;
    ssize_t r = read(fd, dst + o, room);
    if (r < 0) {
      if (i == 0 && errno != EAGAIN && errno != EINTR) return Napi::Number::New(env, -errno);
      break;
    }
    lens[i] = static_cast<uint32_t>(r);
  }
  return Napi::Number::New(env, static_cast<double>(i));
}

// tapTx(fd, src, offsets, lens, n) -> frames written, or -errno when the first write fails with
// something else than EAGAIN.
Napi::Value TapTx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int(info[0]);
  uint8_t* src;
  size_t slen;
  if (!BytesOf(info[1], &src, &slen) || !info[2].IsTypedArray() || !info[3].IsTypedArray()) {
    Napi::TypeError::New(env, "tapTx(fd, buf, Uint32Array, Uint32Array, n)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint32Array offs = info[2].As<Napi::Uint32Array>();
  Napi::Uint32Array lens = info[3].As<Napi::Uint32Array>();
  size_t n = static_cast<size_t>(Int(info[4]));
  if (n > offs.ElementLength() || n > lens.ElementLength()) n = 0;
  size_t i = 0;
  for (; i < n; i++) {
    size_t o = offs[i], l = lens[i];
    if (o > slen || l > slen - o) break;
    ssize_t r = write(fd, src + o, l);
    if (r < 0) {
      if (i == 0 && errno != EAGAIN && errno != EINTR) return Napi::Number::New(env, -errno);
      break;
    }
  }
  return Napi::Number::New(env, static_cast<double>(i));
}

}  // namespace

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen));
  exports.Set("tapRx", Napi::Function::New(env, TapRx));
  exports.Set("tapTx", Napi::Function::New(env, TapTx));
}

}  // namespace mp_tap
