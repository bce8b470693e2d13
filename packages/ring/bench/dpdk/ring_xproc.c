/*
 * The DPDK C reference of @mp/ring's benchmark: the same work as bench/peer.mjs on DPDK's rte_ring,
 * producer in a primary (core 0) and consumer in a secondary (core 1). Built and run by ring.bench.ts:
 *   ring_xproc <EAL args> -- prod|cons <reps> <n for burst 1> <n for burst 8> <n for bursts 32/128>
 * Runs, in order: mode (SP/SC, MP/MC) x element size (4, 8) x burst (1, 8, 32, 128) x reps. The consumer
 * prints one line per run: "dpdk <mode> <esize> <burst> <rep> <Melem/s> <checksum ok 0|1>".
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memzone.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#define RING_SLOTS 4096
#define KEY 0x5bd1e995u

struct ctl {
	uint32_t arrive; /* barrier counter, 2 per run */
	uint32_t ready;  /* rings created */
};

static const unsigned bursts[4] = { 1, 8, 32, 128 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void barrier(struct ctl *c, uint32_t k)
{
	__atomic_fetch_add(&c->arrive, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&c->arrive, __ATOMIC_ACQUIRE) < 2 * (k + 1))
		rte_pause();
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
	if (argc < 6) {
		fprintf(stderr, "usage: ... -- prod|cons reps n1 n8 n32\n");
		return 2;
	}
	int prod = strcmp(argv[1], "prod") == 0;
	unsigned reps = atoi(argv[2]);
	unsigned ns[3] = { (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]) };
	struct rte_ring *rings[4];
	const struct rte_memzone *mz;
	char name[32];

	if (rte_eal_process_type() == RTE_PROC_PRIMARY) {
		mz = rte_memzone_reserve("rb_ctl", sizeof(struct ctl), SOCKET_ID_ANY, 0);
		if (mz == NULL) {
			fprintf(stderr, "memzone: %s\n", rte_strerror(rte_errno));
			return 2;
		}
		memset(mz->addr, 0, sizeof(struct ctl));
		for (int i = 0; i < 4; i++) {
			snprintf(name, sizeof(name), "rb_%d", i);
			unsigned flags = i < 2 ? (RING_F_SP_ENQ | RING_F_SC_DEQ) : 0;
			rings[i] = rte_ring_create_elem(name, (i % 2) ? 8 : 4, RING_SLOTS, SOCKET_ID_ANY, flags);
			if (rings[i] == NULL) {
				fprintf(stderr, "ring: %s\n", rte_strerror(rte_errno));
				return 2;
			}
		}
		__atomic_store_n(&((struct ctl *)mz->addr)->ready, 1, __ATOMIC_RELEASE);
	} else {
		while ((mz = rte_memzone_lookup("rb_ctl")) == NULL)
			rte_pause();
		while (!__atomic_load_n(&((struct ctl *)mz->addr)->ready, __ATOMIC_ACQUIRE))
			rte_pause();
		for (int i = 0; i < 4; i++) {
			snprintf(name, sizeof(name), "rb_%d", i);
			rings[i] = rte_ring_lookup(name);
			if (rings[i] == NULL) {
				fprintf(stderr, "lookup %s failed\n", name);
				return 2;
			}
		}
	}
	struct ctl *c = mz->addr;
	uint64_t buf[128];
	uint32_t *b32 = (uint32_t *)buf;
	uint32_t k = 0;
	for (int mode = 0; mode < 2; mode++) {
		for (int es = 0; es < 2; es++) {
			struct rte_ring *r = rings[mode * 2 + es];
			unsigned esize = es ? 8 : 4;
			for (int bi = 0; bi < 4; bi++) {
				unsigned burst = bursts[bi];
				uint32_t n = ns[bi < 2 ? bi : 2];
				uint32_t want = 0;
				for (uint32_t i = 0; i < n; i++)
					want += es ? i + (i ^ KEY) : i;
				for (int rep = -1; rep < (int)reps; rep++, k++) {
					barrier(c, k);
					double t0 = now_s();
					uint32_t done = 0, sum = 0;
					if (prod) {
						while (done < n) {
							unsigned m = n - done < burst ? n - done : burst;
							if (es)
								for (unsigned i = 0; i < m; i++)
									buf[i] = (uint64_t)(done + i) | ((uint64_t)((done + i) ^ KEY) << 32);
							else
								for (unsigned i = 0; i < m; i++)
									b32[i] = done + i;
							done += rte_ring_enqueue_burst_elem(r, buf, esize, m, NULL);
						}
					} else {
						while (done < n) {
							unsigned got = rte_ring_dequeue_burst_elem(r, buf, esize, burst, NULL);
							unsigned words = got * (esize / 4);
							for (unsigned i = 0; i < words; i++)
								sum += b32[i];
							done += got;
						}
						double t1 = now_s();
						printf("dpdk %s %u %u %d %.3f %d\n", mode ? "mpmc" : "spsc", esize, burst, rep,
						       n / (t1 - t0) / 1e6, sum == want);
						fflush(stdout);
					}
				}
			}
		}
	}
	rte_eal_cleanup();
	return 0;
}
