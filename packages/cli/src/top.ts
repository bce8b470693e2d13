/**
 * `mp top`: a live view of one group, redrawn every interval — per-ring enqueue/dequeue rates and fill
 * bars, per-port packet rates and drops, per-process CPU. Rates are differences of counters sampled one
 * interval apart: ring tails (`prod_tail`/`cons_tail` of `/ring/info`, mod 2^32), port counters
 * (`/ethdev/stats`), CPU time (/proc/<pid>/stat). On a terminal the screen is redrawn in place and `q`
 * (or Ctrl-C) quits; otherwise one frame is printed (rates over one interval) and the command exits.
 */
import { inspectGroup } from '@mp/eal';
import type { TelemetryJson } from './client.js';
import { TelemetryClient } from './client.js';
import { bar, bytes, table } from './format.js';
import { connectGroup, procStat } from './groups.js';

/** One sample of the counters top turns into rates. */
export interface TopSample {
  at: number;
  prefix: string;
  runtimeDir: string;
  live: boolean;
  primaryPid: number;
  processes: Array<{ slot: number; pid: number; type: string; alive: boolean; cpuSeconds?: number; rssBytes?: number }>;
  rings: Array<{ name: string; used: number; capacity: number; prodTail: number; consTail: number }>;
  ports: Array<{ id: number; name: string; ipackets: number; opackets: number; drops: number; errors: number }>;
  mempools: Array<{ name: string; size: number; avail: number; inUse: number }>;
}

const num = (v: TelemetryJson | undefined): number => (typeof v === 'number' ? v : 0);
const rec = (v: TelemetryJson): Record<string, TelemetryJson> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});

/** Keeps one telemetry connection to the group and samples it. */
export class TopSampler {
  private client: TelemetryClient | undefined;
  private known = new Set<string>();

  constructor(readonly dir: string) {}

  async sample(): Promise<TopSample> {
    const g = inspectGroup(this.dir);
    const s: TopSample = {
      at: performance.now(),
      prefix: g.prefix,
      runtimeDir: g.runtimeDir,
      live: g.live,
      primaryPid: g.primaryPid,
      processes: g.processes.map((p) => {
        const st = p.alive ? procStat(p.pid) : undefined;
        return { slot: p.slot, pid: p.pid, type: p.type, alive: p.alive, ...(st ? { cpuSeconds: st.cpuSeconds, rssBytes: st.rssBytes } : {}) };
      }),
      rings: [],
      ports: [],
      mempools: [],
    };
    if (!g.live) return s;
    if (this.client === undefined) {
      this.client = await connectGroup(g);
      if (this.client === undefined) return s;
      const cmds = await this.client.request('/');
      this.known = new Set(Array.isArray(cmds) ? cmds.map(String) : []);
    }
    const c = this.client;
    try {
      if (this.known.has('/ring/list')) {
        for (const n of (await c.request('/ring/list')) as TelemetryJson[]) {
          const r = rec(await c.request('/ring/info', String(n)));
          s.rings.push({ name: String(n), used: num(r.used_count), capacity: num(r.capacity), prodTail: num(r.prod_tail), consTail: num(r.cons_tail) });
        }
      }
      if (this.known.has('/ethdev/list') && this.known.has('/ethdev/stats')) {
        for (const id of (await c.request('/ethdev/list')) as TelemetryJson[]) {
          const st = rec(await c.request('/ethdev/stats', String(id)));
          const info = this.known.has('/ethdev/info') ? rec(await c.request('/ethdev/info', String(id))) : {};
          s.ports.push({
            id: Number(id),
            name: typeof info.name === 'string' ? info.name : `port ${String(id)}`,
            ipackets: num(st.ipackets),
            opackets: num(st.opackets),
            drops: num(st.imissed) + num(st.rx_nombuf),
            errors: num(st.ierrors) + num(st.oerrors),
          });
        }
      }
      if (this.known.has('/mempool/list') && this.known.has('/mempool/info')) {
        for (const n of (await c.request('/mempool/list')) as TelemetryJson[]) {
          const m = rec(await c.request('/mempool/info', String(n)));
          s.mempools.push({ name: String(n), size: num(m.size), avail: num(m.avail_count), inUse: num(m.in_use_count) });
        }
      }
    } catch {
      // the process we asked went away: reconnect (maybe to another) next time
      this.close();
    }
    return s;
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}

const rate = (now: number, before: number | undefined, dtSec: number, wrap = false): number => {
  if (before === undefined || dtSec <= 0) return 0;
  const d = wrap ? (now - before) >>> 0 : now - before;
  return d / dtSec;
};
const fmtRate = (r: number): string => (r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : r >= 1e3 ? `${(r / 1e3).toFixed(1)}k` : r.toFixed(0));

/** One screen of top from two samples (`before` may be undefined on the first frame). */
export function renderTop(now: TopSample, before: TopSample | undefined, frame: number, interactive: boolean): string {
  const dt = before ? (now.at - before.at) / 1000 : 0;
  const out: string[] = [];
  const alive = now.processes.filter((p) => p.alive).length;
  out.push(`mp top — group '${now.prefix}' (${now.runtimeDir}) — ${now.live ? `primary ${now.primaryPid}, ${alive} process(es)` : 'STALE'} — frame ${frame}${interactive ? ' — q quits' : ''}`);
  const prevProc = new Map(before?.processes.map((p) => [p.slot * 1e7 + p.pid, p]) ?? []);
  out.push('', 'PROCESSES');
  out.push(
    table(
      ['SLOT', 'PID', 'TYPE', 'CPU%', 'RSS'],
      now.processes.map((p) => {
        const b = prevProc.get(p.slot * 1e7 + p.pid);
        const cpu = p.cpuSeconds !== undefined && b?.cpuSeconds !== undefined && dt > 0 ? ((p.cpuSeconds - b.cpuSeconds) / dt) * 100 : undefined;
        return [String(p.slot), String(p.pid), p.alive ? p.type : `${p.type} (dead)`, cpu === undefined ? '-' : cpu.toFixed(1), bytes(p.rssBytes)];
      }),
    ),
  );
  const prevRing = new Map(before?.rings.map((r) => [r.name, r]) ?? []);
  out.push('', 'RINGS');
  out.push(
    table(
      ['NAME', 'USED/CAP', 'FILL', 'ENQ/s', 'DEQ/s'],
      now.rings.map((r) => {
        const b = prevRing.get(r.name);
        return [r.name, `${r.used}/${r.capacity}`, bar(r.used, r.capacity), fmtRate(rate(r.prodTail, b?.prodTail, dt, true)), fmtRate(rate(r.consTail, b?.consTail, dt, true))];
      }),
    ),
  );
  if (now.ports.length) {
    const prevPort = new Map(before?.ports.map((p) => [p.id, p]) ?? []);
    out.push('', 'PORTS');
    out.push(
      table(
        ['ID', 'NAME', 'RX pps', 'TX pps', 'DROPS/s', 'ERRORS'],
        now.ports.map((p) => {
          const b = prevPort.get(p.id);
          return [String(p.id), p.name, fmtRate(rate(p.ipackets, b?.ipackets, dt)), fmtRate(rate(p.opackets, b?.opackets, dt)), fmtRate(rate(p.drops, b?.drops, dt)), String(p.errors)];
        }),
      ),
    );
  }
  if (now.mempools.length) {
    out.push('', 'MEMPOOLS');
    out.push(table(['NAME', 'IN USE/SIZE', 'FILL', 'AVAIL'], now.mempools.map((m) => [m.name, `${m.inUse}/${m.size}`, bar(m.inUse, m.size), String(m.avail)])));
  }
  return out.join('\n');
}

/**
 * Run top on `dir` until `q`, Ctrl-C, `iterations` frames, or the group goes away. Writes to `out`.
 * Returns the exit code.
 */
export async function runTop(
  dir: string,
  o: { intervalMs?: number; iterations?: number; out?: NodeJS.WriteStream; input?: NodeJS.ReadStream } = {},
): Promise<number> {
  const out = o.out ?? process.stdout;
  const input = o.input ?? process.stdin;
  const intervalMs = o.intervalMs ?? 1000;
  const sampler = new TopSampler(dir);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  try {
    if (!out.isTTY) {
      const a = await sampler.sample();
      await sleep(intervalMs);
      out.write(`${renderTop(await sampler.sample(), a, 1, false)}\n`);
      return 0;
    }
    let quit = false;
    let wake: (() => void) | undefined;
    const onKey = (k: Buffer): void => {
      const s = k.toString();
      if (s === 'q' || s === 'Q' || s === '\x03') {
        quit = true;
        wake?.();
      }
    };
    if (input.isTTY) input.setRawMode(true);
    input.on('data', onKey);
    input.resume();
    out.write('\x1b[?1049h\x1b[?25l');
    try {
      let before: TopSample | undefined;
      for (let frame = 1; !quit && (o.iterations === undefined || frame <= o.iterations); frame++) {
        const now = await sampler.sample();
        out.write(`\x1b[H\x1b[2J${renderTop(now, before, frame, true)}\n`);
        before = now;
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, intervalMs);
        });
      }
    } finally {
      input.off('data', onKey);
      if (input.isTTY) input.setRawMode(false);
      input.pause();
      out.write('\x1b[?25h\x1b[?1049l');
    }
    return 0;
  } finally {
    sampler.close();
  }
}
