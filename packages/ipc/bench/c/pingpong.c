/*
 * The C floor of @mp/ipc's default-mode round trip (issue 18.4): two processes ping-pong one 332-byte
 * datagram (DPDK's mp_msg_internal size) over bound unix datagram sockets with SO_PASSCRED, as @mp/ipc's
 * sockets are, both sides *sleeping* between messages: each waits in epoll_wait (as libuv does) and
 * then reads with recvmmsg(MSG_DONTWAIT) taking the sender's credentials. No spinning anywhere.
 *
 *   pingpong <dir> <n>   prints {"p50":µs,"p99":µs,"mean":µs} of n round trips (after n/10 warm-up)
 *
 * Built by bench/ipc.bench.ts with gcc at bench time; written for this bench, nothing copied.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WIRE 332

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int bound(const char *path, struct sockaddr_un *un) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) die("setsockopt");
  memset(un, 0, sizeof *un);
  un->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof un->sun_path) die("path too long");
  strcpy(un->sun_path, path);
  unlink(path);
  if (bind(fd, (struct sockaddr *)un, sizeof *un) != 0) die("bind");
  return fd;
}

/* Sleep in epoll until readable, then take one datagram (and its credentials) without blocking. */
static void wait_one(int ep, int fd, unsigned char *buf) {
  for (;;) {
    struct epoll_event ev;
    int r = epoll_wait(ep, &ev, 1, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("epoll_wait");
    struct sockaddr_un from;
    struct iovec iov = {buf, WIRE};
    char control[CMSG_SPACE(sizeof(struct ucred))];
    struct mmsghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_hdr.msg_name = &from;
    mh.msg_hdr.msg_namelen = sizeof from;
    mh.msg_hdr.msg_iov = &iov;
    mh.msg_hdr.msg_iovlen = 1;
    mh.msg_hdr.msg_control = control;
    mh.msg_hdr.msg_controllen = sizeof control;
    int n = recvmmsg(fd, &mh, 1, MSG_DONTWAIT, NULL);
    if (n == 1) return;
    if (n < 0 && errno != EAGAIN && errno != EINTR) die("recvmmsg");
  }
}

static void send_one(int fd, const struct sockaddr_un *to, unsigned char *buf) {
  for (;;) {
    ssize_t r = sendto(fd, buf, WIRE, MSG_NOSIGNAL, (const struct sockaddr *)to, sizeof *to);
    if (r == WIRE) return;
    if (r < 0 && errno == EINTR) continue;
    die("sendto");
  }
}

static int epoll_for(int fd) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  return ep;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: pingpong <dir> <n>\n");
    return 2;
  }
  int n = atoi(argv[2]);
  if (n <= 0) return 2;
  char pa[256], pb[256];
  snprintf(pa, sizeof pa, "%s/pp_a", argv[1]);
  snprintf(pb, sizeof pb, "%s/pp_b", argv[1]);
  struct sockaddr_un ua, ub;
  int a = bound(pa, &ua), b = bound(pb, &ub);
  unsigned char buf[WIRE];
  memset(buf, 0, sizeof buf);
  int warm = n / 10;
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(a);
    int ep = epoll_for(b);
    for (int i = 0; i < warm + n; i++) {
      wait_one(ep, b, buf);
      send_one(b, &ua, buf);
    }
    _exit(0);
  }
  close(b);
  int ep = epoll_for(a);
  double *t = malloc(sizeof(double) * n);
  if (t == NULL) die("malloc");
  double sum = 0;
  for (int i = 0; i < warm + n; i++) {
    double t0 = now_us();
    send_one(a, &ub, buf);
    wait_one(ep, a, buf);
    if (i >= warm) {
      t[i - warm] = now_us() - t0;
      sum += t[i - warm];
    }
  }
  int st;
  waitpid(child, &st, 0);
  unlink(pa);
  unlink(pb);
  qsort(t, n, sizeof(double), cmp);
  printf("{\"p50\":%.2f,\"p99\":%.2f,\"mean\":%.2f}\n", t[n / 2], t[(int)(n * 0.99)], sum / n);
  free(t);
  return 0;
}
