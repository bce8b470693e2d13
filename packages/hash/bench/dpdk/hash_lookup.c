/*
 * DPDK reference for @mp/hash's benchmark: rte_hash with the same keys, table size, hash function and
 * seed, timed in the same run. Keys come from a file of N × key_len bytes written by hash.bench.ts.
 *
 *   hash_lookup <EAL args> -- <keyfile> <key_len> <entries> <init_val> <rounds>
 *
 * Prints one JSON line: Mops/s of add, lookup, lookup_with_hash, lookup_bulk (32), lookup_bulk_data is
 * not used. Lookups walk the key array in order (the keys are random, so buckets are hit at random).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int consumed = rte_eal_init(argc, argv);
	if (consumed < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 2;
	}
	argc -= consumed;
	argv += consumed;
	if (argc < 6) {
		fprintf(stderr, "usage: ... -- keyfile key_len entries init_val rounds\n");
		return 2;
	}
	const char *path = argv[1];
	unsigned key_len = atoi(argv[2]);
	unsigned entries = atoi(argv[3]);
	uint32_t init_val = strtoul(argv[4], NULL, 0);
	int rounds = atoi(argv[5]);

	FILE *f = fopen(path, "rb");
	if (!f) { perror(path); return 2; }
	fseek(f, 0, SEEK_END);
	long bytes = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned n = bytes / key_len;
	uint8_t *keys = malloc(bytes);
	if (fread(keys, 1, bytes, f) != (size_t)bytes) { perror("read"); return 2; }
	fclose(f);

	struct rte_hash_parameters params = {
		.name = "bench",
		.entries = entries,
		.key_len = key_len,
		.hash_func = rte_hash_crc,
		.hash_func_init_val = init_val,
		.socket_id = 0,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct rte_hash *h = rte_hash_create(&params);
	if (!h) { fprintf(stderr, "rte_hash_create failed: %s\n", rte_strerror(rte_errno)); return 2; }

	const void **ptrs = malloc(sizeof(void *) * n);
	hash_sig_t *sigs = malloc(sizeof(hash_sig_t) * n);
	for (unsigned i = 0; i < n; i++) ptrs[i] = keys + (size_t)i * key_len;

	double t = now();
	unsigned failed = 0;
	for (unsigned i = 0; i < n; i++)
		if (rte_hash_add_key_data(h, ptrs[i], (void *)(uintptr_t)i) < 0) failed++;
	double add = n / (now() - t) / 1e6;
	for (unsigned i = 0; i < n; i++) sigs[i] = rte_hash_hash(h, ptrs[i]);

	double *lk = calloc(rounds, sizeof(double)), *lw = calloc(rounds, sizeof(double)), *lb = calloc(rounds, sizeof(double));
	volatile int64_t sink = 0;
	int32_t positions[32];
	for (int r = 0; r < rounds; r++) {
		int64_t s = 0;
		t = now();
		for (unsigned i = 0; i < n; i++) s += rte_hash_lookup(h, ptrs[i]);
		lk[r] = n / (now() - t) / 1e6;
		t = now();
		for (unsigned i = 0; i < n; i++) s += rte_hash_lookup_with_hash(h, ptrs[i], sigs[i]);
		lw[r] = n / (now() - t) / 1e6;
		t = now();
		for (unsigned i = 0; i + 32 <= n; i += 32) {
			rte_hash_lookup_bulk(h, ptrs + i, 32, positions);
			s += positions[0];
		}
		lb[r] = (n / 32 * 32) / (now() - t) / 1e6;
		sink += s;
	}
	qsort(lk, rounds, sizeof(double), cmp_double);
	qsort(lw, rounds, sizeof(double), cmp_double);
	qsort(lb, rounds, sizeof(double), cmp_double);
	printf("{\"keys\":%u,\"failed\":%u,\"add\":%.3f,\"lookup\":%.3f,\"lookupWithHash\":%.3f,\"lookupBulk\":%.3f}\n",
	       n, failed, add, lk[rounds / 2], lw[rounds / 2], lb[rounds / 2]);
	rte_hash_free(h);
	rte_eal_cleanup();
	return 0;
}
