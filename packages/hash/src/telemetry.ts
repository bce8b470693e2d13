/**
 * The hash's telemetry commands (DPDK 22.11 has none for rte_hash; @mp's live under `/mp/`):
 * `/mp/hash/list` and `/mp/hash/info,<name>`. Registered when @mp/hash is loaded; read-only, through
 * the public API.
 */
import { memzone } from '@mp/memory';
import { telemetry } from '@mp/eal';
import { HASH_MZ_PREFIX } from './options.js';
import { Hash } from './table.js';

telemetry.register('/mp/hash/list', 'Returns list of hash tables. Takes no parameters', () =>
  memzone
    .list()
    .filter((z) => z.name.startsWith(HASH_MZ_PREFIX))
    .map((z) => z.name.slice(HASH_MZ_PREFIX.length))
    .sort(),
);

telemetry.register('/mp/hash/info', 'Returns info for a hash table. Parameters: hash name', (_cmd, name) => {
  if (name === undefined) throw new Error('hash name required');
  const h = Hash.findExisting(name);
  return {
    name,
    entries: h.entries,
    count: h.count(),
    key_len: h.keyLen,
    hash_func: h.hashFunc,
    buckets: h.numBuckets,
    extendable: h.extendable,
    multi_writer: h.multiWriter,
    mz_name: HASH_MZ_PREFIX + name,
  };
});
