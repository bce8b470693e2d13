import { K } from './layout.js';

/**
 * What rte_pktmbuf_init sets once per mbuf: direct (its own data room), refcnt 1, one segment. Free,
 * detach and the reclaim of a dead process's mbufs keep it true of every mbuf in the pool, so that
 * alloc's reset writes one cache line only. `b` is the word index of the mbuf's header.
 */
export function initMbuf(words: Uint32Array, b: number, h: number, dataRoom: number): void {
  words[b + K.W_BUF] = h;
  words[b + K.W_BUF_LEN] = dataRoom;
  words[b + K.W_REFCNT] = 1;
  words[b + K.W_NEXT] = 0;
  words[b + K.W_NB_SEGS] = 1;
}
