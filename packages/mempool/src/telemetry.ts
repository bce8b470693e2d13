/**
 * The mempool's telemetry commands, DPDK's names (lib/mempool/rte_mempool.c): `/mempool/list` and
 * `/mempool/info,<name>`. Registered when @mp/mempool is loaded; read-only, through the public API.
 */
import { memzone } from '@mp/memory';
import { telemetry } from '@mp/eal';
import { MEMPOOL_MZ_PREFIX, MBUF_HDR_SIZE, KIND_PKTMBUF } from './layout.js';
import { Mempool } from './mempool.js';

function poolNames(): string[] {
  return memzone
    .list()
    .filter((z) => z.name.startsWith(MEMPOOL_MZ_PREFIX))
    .map((z) => z.name.slice(MEMPOOL_MZ_PREFIX.length))
    .sort();
}

telemetry.register('/mempool/list', 'Returns list of available mempool. Takes no parameters', () => poolNames());

telemetry.register('/mempool/info', 'Returns mempool info. Parameters: pool_name', (_cmd, name) => {
  if (name === undefined) throw new Error('mempool name required');
  const p = Mempool.lookup(name);
  return {
    name: p.name,
    pool_id: p.id,
    flags: p.flags,
    socket_id: 0,
    size: p.n,
    cache_size: p.cacheSize,
    elt_size: p.eltSize,
    header_size: p.kind === KIND_PKTMBUF ? MBUF_HDR_SIZE : 0,
    trailer_size: p.stride - p.eltSize,
    private_data_size: p.privSize,
    ops_index: 0,
    ops_name: 'mp_ring',
    populated_size: p.n,
    avail_count: p.availCount,
    in_use_count: p.inUseCount,
  };
});
