/** Plain-text renderings of `mp ls` and `mp info` (the `--json` forms print the objects as they are). */
import type { TelemetryJson } from './client.js';
import type { GroupInfo, GroupSummary } from './groups.js';

/** 1536 → "1.5 KiB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Left-aligned columns. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export function formatLs(groups: GroupSummary[], errors: Array<{ runtimeDir: string; error: string }>): string {
  if (groups.length === 0 && errors.length === 0) return 'no @mp groups found';
  const rows = groups.map((g) => [
    g.prefix,
    g.stale ? 'STALE' : g.state === 'ready' ? 'live' : g.state,
    g.primaryPid ? `${g.primaryPid}${g.primaryAlive ? '' : ' (dead)'}` : '-',
    String(g.processes),
    `${bytes(g.reservedBytes)} / ${bytes(g.capBytes)}`,
    g.runtimeDir,
  ]);
  const out = [table(['PREFIX', 'STATE', 'PRIMARY', 'PROCS', 'MEMORY (reserved / cap)', 'RUNTIME DIR'], rows)];
  for (const e of errors) out.push(`! ${e.runtimeDir}: ${e.error}`);
  if (groups.some((g) => g.stale)) out.push("STALE: no process holds the group (the kernel's locks say so); 'mp cleanup' removes it");
  return out.join('\n');
}

const str = (v: TelemetryJson | undefined): string => (v === undefined || v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A fill bar: `[#####.....]`. */
export function bar(used: number, cap: number, width = 20): string {
  const n = cap > 0 ? Math.min(width, Math.round((used / cap) * width)) : 0;
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

export function formatInfo(g: GroupInfo): string {
  const out: string[] = [];
  out.push(`group '${g.prefix}' in ${g.runtimeDir}: ${g.live ? g.state : 'STALE (no live process)'}, primary pid ${g.primaryPid}${g.primaryAlive ? '' : ' (dead)'}`);
  if (g.memory) {
    out.push(`memory: ${bytes(g.memory.reservedBytes)} reserved of ${bytes(g.memory.capBytes)}, ${g.memory.hugetlb ? 'hugepages' : '/dev/shm'} (${bytes(g.memory.pageSize)} pages) in ${g.memory.segDir}`);
  }
  out.push('', 'processes:');
  const stats = new Map(g.procStats.map((p) => [p.slot, p]));
  out.push(
    table(
      ['SLOT', 'PID', 'TYPE', 'ALIVE', 'LCORES', 'CPU s', 'RSS', 'TELEMETRY'],
      g.processes.map((p) => {
        const s = stats.get(p.slot);
        return [String(p.slot), String(p.pid), p.type, p.alive ? 'yes' : 'no', p.lcores.join(',') || '-', s?.stat ? s.stat.cpuSeconds.toFixed(2) : '-', bytes(s?.stat?.rssBytes), s?.telemetry ?? '-'];
      }),
    ),
  );
  const withIpc = g.procStats.filter((p) => p.ipc !== undefined && p.ipc !== null);
  if (withIpc.length) {
    out.push('', 'ipc:');
    out.push(
      table(
        ['PID', 'INBOX', 'PENDING', 'ACTIONS'],
        withIpc.map((p) => {
          const i = p.ipc as Record<string, TelemetryJson>;
          return [String(p.pid), i.has_inbox ? 'yes' : 'no', str(i.pending_requests), Array.isArray(i.actions) ? i.actions.join(',') || '-' : '-'];
        }),
      ),
    );
  }
  if (g.memory) {
    out.push('', `memzones (${g.memory.memzones.length}):`);
    out.push(table(['NAME', 'LEN', 'SEGMENT', 'OFFSET', 'BY PID'], g.memory.memzones.map((z) => [z.name, bytes(z.len), String(z.segment), `0x${z.offset.toString(16)}`, String(z.reservedBy)])));
  }
  if (g.source === undefined) {
    out.push('', g.live ? 'no telemetry socket answered: rings, mempools and ports not shown' : '');
    return out.join('\n').trimEnd();
  }
  out.push('', `rings (${g.rings.length}, via telemetry of pid ${g.source.pid}):`);
  out.push(table(['NAME', 'USED', 'CAPACITY', 'FILL', 'MODE'], g.rings.map((r) => [r.name, String(r.used_count), String(r.capacity), bar(r.used_count, r.capacity), `${str(r.producer)}/${str(r.consumer)}`])));
  if (g.hashes.length) {
    out.push('', `hashes (${g.hashes.length}):`);
    out.push(table(['NAME', 'COUNT', 'ENTRIES', 'KEY', 'FUNC'], g.hashes.map((h) => [str(h.name), str(h.count), str(h.entries), str(h.key_len), str(h.hash_func)])));
  }
  if (g.mempools.length) {
    out.push('', `mempools (${g.mempools.length}):`);
    out.push(table(['NAME', 'SIZE', 'AVAIL', 'IN USE', 'ELT SIZE', 'CACHE'], g.mempools.map((m) => [str(m.name), str(m.size), str(m.avail_count), str(m.in_use_count), str(m.elt_size), str(m.cache_size)])));
  }
  if (g.ports.length) {
    out.push('', `ports (${g.ports.length}):`);
    out.push(
      table(
        ['ID', 'NAME', 'LINK', 'RX PKTS', 'TX PKTS', 'RX BYTES', 'TX BYTES', 'MISSED', 'ERRORS'],
        g.ports.map((p) => {
          const s = (p.stats ?? {}) as Record<string, TelemetryJson>;
          const i = (p.info ?? {}) as Record<string, TelemetryJson>;
          const l = (p.link ?? {}) as Record<string, TelemetryJson>;
          return [String(p.id), str(i.name), str(l.status), str(s.ipackets), str(s.opackets), str(s.ibytes), str(s.obytes), str(s.imissed), `${str(s.ierrors)}/${str(s.oerrors)}`];
        }),
      ),
    );
  }
  return out.join('\n');
}
