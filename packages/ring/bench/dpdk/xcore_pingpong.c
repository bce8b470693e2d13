/*
 * What one cache-line hand-off between the bench's two cores costs on this machine (no DPDK): two threads
 * pinned to cores 0 and 1 bounce a counter, each waiting for the other's store. Printed by ring.bench.ts
 * beside the ring figures: on bare metal a round trip is ~0.1-0.2 us; on a VM whose two vCPUs are not run
 * at the same time by the host it is the host's scheduling, and every cross-process figure measures that.
 *   xcore_pingpong <round trips>     prints "<ns per round trip>"
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned long flag __attribute__((aligned(128)));
static unsigned long trips;

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
		fprintf(stderr, "pin to core %d failed (running unpinned)\n", cpu);
}

static void *echo(void *arg)
{
	(void)arg;
	pin(1);
	for (unsigned long i = 0; i < trips; i++) {
		while (__atomic_load_n(&flag, __ATOMIC_ACQUIRE) != 2 * i + 1)
			;
		__atomic_store_n(&flag, 2 * i + 2, __ATOMIC_RELEASE);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	trips = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	pthread_t t;
	if (trips == 0 || pthread_create(&t, NULL, echo, NULL) != 0)
		return 2;
	pin(0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned long i = 0; i < trips; i++) {
		__atomic_store_n(&flag, 2 * i + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&flag, __ATOMIC_ACQUIRE) != 2 * i + 2)
			;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (pthread_join(t, NULL) != 0)
		return 2;
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / trips);
	return 0;
}
