/*
 * Test vectors for @mp/hash: rte_hash_crc and rte_jhash of DPDK (Debian's libdpdk-dev) over keys of
 * length 0..72 with several init values. Prints JSON to stdout; the output is committed as vectors.json.
 *
 *   gcc -O2 $(pkg-config --cflags libdpdk) gen.c $(pkg-config --libs libdpdk) -o gen && ./gen > vectors.json
 *
 * rte_hash_crc picks the SSE4.2 crc32 instruction when the CPU has it; the program also computes every
 * CRC with DPDK's table-driven software path (CRC32_SW) and exits non-zero if the two ever differ.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <rte_hash_crc.h>
#include <rte_jhash.h>
#include <rte_version.h>

static uint8_t buf[128 + 8];

int main(void)
{
	const uint32_t inits[] = { 0, 1, 0xffffffffu, 0xdeadbeefu, 0x12345678u };
	uint32_t seed = 2463534242u;
	int first = 1;

	for (unsigned i = 0; i < sizeof(buf); i++) {
		seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
		buf[i] = (uint8_t)seed;
	}
	printf("{\"dpdk\":\"%s\",\"vectors\":[\n", rte_version());
	for (unsigned off = 0; off < 2; off++) {           /* off 1: a key not aligned to 4 bytes */
		for (unsigned len = 0; len <= 72; len++) {
			for (unsigned k = 0; k < sizeof(inits) / sizeof(inits[0]); k++) {
				const uint8_t *key = buf + off;
				rte_hash_crc_set_alg(CRC32_SSE42_x64);
				uint32_t crc = rte_hash_crc(key, len, inits[k]);
				rte_hash_crc_set_alg(CRC32_SW);
				uint32_t crc_sw = rte_hash_crc(key, len, inits[k]);
				if (crc != crc_sw) {
					fprintf(stderr, "crc mismatch hw %08x sw %08x len %u\n", crc, crc_sw, len);
					return 1;
				}
				uint32_t jh = rte_jhash(key, len, inits[k]);
				printf("%s{\"key\":\"", first ? "" : ",\n");
				for (unsigned b = 0; b < len; b++) printf("%02x", key[b]);
				printf("\",\"initVal\":%u,\"crc32c\":%u,\"jhash\":%u}", inits[k], crc, jh);
				first = 0;
			}
		}
	}
	printf("\n]}\n");
	return 0;
}
