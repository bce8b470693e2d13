// `mp` against real groups: a live group of 3 processes (primary + 2 secondaries) with rings and a hash,
// a SIGKILLed group beside it, DPDK's own telemetry client, Prometheus' checker, top in a pty.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelemetryClient, collectMetrics } from '@mp/cli';
import { Agent, removeCreatedGroups, uniquePrefix, useAgents } from '@mp/test-utils';
import { BIN, MEMBER, makeBase, mp, run } from './helpers.js';

const spawnAgent = useAgents(MEMBER);
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const hasDpdkTelemetry = has('dpdk-telemetry.py');
const hasPromtool = has('promtool');
const hasScript = has('script');

let b: ReturnType<typeof makeBase>;
beforeAll(() => {
  b = makeBase();
});
afterAll(() => {
  removeCreatedGroups();
  b.remove();
});

async function startGroup(n: number, spawnOne: () => Agent = spawnAgent, prefix = uniquePrefix('cli')): Promise<{ prefix: string; dir: string; agents: Agent[] }> {
  const dir = join(b.base, prefix);
  const agents: Agent[] = [];
  for (let i = 0; i < n; i++) {
    const a = spawnOne();
    const r = await a.call<{ procType: string; slot: number }>('init', {
      args: [`--file-prefix=${prefix}`, `--runtime-dir=${dir}`, '--no-huge', `--proc-type=${i === 0 ? 'primary' : 'secondary'}`, '-l', String(i), '--', `app${i}`],
    });
    expect(r.procType).toBe(i === 0 ? 'primary' : 'secondary');
    agents.push(a);
  }
  return { prefix, dir, agents };
}

describe('mp against a live group of 3 processes', () => {
  let g: Awaited<ReturnType<typeof startGroup>>;
  beforeAll(async () => {
    // Agents of this group live across the describe's tests (useAgents' spawner kills after each test).
    g = await startGroup(3, () => new Agent(MEMBER));
    await g.agents[0]!.call('ringCreate', { name: 'rx0', count: 1024 });
    await g.agents[1]!.call('ringCreate', { name: 'tx0', count: 256 });
    expect(await g.agents[1]!.call('fill', { name: 'rx0', n: 300 })).toBe(300);
    expect(await g.agents[2]!.call('hashCreate', { name: 'flows', entries: 1024, keys: 10 })).toBe(10);
    await g.agents[0]!.call('ipc', { action: 'ping' });
    await g.agents[1]!.call('ipc', { send: 'ping' });
  });
  afterAll(async () => {
    for (const a of g.agents) await a.close();
  });

  it('every process serves a 0600 telemetry socket: the primary dpdk_telemetry.v2, secondaries :<slot>', () => {
    const names = readdirSync(g.dir).filter((n) => n.startsWith('dpdk_telemetry')).sort();
    expect(names).toEqual(['dpdk_telemetry.v2', 'dpdk_telemetry.v2:1', 'dpdk_telemetry.v2:2']);
    for (const n of names) {
      const st = statSync(join(g.dir, n));
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
    }
  });

  it('mp ls --json lists the group live with 3 processes and its memory', async () => {
    const r = await mp(['ls', '--json', '--base', b.base]);
    expect(r.code, r.stderr).toBe(0);
    const row = (JSON.parse(r.stdout) as { groups: Array<Record<string, unknown>> }).groups.find((x) => x.prefix === g.prefix)!;
    expect(row).toMatchObject({ stale: false, state: 'ready', primaryAlive: true, processes: 3, primaryPid: g.agents[0]!.pid, telemetrySockets: 3 });
    expect(row.reservedBytes as number).toBeGreaterThan(0);
  });

  it('mp info --json shows processes, memzones, rings with fill and the hash', async () => {
    const r = await mp(['info', g.prefix, '--json', '--base', b.base]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.processes.map((p: { pid: number }) => p.pid).sort()).toEqual(g.agents.map((a) => a.pid).sort());
    expect(info.processes.every((p: { alive: boolean }) => p.alive)).toBe(true);
    expect(info.procStats).toHaveLength(3);
    expect(info.memory.memzones.map((z: { name: string }) => z.name).sort()).toEqual(expect.arrayContaining(['RG_rx0', 'RG_tx0']));
    const rx = info.rings.find((x: { name: string }) => x.name === 'rx0');
    expect(rx).toMatchObject({ used_count: 300, capacity: 1023, prod_tail: 300, cons_tail: 0 });
    expect(info.rings.find((x: { name: string }) => x.name === 'tx0')).toMatchObject({ used_count: 0 });
    expect(info.hashes).toEqual([expect.objectContaining({ name: 'flows', count: 10, key_len: 4 })]);
    const ipcOf = (pid: number): unknown => info.procStats.find((p: { pid: number }) => p.pid === pid).ipc;
    expect(ipcOf(g.agents[0]!.pid)).toMatchObject({ actions: expect.arrayContaining(['ping']), pending_requests: 0 });
    expect(ipcOf(g.agents[2]!.pid)).toBeNull(); // never started its channel: DPDK's null reply
    expect(info.mempools).toEqual([]);
    expect(info.ports).toEqual([]);
    const text = await mp(['info', g.prefix, '--base', b.base]);
    expect(text.stdout).toMatch(/rx0\s+300\s+1023\s+\[#{5,6}\.+\]/);
  });

  it('mp telemetry sends commands to the primary and to a secondary (-i)', async () => {
    const r = await mp(['telemetry', g.prefix, '/eal/app_params', '/eal/lcore/list', '/ring/list', '--base', b.base]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ '/eal/app_params': ['app0'] }, { '/eal/lcore/list': [0] }, { '/ring/list': ['rx0', 'tx0'] }]);
    const s = await mp(['telemetry', g.prefix, '-i', '2', '/eal/app_params', '/mp/group', '--base', b.base]);
    const [app, grp] = s.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(app).toEqual({ '/eal/app_params': ['app2'] });
    expect(grp['/mp/group']).toMatchObject({ proc_type: 'secondary', pid: g.agents[2]!.pid, slot: 2, telemetry_instance: 2 });
  });

  it('malformed and unknown commands get DPDK error replies and the connection keeps serving', async () => {
    await g.agents[1]!.call('register', { command: '/test/echo', help: 'echo' });
    const c = await TelemetryClient.connect(join(g.dir, 'dpdk_telemetry.v2:1'));
    try {
      expect(c.greeting).toMatchObject({ pid: g.agents[1]!.pid, max_output_len: 16384 });
      expect(await c.requestRaw('/nope')).toEqual({ '/nope': null });
      expect(await c.requestRaw('not-a-command')).toEqual({ 'not-a-command': null });
      expect(await c.requestRaw('/ring/info,no_such_ring')).toEqual({ '/ring/info': null });
      expect(await c.requestRaw('/ring/info')).toEqual({ '/ring/info': null });
      expect(await c.requestRaw('/test/echo,fail')).toEqual({ '/test/echo': null });
      expect(await c.requestRaw('/test/echo,a,b')).toEqual({ '/test/echo': { params: 'a,b' } });
      expect(await c.requestRaw(`/${'x'.repeat(200)}`)).toEqual({ [`/${'x'.repeat(55)}`]: null });
      expect(await c.requestRaw('"{\\')).toEqual({ '"{\\': null });
      expect(await c.requestRaw('/help,/ring/list')).toEqual({ '/help': { '/ring/list': 'Returns list of available rings. Takes no parameters' } });
      expect(await c.requestRaw('/help,/nope')).toEqual({ '/help': null });
      // Output over max_output_len is cut element by element and stays valid JSON within the limit.
      const big = (await c.requestRaw('/test/echo,big')) as Record<string, string[]>;
      const n = big['/test/echo']!.length;
      expect(n).toBeGreaterThan(100);
      expect(n).toBeLessThan(5000);
      expect(big['/test/echo']![n - 1]).toBe(`element-${n - 1}`);
      expect(Buffer.byteLength(JSON.stringify(big))).toBeLessThanOrEqual(16384);
      expect(await c.request('/info')).toMatchObject({ pid: g.agents[1]!.pid, max_output_len: 16384 });
    } finally {
      c.close();
    }
  });

  it.skipIf(!hasDpdkTelemetry)('DPDK\'s dpdk-telemetry.py, unchanged, talks to the primary and a secondary (skipped: dpdk-telemetry.py not installed)', async () => {
    const r = await run('dpdk-telemetry.py', ['-f', g.dir], { input: '/\n/eal/app_params\n/ring/info,rx0\n/info\n' });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]['/']).toEqual(expect.arrayContaining(['/', '/help', '/info', '/eal/params', '/ring/list', '/ring/info', '/mp/processes']));
    expect(lines[1]).toEqual({ '/eal/app_params': ['app0'] });
    expect(lines[2]['/ring/info']).toMatchObject({ name: 'rx0', used_count: 300 });
    expect(lines[3]['/info']).toMatchObject({ pid: g.agents[0]!.pid, max_output_len: 16384 });
    const s = await run('dpdk-telemetry.py', ['-f', g.dir, '-i', '1'], { input: '/eal/app_params\n' });
    expect(JSON.parse(s.stdout.trim())).toEqual({ '/eal/app_params': ['app1'] });
  });

  it.skipIf(!hasPromtool)('mp exporter serves /metrics that promtool accepts, with rings and processes (skipped: promtool not installed)', async () => {
    const child = spawn(process.execPath, [BIN, 'exporter', g.prefix, '--port', '0', '--base', b.base]);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /serving (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`exporter exited ${code}`)));
      });
      const text = await (await fetch(url)).text();
      expect(text).toContain(`mp_group_up{prefix="${g.prefix}"} 1`);
      expect(text).toContain(`mp_group_processes{prefix="${g.prefix}"} 3`);
      expect(text).toContain(`mp_ring_used{prefix="${g.prefix}",ring="rx0"} 300`);
      expect(text).toContain(`mp_ring_capacity{prefix="${g.prefix}",ring="rx0"} 1023`);
      expect(text).toMatch(new RegExp(`mp_process_cpu_seconds_total\\{prefix="${g.prefix}",pid="${g.agents[0]!.pid}"`));
      expect(text).toMatch(new RegExp(`mp_ipc_messages_total\\{prefix="${g.prefix}",pid="${g.agents[0]!.pid}",kind="received_inbox"\\} [1-9]`));
      const check = await run('promtool', ['check', 'metrics'], { input: text });
      expect(check.code, check.stdout + check.stderr).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it.skipIf(!hasScript)('mp top in a pseudo-terminal redraws 3 times and quits on q (skipped: no script(1))', async () => {
    const cmd = `${process.execPath} ${BIN} top ${g.prefix} --base ${b.base} --interval 200`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, TERM: 'xterm' } });
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no 3rd frame; output:\n${out}`)), 30_000);
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('frame 3')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    child.stdin.write('q');
    expect(await exited).toBe(0);
    const frames = out.split('\x1b[H\x1b[2J').slice(1);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const f of frames.slice(0, 3)) {
      expect(f).toContain(`group '${g.prefix}'`);
      expect(f).toMatch(/rx0\s+300\/1023\s+\[/);
      expect(f).toContain(String(g.agents[2]!.pid));
    }
    expect(out).toContain('\x1b[?1049l'); // left the alternate screen
  });

  it('mp top without a terminal prints one frame', async () => {
    const r = await mp(['top', g.prefix, '--base', b.base, '--interval', '100']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('frame 1');
    expect(r.stdout).not.toContain('\x1b[');
    expect(r.stdout).toMatch(/RINGS\n.*\nrx0\s+300\/1023/);
  });

  it('mp cleanup of a live group removes nothing and says so', async () => {
    const r = await mp(['cleanup', g.prefix, '--base', b.base]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('live');
    expect(readdirSync(g.dir)).toContain('config');
    expect(await mp(['cleanup', '--base', b.base])).toMatchObject({ code: 0 });
    expect(readdirSync(g.dir)).toContain('config');
  });
});

describe('a SIGKILLed group beside a live one', () => {
  it('ls marks only the dead group stale; cleanup --dry-run removes nothing; cleanup removes the dead group and nothing else', async () => {
    const live = await startGroup(2);
    const dead = await startGroup(3);
    await dead.agents[0]!.call('ringCreate', { name: 'r', count: 64 });
    for (const a of dead.agents) await a.kill('SIGKILL');
    const ls = JSON.parse((await mp(['ls', '--json', '--base', b.base])).stdout) as { groups: Array<{ prefix: string; stale: boolean; processes: number }> };
    expect(ls.groups.find((x) => x.prefix === dead.prefix)).toMatchObject({ stale: true, processes: 0 });
    expect(ls.groups.find((x) => x.prefix === live.prefix)).toMatchObject({ stale: false, processes: 2 });
    expect((await mp(['ls', '--base', b.base])).stdout).toMatch(new RegExp(`${dead.prefix}\\s+STALE`));

    // Reading never writes: the dead group's config is byte for byte and time for time the same after
    // ls, info and top, and nothing was added to its runtime dir.
    const cfgPath = join(dead.dir, 'config');
    const before = { bytes: readFileSync(cfgPath), st: statSync(cfgPath), names: readdirSync(dead.dir).sort() };
    expect((await mp(['info', dead.prefix, '--json', '--base', b.base])).code).toBe(0);
    expect((await mp(['top', dead.prefix, '--base', b.base, '--interval', '50'])).stdout).toContain('STALE');
    expect(readFileSync(cfgPath).equals(before.bytes)).toBe(true);
    expect(statSync(cfgPath).mtimeMs).toBe(before.st.mtimeMs);
    expect(readdirSync(dead.dir).sort()).toEqual(before.names);

    const segs = readdirSync('/dev/shm').filter((f) => f.startsWith(`${dead.prefix}map_`));
    expect(segs.length).toBeGreaterThan(0);
    const dry = JSON.parse((await mp(['cleanup', '--dry-run', '--json', '--base', b.base])).stdout);
    const planned = dry.groups.find((x: { prefix: string }) => x.prefix === dead.prefix);
    expect(planned.removed).toEqual(expect.arrayContaining([join(dead.dir, 'config'), join(dead.dir, 'dpdk_telemetry.v2'), ...segs.map((s) => join('/dev/shm', s))]));
    expect(existsSync(join(dead.dir, 'config'))).toBe(true);

    const liveShm = readdirSync('/dev/shm').filter((f) => f.startsWith(`${live.prefix}map_`));
    const r = await mp(['cleanup', '--base', b.base]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${dead.prefix}: removed`);
    expect(r.stdout).not.toContain(live.prefix);
    expect(existsSync(dead.dir)).toBe(false);
    expect(readdirSync('/dev/shm').filter((f) => f.startsWith(`${dead.prefix}map_`))).toEqual([]);
    expect(readdirSync(live.dir).sort()).toEqual(['config', 'dpdk_telemetry.v2', 'dpdk_telemetry.v2:1']);
    expect(readdirSync('/dev/shm').filter((f) => f.startsWith(`${live.prefix}map_`))).toEqual(liveShm);
    // The live group still works: a new secondary joins it and the cli still reads it.
    const c = spawnAgent();
    await c.call('init', { args: [`--file-prefix=${live.prefix}`, `--runtime-dir=${live.dir}`, '--no-huge', '--proc-type=secondary'] });
    const info = JSON.parse((await mp(['info', live.prefix, '--json', '--base', b.base])).stdout);
    expect(info.processes.filter((p: { alive: boolean }) => p.alive)).toHaveLength(3);
  });

  it('--no-telemetry: no socket, and mp info still reads the config', async () => {
    const prefix = uniquePrefix('cli');
    const dir = join(b.base, prefix);
    const a = spawnAgent();
    await a.call('init', { args: [`--file-prefix=${prefix}`, `--runtime-dir=${dir}`, '--no-huge', '--no-telemetry'] });
    expect(readdirSync(dir)).toEqual(['config']);
    const info = JSON.parse((await mp(['info', prefix, '--json', '--base', b.base])).stdout);
    expect(info.processes).toEqual([expect.objectContaining({ pid: a.pid, alive: true })]);
    expect(info.source).toBeUndefined();
  });

  it('a process leaving removes its own socket; the group keeps the others', async () => {
    const g = await startGroup(3);
    await g.agents[1]!.call('leave');
    expect(readdirSync(g.dir).filter((n) => n.startsWith('dpdk')).sort()).toEqual(['dpdk_telemetry.v2', 'dpdk_telemetry.v2:2']);
  });

  it('ports and mempools registered by their packages show in info, top and the exporter', async () => {
    const g = await startGroup(2);
    await g.agents[1]!.call('dpdkShapes');
    // Shared views come from the primary's socket: register there too (each process registers its own).
    await g.agents[0]!.call('dpdkShapes');
    const info = JSON.parse((await mp(['info', g.prefix, '--json', '--base', b.base])).stdout);
    expect(info.mempools).toEqual([expect.objectContaining({ name: 'mbuf_pool', avail_count: 7000, in_use_count: 1191 })]);
    expect(info.ports).toEqual([expect.objectContaining({ id: 0, info: expect.objectContaining({ name: 'net_ring0' }), link: expect.objectContaining({ status: 'UP' }), stats: expect.objectContaining({ ipackets: 1000 }) })]);
    const text = (await mp(['info', g.prefix, '--base', b.base])).stdout;
    expect(text).toMatch(/mbuf_pool\s+8191\s+7000\s+1191/);
    expect(text).toMatch(/0\s+net_ring0\s+UP\s+2000/); // the second stats call: 2000 packets
    // top: one call of the stats per sample; 1000 packets and 10 drops more each time.
    const top = (await mp(['top', g.prefix, '--base', b.base, '--interval', '100'])).stdout;
    expect(top).toMatch(/PORTS\n.*\n0\s+net_ring0\s+\S+\s+\S+\s+\S+\s+0/);
    expect(top).toMatch(/MEMPOOLS\n.*\nmbuf_pool\s+1191\/8191/);
    const reg = await collectMetrics([g.dir]);
    const metrics = await reg.metrics();
    expect(metrics).toMatch(new RegExp(`mp_port_packets_total\\{prefix="${g.prefix}",port="0",direction="rx"\\} \\d+`));
    expect(metrics).toContain(`mp_port_queue_packets_total{prefix="${g.prefix}",port="0",queue="1",direction="rx"}`);
    expect(metrics).toContain(`mp_mempool_available{prefix="${g.prefix}",mempool="mbuf_pool"} 7000`);
    expect(metrics).toContain(`mp_mempool_in_use{prefix="${g.prefix}",mempool="mbuf_pool"} 1191`);
    if (hasPromtool) {
      const check = await run('promtool', ['check', 'metrics'], { input: metrics });
      expect(check.code, check.stdout + check.stderr).toBe(0);
    }
  });

  it('a group of another config layout version is listed but never removed (its locks may sit elsewhere)', async () => {
    const dir = join(b.base, uniquePrefix('clio'));
    mkdirSync(dir, { mode: 0o700 });
    const cfg = Buffer.alloc(8192);
    cfg.writeUInt32LE(0x4643504d, 0); // 'MPCF'
    cfg.writeUInt16LE(99, 4);
    writeFileSync(join(dir, 'config'), cfg, { mode: 0o600 });
    const ls = JSON.parse((await mp(['ls', '--json', '--runtime-dir', dir])).stdout);
    expect(ls.groups).toEqual([expect.objectContaining({ state: 'other-version', runtimeDir: dir })]);
    const all = await mp(['cleanup', '--runtime-dir', dir]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('version 99');
    const named = await mp(['cleanup', dir, '--runtime-dir', dir]);
    expect(named.code).toBe(1);
    expect(named.stdout).toMatch(/not removed: EPROTO: .*version 99/);
    expect(readdirSync(dir)).toEqual(['config']);
  });
});
