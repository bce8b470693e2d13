// Descriptors over AF_UNIX sockets (SCM_RIGHTS), sent and received one way by every @mp addon (kept
// identical in every package that has native code; tools/pack-check compares the copies).
//
//   send     at most kScmMaxFd descriptors a message (the kernel's SCM_MAX_FD; more: -E2BIG, nothing sent)
//   receive  with kRxFlags: MSG_CMSG_CLOEXEC (a received descriptor never leaks into a child process),
//            MSG_TRUNC (the real length comes back), MSG_DONTWAIT. The control room holds kFdRoom
//            descriptors and the sender's credentials; TakeFds keeps the first `keep` descriptors and
//            closes the rest here (counted: the caller turns "more came" into an error). When the kernel
//            cut the control data (MSG_CTRUNC: descriptors were lost in transit) none is kept: every
//            one that came is closed, and `truncated` tells the caller to report the message as bad.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace mp {

constexpr size_t kScmMaxFd = 253;  // SCM_MAX_FD (include/net/scm.h)
constexpr size_t kFdRoom = 64;     // descriptors a receive has room for; beyond, the kernel sets MSG_CTRUNC
constexpr int kRxFlags = MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC;

// close() whose result nobody can act on: on an error path (the first error is the one reported), or a
// descriptor that must not reach JavaScript. Linux frees the descriptor even when close fails (EINTR,
// EIO), and EBADF leaves nothing to undo.
inline void CloseQuiet(int fd) {
  if (close(fd) != 0) return;
}

// The control buffer of one receive (descriptors and SCM_CREDENTIALS).
struct FdControl {
  alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * kFdRoom)];
};

// sendmsg of one iovec to `name` (nullptr: the connected peer) with `nfds` descriptors (0: none),
// retried on EINTR. Returns the bytes sent, or -errno.
inline ssize_t SendWithFds(int sock, const void* name, socklen_t nameLen, const void* data, size_t len,
                           const int* fds, size_t nfds, int flags) {
  if (nfds > kScmMaxFd) return -E2BIG;
  iovec iov {const_cast<void*>(data), len};
  msghdr mh {};
  mh.msg_name = const_cast<void*>(name);
  mh.msg_namelen = name != nullptr ? nameLen : 0;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kScmMaxFd)];
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
  ssize_t r;
  do {
    r = sendmsg(sock, &mh, flags);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}

// Point a receive's msghdr at its control buffer (before recvmsg/recvmmsg with kRxFlags).
inline void PrepareRx(msghdr* m, FdControl* ctl) {
  m->msg_control = ctl->buf;
  m->msg_controllen = sizeof(ctl->buf);
}

struct RxFds {
  int kept = 0;            // descriptors now in out[], owned by the caller
  int came = 0;            // descriptors the message carried (as far as the control data reached)
  bool truncated = false;  // MSG_CTRUNC: the control data was cut, nothing kept
  bool hasCred = false;    // SCM_CREDENTIALS was present (cred filled)
};

// After a receive: keep at most `keep` descriptors in out[], close the others (see the top).
inline RxFds TakeFds(msghdr* m, int* out, int keep, ucred* cred = nullptr) {
  RxFds r;
  r.truncated = (m->msg_flags & MSG_CTRUNC) != 0;
  if (m->msg_controllen == 0) return r;
  for (cmsghdr* c = CMSG_FIRSTHDR(m); c != nullptr; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && cred != nullptr && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      memcpy(cred, CMSG_DATA(c), sizeof(ucred));
      r.hasCred = true;
    } else if (c->cmsg_type == SCM_RIGHTS) {
      size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < cnt; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        r.came++;
        if (!r.truncated && r.kept < keep) {
          out[r.kept++] = fd;
        } else {
          CloseQuiet(fd);  // never reaches JavaScript, never leaks
        }
      }
    }
  }
  return r;
}

}  // namespace mp
