// @mp/pmd-vfio native binding, tap part: the kernel objects of net_tap and its burst read/write.
//
//   tapOpen   N queue descriptors of one IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE interface (TUNSETIFF on
//             /dev/net/tun, non-blocking, close-on-exec); the interface is made when it does not exist
//   tapRx     read() frames into a buffer at the given offsets until n or EAGAIN (one N-API call per burst)
//   tapTx     write() frames from a buffer until n or EAGAIN
//
// Policy (which mbufs, counters) lives in TypeScript (src/drivers/net-tap.ts). Every syscall is checked.

#include "fds.h"
#include "memif_abi.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <vector>

namespace mp_tap {

using mp_memif::ErrnoError;

namespace {

// tapOpen(name, queues) -> fds
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  int32_t queues = 0;
  MP_ARG(String, name, 0);
  MP_ARG(Int32, queues, 1);
  if (name.empty() || name.size() >= IFNAMSIZ || queues < 1) {
    ErrnoError(env, EINVAL, "TUNSETIFF", name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<int> fds;
  auto fail = [&](int err, const char* what) {
    for (int f : fds) mp::CloseQuiet(f);  // error path: the failure below is the one reported
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
  int fd = -1;
  mp::Span buf;
  Napi::Uint32Array offs, lens;
  uint32_t room = 0, count = 0;
  if (!mp::ArgFd(info, 0, "fd", &fd) || !mp::ArgSpan(info, 1, "dst", &buf) || !mp::ArgUint32Array(info, 2, "offsets", &offs) ||
      !mp::ArgUint32(info, 3, "room", &room) || !mp::ArgUint32Array(info, 4, "lens", &lens) || !mp::ArgUint32(info, 5, "n", &count)) {
    return env.Undefined();
  }
  uint8_t* dst = buf.data;
  size_t dlen = buf.len;
  size_t n = count;
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
  int fd = -1;
  mp::Span buf;
  Napi::Uint32Array offs, lens;
  uint32_t count = 0;
  if (!mp::ArgFd(info, 0, "fd", &fd) || !mp::ArgSpan(info, 1, "src", &buf) || !mp::ArgUint32Array(info, 2, "offsets", &offs) ||
      !mp::ArgUint32Array(info, 3, "lens", &lens) || !mp::ArgUint32(info, 4, "n", &count)) {
    return env.Undefined();
  }
  uint8_t* src = buf.data;
  size_t slen = buf.len;
  size_t n = count;
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
