/*
 * The DPDK C reference of @mp/mempool's benchmark: the same loops as bench/mempool.bench.ts on DPDK's
 * rte_mempool and rte_mbuf, one process, one lcore. Built and run by mempool.bench.ts:
 *   mempool_bulk <EAL args> -- <iterations> <n objects> <cache size>
 * Prints one line per case: "dpdk <case> <CPU ns per object>" (process CPU time, so that other load on
 * the machine does not count), where a case is
 *   bulk-cache    rte_mempool_get_bulk + rte_mempool_put_bulk of 32, cache <cache size>
 *   bulk-nocache  the same on a pool without cache (every call goes to the ring)
 *   mbuf-cache    rte_pktmbuf_alloc_bulk + rte_pktmbuf_free_bulk of 32, cache <cache size>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define BURST 32

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Keeps the compiler from dropping the loops: the objects got are folded into it. */
static volatile uintptr_t sink;

static int bulk(const char *label, struct rte_mempool *mp, unsigned iters)
{
	void *objs[BURST];
	uintptr_t acc = 0;
	double t0 = now_ns();
	for (unsigned i = 0; i < iters; i++) {
		if (rte_mempool_get_bulk(mp, objs, BURST) != 0) {
			fprintf(stderr, "%s: get_bulk failed at %u\n", label, i);
			return -1;
		}
		acc += (uintptr_t)objs[i % BURST];
		rte_mempool_put_bulk(mp, objs, BURST);
	}
	double t = now_ns() - t0;
	sink = acc;
	printf("dpdk %s %.3f\n", label, t / ((double)iters * BURST));
	return 0;
}

static int mbufs(const char *label, struct rte_mempool *mp, unsigned iters)
{
	struct rte_mbuf *m[BURST];
	uintptr_t acc = 0;
	double t0 = now_ns();
	for (unsigned i = 0; i < iters; i++) {
		if (rte_pktmbuf_alloc_bulk(mp, m, BURST) != 0) {
			fprintf(stderr, "%s: alloc_bulk failed at %u\n", label, i);
			return -1;
		}
		acc += m[i % BURST]->data_off;
		rte_pktmbuf_free_bulk(m, BURST);
	}
	double t = now_ns() - t0;
	sink = acc;
	printf("dpdk %s %.3f\n", label, t / ((double)iters * BURST));
	return 0;
}

int main(int argc, char **argv)
{
	int ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	argc -= ret;
	argv += ret;
	if (argc < 4) {
		fprintf(stderr, "usage: mempool_bulk <EAL args> -- iterations n cache\n");
		return 2;
	}
	unsigned iters = (unsigned)strtoul(argv[1], NULL, 10);
	unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
	unsigned cache = (unsigned)strtoul(argv[3], NULL, 10);

	struct rte_mempool *c = rte_mempool_create("bc", n, 64, cache, 0, NULL, NULL, NULL, NULL, SOCKET_ID_ANY, 0);
	struct rte_mempool *u = rte_mempool_create("bu", n, 64, 0, 0, NULL, NULL, NULL, NULL, SOCKET_ID_ANY, 0);
	struct rte_mempool *m = rte_pktmbuf_pool_create("bm", n, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (c == NULL || u == NULL || m == NULL) {
		fprintf(stderr, "mempool create: %s\n", rte_strerror(rte_errno));
		return 3;
	}
	/* Warm-up, then the measured runs. */
	if (bulk("warm", c, iters / 10) || bulk("bulk-cache", c, iters) || bulk("bulk-nocache", u, iters) ||
	    mbufs("mbuf-cache", m, iters))
		return 4;
	rte_mempool_free(m);
	rte_mempool_free(u);
	rte_mempool_free(c);
	rte_eal_cleanup();
	return 0;
}
