/* A DPDK 22.11 process for @mp/ipc's interop test: a real rte_mp peer.
 * Run as a DPDK primary (EAL args on the command line); commands on stdin, one per line:
 *   sizes                 print sizeof/offsetof of struct rte_mp_msg
 *   sendmsg NAME TEXT     rte_mp_sendmsg (primary: broadcast to every secondary socket)
 *   sendfd NAME TEXT      the same with a memfd holding TEXT
 *   req NAME TEXT         rte_mp_request_sync (5 s), prints every reply
 *   malloc MB             rte_malloc MB MiB, then rte_free it; with dynamic memory (hugepages, not
 *                         --no-huge) each asks every secondary to sync ("mp_malloc_sync", 5 s): prints
 *                         MALLOC ok|fail <ms> FREE <ms>
 *   quit
 * Actions: dpdk_echo (replies "dpdk:<param>:<fd text>"), dpdk_note (prints what came).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_string_fns.h>

static void read_fd_text(int fd, char *out, size_t n) {
	ssize_t r = pread(fd, out, n - 1, 0);
	out[r > 0 ? r : 0] = '\0';
	close(fd);
}

static void param_text(const struct rte_mp_msg *m, char *out, size_t n) {
	size_t len = (size_t)m->len_param < n - 1 ? (size_t)m->len_param : n - 1;
	memcpy(out, m->param, len);
	out[len] = '\0';
}

static int on_echo(const struct rte_mp_msg *msg, const void *peer) {
	struct rte_mp_msg reply;
	char text[300], fdt[300] = "";
	memset(&reply, 0, sizeof(reply));
	param_text(msg, text, sizeof(text));
	if (msg->num_fds > 0) read_fd_text(msg->fds[0], fdt, sizeof(fdt));
	strlcpy(reply.name, msg->name, sizeof(reply.name));
	reply.len_param = snprintf((char *)reply.param, sizeof(reply.param), "dpdk:%s:%s", text, fdt);
	printf("ECHO %s from %s\n", text, (const char *)peer);
	fflush(stdout);
	return rte_mp_reply(&reply, peer);
}

static double now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int on_note(const struct rte_mp_msg *msg, const void *peer) {
	char text[300], fdt[300] = "";
	param_text(msg, text, sizeof(text));
	if (msg->num_fds > 0) read_fd_text(msg->fds[0], fdt, sizeof(fdt));
	printf("NOTE %s num_fds=%d fd=%s from=%s\n", text, msg->num_fds, fdt, (const char *)peer);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv) {
	if (rte_eal_init(argc, argv) < 0) {
		printf("FAIL init %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (rte_mp_action_register("dpdk_echo", on_echo) < 0 || rte_mp_action_register("dpdk_note", on_note) < 0) {
		printf("FAIL register %s\n", rte_strerror(rte_errno));
		return 1;
	}
	printf("READY %s\n", rte_eal_get_runtime_dir());
	fflush(stdout);
	char line[512];
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32] = "", name[128] = "", text[300] = "";
		line[strcspn(line, "\n")] = '\0';
		sscanf(line, "%31s %127s %299[^\n]", cmd, name, text);
		if (!strcmp(cmd, "quit")) break;
		if (!strcmp(cmd, "sizes")) {
			printf("SIZES %zu %zu %zu %zu %zu %zu\n", sizeof(struct rte_mp_msg), offsetof(struct rte_mp_msg, name),
			       offsetof(struct rte_mp_msg, len_param), offsetof(struct rte_mp_msg, num_fds),
			       offsetof(struct rte_mp_msg, param), offsetof(struct rte_mp_msg, fds));
		} else if (!strcmp(cmd, "sendmsg") || !strcmp(cmd, "sendfd")) {
			struct rte_mp_msg m;
			memset(&m, 0, sizeof(m));
			strlcpy(m.name, name, sizeof(m.name));
			m.len_param = snprintf((char *)m.param, sizeof(m.param), "%s", text);
			if (!strcmp(cmd, "sendfd")) {
				int fd = memfd_create("dpdk", 0);
				if (write(fd, text, strlen(text)) < 0) perror("write");
				m.fds[0] = fd;
				m.num_fds = 1;
			}
			int r = rte_mp_sendmsg(&m);
			printf("SENT %d %s\n", r, r < 0 ? rte_strerror(rte_errno) : "");
			if (m.num_fds) close(m.fds[0]);
		} else if (!strcmp(cmd, "req")) {
			struct rte_mp_msg m;
			struct rte_mp_reply rep;
			struct timespec ts = {.tv_sec = 5, .tv_nsec = 0};
			memset(&m, 0, sizeof(m));
			strlcpy(m.name, name, sizeof(m.name));
			m.len_param = snprintf((char *)m.param, sizeof(m.param), "%s", text);
			int r = rte_mp_request_sync(&m, &rep, &ts);
			printf("REPLY %d %d %d", r, rep.nb_sent, rep.nb_received);
			for (int i = 0; i < rep.nb_received; i++) {
				char t[300];
				param_text(&rep.msgs[i], t, sizeof(t));
				printf(" [%s]", t);
			}
			printf("\n");
			free(rep.msgs);
		} else if (!strcmp(cmd, "malloc")) {
			size_t mb = strtoul(name, NULL, 10);
			double t0 = now_ms();
			void *p = rte_malloc("mp_interop", mb << 20, 0);
			double t1 = now_ms();
			rte_free(p);
			printf("MALLOC %s %.0f FREE %.0f\n", p != NULL ? "ok" : "fail", t1 - t0, now_ms() - t1);
		} else {
			printf("UNKNOWN %s\n", cmd);
		}
		fflush(stdout);
	}
	rte_eal_cleanup();
	return 0;
}
