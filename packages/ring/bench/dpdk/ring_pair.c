/*
 * The in-process C reference of bench/hotpath.mjs: enqueue+dequeue pairs on one DPDK rte_ring in one
 * thread (no EAL: rte_ring_init on aligned heap memory), the same work as hotpath-cell.mjs: turns of K
 * enqueue bursts then K dequeue bursts, K = 2048 / burst.
 *   ring_pair <mode single|multi> <burst> <elements>
 * Prints "<ns of CPU time per pair>".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: ring_pair single|multi burst elements\n");
		return 2;
	}
	int single = strcmp(argv[1], "single") == 0;
	unsigned burst = (unsigned)atoi(argv[2]);
	unsigned long elems = strtoul(argv[3], NULL, 10);
	ssize_t sz = rte_ring_get_memsize_elem(4096, 8);
	struct rte_ring *r;
	if (sz < 0 || posix_memalign((void **)&r, 128, (size_t)sz) != 0)
		return 2;
	if (rte_ring_init(r, "pair", 4096, single ? (RING_F_SP_ENQ | RING_F_SC_DEQ) : 0) != 0) {
		fprintf(stderr, "rte_ring_init failed\n");
		return 2;
	}
	static uint64_t in[256], out[256];
	unsigned k = 2048 / burst ? 2048 / burst : 1;
	unsigned long turns = (elems + (unsigned long)burst * k - 1) / ((unsigned long)burst * k);
	unsigned long got = 0;
	double t0 = cpu_ns();
	for (unsigned long t = 0; t < turns; t++) {
		for (unsigned i = 0; i < k; i++)
			rte_ring_enqueue_burst_elem(r, in, 8, burst, NULL);
		for (unsigned i = 0; i < k; i++)
			got += rte_ring_dequeue_burst_elem(r, out, 8, burst, NULL);
	}
	double t1 = cpu_ns();
	if (got != turns * k * burst) {
		fprintf(stderr, "moved %lu\n", got);
		return 1;
	}
	printf("%.2f\n", (t1 - t0) / (turns * k));
	return out[0] == in[0] ? 0 : 1;
}
