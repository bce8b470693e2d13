/**
 * `mp exporter`: Prometheus `/metrics` (text format 0.0.4, via prom-client) for one or more groups.
 * Every scrape reads afresh — the configs read-only, shared objects through a live process's telemetry
 * — so the exporter holds no group open between scrapes and never joins one.
 *
 * Metrics (labels: `prefix` always; `ring`, `mempool`, `port`, `queue`, `direction` where they apply):
 * `mp_group_up`, `mp_group_processes`, `mp_memory_reserved_bytes`, `mp_memory_cap_bytes`,
 * `mp_memzones`, `mp_ring_used`, `mp_ring_capacity`, `mp_mempool_available`, `mp_mempool_in_use`,
 * `mp_port_packets_total`, `mp_port_bytes_total`, `mp_port_errors_total`, `mp_port_dropped_total`,
 * `mp_port_queue_packets_total`, `mp_port_queue_bytes_total`, `mp_port_queue_errors_total`,
 * `mp_process_cpu_seconds_total`, `mp_process_resident_memory_bytes`, `mp_ipc_messages_total` (from
 * `/mp/ipc/stats` when @mp/ipc serves it).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { TelemetryJson } from './client.js';
import { groupDirs, groupInfo, resolveGroup } from './groups.js';
import type { GroupSearch } from './groups.js';
import { connectGroup } from './groups.js';
import { inspectGroup } from '@mp/eal';

/** Options of {@link startExporter}. */
export interface ExporterOptions extends GroupSearch {
  /** TCP port (default 9100; 0 picks a free one). */
  port?: number;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Groups to export (default: every group found). */
  prefixes?: string[];
}

/** A running exporter. */
export interface Exporter {
  /** `http://host:port/metrics`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const num = (v: TelemetryJson | undefined): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const rec = (v: TelemetryJson | undefined): Record<string, TelemetryJson> => (v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : {});

/** Build the registry for one scrape of `dirs`. */
export async function collectMetrics(dirs: string[]): Promise<Registry> {
  const registers = [new Registry()];
  const reg = registers[0]!;
  const g = (name: string, help: string, labelNames: string[]): Gauge => new Gauge({ name, help, labelNames, registers });
  const c = (name: string, help: string, labelNames: string[]): Counter => new Counter({ name, help, labelNames, registers });
  const up = g('mp_group_up', '1 while a process holds the group (kernel locks), 0 for a stale group', ['prefix']);
  const procs = g('mp_group_processes', 'Processes holding a slot of the group', ['prefix']);
  const memRes = g('mp_memory_reserved_bytes', 'Bytes reserved by memzones', ['prefix']);
  const memCap = g('mp_memory_cap_bytes', 'Memory cap of the group (-m)', ['prefix']);
  const memzones = g('mp_memzones', 'Memzones in use', ['prefix']);
  const ringCount = g('mp_ring_used', 'Elements in the ring (rte_ring_count)', ['prefix', 'ring']);
  const ringCap = g('mp_ring_capacity', 'Capacity of the ring', ['prefix', 'ring']);
  const mpAvail = g('mp_mempool_available', 'Objects available in the mempool', ['prefix', 'mempool']);
  const mpUse = g('mp_mempool_in_use', 'Objects of the mempool in use', ['prefix', 'mempool']);
  const pkts = c('mp_port_packets_total', 'Packets received (rx) or sent (tx) by the port', ['prefix', 'port', 'direction']);
  const byts = c('mp_port_bytes_total', 'Bytes received (rx) or sent (tx) by the port', ['prefix', 'port', 'direction']);
  const errs = c('mp_port_errors_total', 'Receive (rx) or transmit (tx) errors of the port', ['prefix', 'port', 'direction']);
  const drops = c('mp_port_dropped_total', 'Packets dropped on receive: missed (no descriptor) or no mbuf', ['prefix', 'port', 'reason']);
  const qPkts = c('mp_port_queue_packets_total', 'Packets per queue', ['prefix', 'port', 'queue', 'direction']);
  const qBytes = c('mp_port_queue_bytes_total', 'Bytes per queue', ['prefix', 'port', 'queue', 'direction']);
  const qErrs = c('mp_port_queue_errors_total', 'Errors per receive queue', ['prefix', 'port', 'queue']);
  const cpu = c('mp_process_cpu_seconds_total', 'User and system CPU time of a process of the group', ['prefix', 'pid', 'slot', 'type']);
  const rss = g('mp_process_resident_memory_bytes', 'Resident memory of a process of the group', ['prefix', 'pid', 'slot', 'type']);
  const ipc = c('mp_ipc_messages_total', 'IPC messages of the process serving telemetry, by kind (sent_inbox, sent_socket, wakes, received_inbox)', ['prefix', 'pid', 'kind']);

  for (const dir of dirs) {
    let info;
    try {
      info = await groupInfo(dir);
    } catch {
      continue;
    }
    const prefix = info.prefix;
    up.set({ prefix }, info.live ? 1 : 0);
    procs.set({ prefix }, info.processes.filter((p) => p.alive).length);
    if (info.memory) {
      memRes.set({ prefix }, info.memory.reservedBytes);
      memCap.set({ prefix }, info.memory.capBytes);
      memzones.set({ prefix }, info.memory.memzones.length);
    }
    for (const r of info.rings) {
      ringCount.set({ prefix, ring: r.name }, r.used_count);
      ringCap.set({ prefix, ring: r.name }, r.capacity);
    }
    for (const m of info.mempools) {
      const name = String(m.name);
      const a = num(m.avail_count);
      const u = num(m.in_use_count);
      if (a !== undefined) mpAvail.set({ prefix, mempool: name }, a);
      if (u !== undefined) mpUse.set({ prefix, mempool: name }, u);
    }
    for (const p of info.ports) {
      const s = rec(p.stats);
      const port = String(p.id);
      const add = (m: Counter, labels: Record<string, string>, v: TelemetryJson | undefined): void => {
        const n = num(v);
        if (n !== undefined && n >= 0) m.inc(labels, n);
      };
      add(pkts, { prefix, port, direction: 'rx' }, s.ipackets);
      add(pkts, { prefix, port, direction: 'tx' }, s.opackets);
      add(byts, { prefix, port, direction: 'rx' }, s.ibytes);
      add(byts, { prefix, port, direction: 'tx' }, s.obytes);
      add(errs, { prefix, port, direction: 'rx' }, s.ierrors);
      add(errs, { prefix, port, direction: 'tx' }, s.oerrors);
      add(drops, { prefix, port, reason: 'missed' }, s.imissed);
      add(drops, { prefix, port, reason: 'nombuf' }, s.rx_nombuf);
      const perQ = (key: string, m: Counter, dir?: string): void => {
        const arr = s[key];
        if (!Array.isArray(arr)) return;
        arr.forEach((v, q) => add(m, { prefix, port, queue: String(q), ...(dir ? { direction: dir } : {}) }, v));
      };
      perQ('q_ipackets', qPkts, 'rx');
      perQ('q_opackets', qPkts, 'tx');
      perQ('q_ibytes', qBytes, 'rx');
      perQ('q_obytes', qBytes, 'tx');
      perQ('q_errors', qErrs);
    }
    for (const p of info.procStats) {
      const t = info.processes.find((x) => x.slot === p.slot)?.type ?? 'secondary';
      const labels = { prefix, pid: String(p.pid), slot: String(p.slot), type: t };
      if (p.stat) {
        cpu.inc(labels, p.stat.cpuSeconds);
        rss.set(labels, p.stat.rssBytes);
      }
    }
    if (info.live) {
      const client = await connectGroup(inspectGroup(dir)).catch(() => undefined);
      if (client) {
        try {
          const cmds = await client.request('/');
          if (Array.isArray(cmds) && cmds.includes('/mp/ipc/stats')) {
            const st = rec(await client.request('/mp/ipc/stats'));
            for (const [kind, v] of Object.entries(st)) {
              const n = num(v);
              if (n !== undefined && n >= 0) ipc.inc({ prefix, pid: String(client.greeting.pid), kind }, n);
            }
          }
        } catch {
          // went away mid-scrape
        } finally {
          client.close();
        }
      }
    }
  }
  return reg;
}

/**
 * Serve `/metrics` for the chosen groups (re-read on every scrape; groups appearing later are picked
 * up when no prefix was named).
 *
 * @throws {MpError} ENOENT — a named prefix has no group; EADDRINUSE-class errors from listen
 */
export async function startExporter(o: ExporterOptions = {}): Promise<Exporter> {
  const named = o.prefixes?.length ? o.prefixes.map((p) => resolveGroup(p, o)) : undefined;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics' && req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(req.url === '/' ? 'mp exporter: see /metrics\n' : 'not found\n');
      return;
    }
    collectMetrics(named ?? groupDirs(o)).then(
      async (reg) => {
        res.writeHead(200, { 'content-type': reg.contentType });
        res.end(await reg.metrics());
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${(err as Error).message}\n`);
      },
    );
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 9100, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/metrics`,
    port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
