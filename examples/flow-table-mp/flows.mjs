// The flows of the example and their 13-byte 5-tuple keys: src ip, dst ip, src port, dst port, protocol.
export const KEY_LEN = 13;
export const FLOWS = 50_000;

/** The 5-tuple of flow `i` (i ≥ FLOWS gives flows the table does not know). */
export function tuple(i) {
  return {
    src: [10, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff],
    dst: [192, 168, 0, (i % 250) + 1],
    sport: 1024 + (i % 60_000),
    dport: i % 3 === 0 ? 443 : 80,
    proto: i % 5 === 0 ? 17 : 6,
  };
}

/** Write the key of flow `i` at `out[at…]` (network byte order, as it sits in a packet header). */
export function writeKey(i, out, at = 0) {
  const t = tuple(i);
  out.set(t.src, at);
  out.set(t.dst, at + 4);
  out[at + 8] = t.sport >>> 8;
  out[at + 9] = t.sport & 0xff;
  out[at + 10] = t.dport >>> 8;
  out[at + 11] = t.dport & 0xff;
  out[at + 12] = t.proto;
  return out;
}

export const flowKey = (i) => writeKey(i, new Uint8Array(KEY_LEN));
