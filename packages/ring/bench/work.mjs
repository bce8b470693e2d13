// The work every side of the cross-process benchmark does (peer.mjs, sab.mjs; dpdk/ring_xproc.c mirrors it):
// element i is i (4 bytes) or (i, i ^ KEY) (8 bytes); the consumer's checksum is the 32-bit sum of all words.
export const KEY = 0x5bd1e995;
export const BURSTS = [1, 8, 32, 128];

/** The checksum a consumer of n elements must arrive at. */
export function expectedSum(n, es) {
  let want = 0;
  for (let i = 0; i < n; i++) want = (want + (es ? i + ((i ^ KEY) >>> 0) : i)) | 0;
  return want >>> 0;
}
