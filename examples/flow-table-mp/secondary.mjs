// flow-table-mp, secondary: attach to the group and its flow table, classify a packet trace in bursts of
// 32 with hashes computed up front (as a NIC's RSS hash would be), and print hit counts.
import { init } from '@mp/eal';
import { Hash, crc32c } from '@mp/hash';
import { FLOWS, KEY_LEN, writeKey } from './flows.mjs';

const [prefix, n] = process.argv.slice(2);
init([`--file-prefix=${prefix}`, '--proc-type=secondary', `-l`, n]);
const flows = Hash.findExisting('flows');

// A trace of 200k packets: 80 % from known flows, 20 % from flows the table does not know.
const PACKETS = 200_000;
const BURST = 32;
const keys = new Uint8Array(PACKETS * KEY_LEN);
const sigs = new Uint32Array(PACKETS);
const expect = new Int32Array(PACKETS);
let seed = Number(n) * 7919;
for (let p = 0; p < PACKETS; p++) {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  const known = seed % 10 < 8;
  const id = known ? (seed >>> 8) % FLOWS : FLOWS + ((seed >>> 8) % 1_000_000);
  writeKey(id, keys, p * KEY_LEN);
  // The table's function and seed are in its header: any process computes the same hash.
  sigs[p] = crc32c(keys.subarray(p * KEY_LEN, (p + 1) * KEY_LEN), flows.initVal);
  expect[p] = known ? id : -1;
}

const positions = new Int32Array(BURST);
const data = new Float64Array(BURST);
let hits = 0;
let wrong = 0;
const t0 = performance.now();
for (let p = 0; p < PACKETS; p += BURST) {
  hits += flows.lookupBulkWithHash(keys.subarray(p * KEY_LEN, (p + BURST) * KEY_LEN), sigs.subarray(p, p + BURST), positions, data);
  for (let j = 0; j < BURST; j++) if (data[j] !== expect[p + j]) wrong++;
}
const ms = performance.now() - t0;
console.log(
  `secondary ${n} (pid ${process.pid}): ${PACKETS} packets, ${hits} hits, ${PACKETS - hits} misses, ${wrong} wrong flow ids, ` +
    `${(PACKETS / ms / 1000).toFixed(2)} Mpps in bursts of ${BURST}`,
);
process.exit(wrong === 0 ? 0 : 1);
