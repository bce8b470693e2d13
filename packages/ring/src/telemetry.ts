/**
 * The ring's telemetry commands, DPDK's names (lib/ring/rte_ring.c): `/ring/list` and
 * `/ring/info,<name>`. Registered when @mp/ring is loaded; read-only, through the public API.
 * `prod_tail`/`cons_tail` (@mp's additions) are the running enqueue/dequeue counters (mod 2^32): a
 * reader sampling them twice gets rates, which `mp top` shows.
 */
import { memzone } from '@mp/memory';
import { telemetry } from '@mp/eal';
import { RING_MZ_PREFIX } from './layout.js';
import { Ring } from './ring.js';

function ringNames(): string[] {
  return memzone
    .list()
    .filter((z) => z.name.startsWith(RING_MZ_PREFIX))
    .map((z) => z.name.slice(RING_MZ_PREFIX.length))
    .sort();
}

telemetry.register('/ring/list', 'Returns list of available rings. Takes no parameters', () => ringNames());

telemetry.register('/ring/info', 'Returns ring info for a ring. Parameters: ring name', (_cmd, name) => {
  if (name === undefined) throw new Error('ring name required');
  const r = Ring.lookup(name);
  const mz = memzone.find(RING_MZ_PREFIX + name);
  const dump = r.dump();
  const word = (key: string): number => Number(new RegExp(`\\b${key}=(\\d+)`).exec(dump)?.[1] ?? 0);
  return {
    name: r.name,
    socket: mz?.socketId ?? -1,
    flags: r.flags,
    size: r.size,
    mask: r.mask,
    capacity: r.capacity,
    used_count: r.count(),
    elem_size: r.elemSize,
    producer: r.producerMode,
    consumer: r.consumerMode,
    prod_tail: word('pt'),
    cons_tail: word('ct'),
    mz_name: RING_MZ_PREFIX + name,
    mz_len: mz?.len ?? 0,
    mz_socket_id: mz?.socketId ?? -1,
    mz_flags: mz?.flags ?? 0,
  };
});
