import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir, uniquePrefix, useAgents } from '@mp/test-utils';
import { hugepageInfo } from '@mp/memory';
import { CFG_VERSION } from '../src/layout.js';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const agent = useAgents(AGENT);

interface InitResult {
  procType: string;
  slot: number;
  adopted: boolean;
  consumed: number;
  appArgs: string[];
  primaryPid: number;
  runtimeDir: string;
  segDir: string;
  hugetlb: boolean;
}

const args = (prefix: string, ...more: string[]): string[] => [`--file-prefix=${prefix}`, ...more];

/** Hugepages available to a test: a hugetlbfs mount this test run made (see .ci/run), with free pages. */
const hugeMount = ((): string | undefined => {
  const info = hugepageInfo();
  const mount = info.mounts.find((m) => info.sizes.some((s) => s.pageSize === m.pageSize && s.free >= 8));
  return mount?.path;
})();

const HUGE_LABEL = hugeMount ? `hugetlbfs ${hugeMount}` : 'hugetlbfs (skipped: no hugetlbfs mount with ≥ 8 free hugepages; .ci/run makes one as root)';
describe.each([
  ['/dev/shm (--no-huge)', ['--no-huge'], true],
  [HUGE_LABEL, [`--huge-dir=${hugeMount ?? '/nonexistent'}`, '-m', '16'], hugeMount !== undefined],
] as Array<[string, string[], boolean]>)('primary + 2 secondaries on %s', (_label, memArgs, available) => {
  it.skipIf(!available)('share memzones both ways: reserve, lookup, write, read', async () => {
    const prefix = uniquePrefix('g');
    const p = agent();
    const s1 = agent();
    const s2 = agent();
    const pi = await p.call<InitResult>('init', { args: args(prefix, '--proc-type=primary', ...memArgs) });
    expect(pi.procType).toBe('primary');
    expect(pi.hugetlb).toBe(memArgs[0]!.startsWith('--huge-dir'));
    const secArgs = args(prefix, '--proc-type=secondary', ...(memArgs[0] === '--no-huge' ? ['--no-huge'] : []));
    expect((await s1.call<InitResult>('init', { args: secArgs })).procType).toBe('secondary');
    expect((await s2.call<InitResult>('init', { args: secArgs })).procType).toBe('secondary');

    await p.call('reserve', { name: 'shared', len: 1 << 20 });
    await s1.call('write', { name: 'shared', offset: 0, text: 'from s1' });
    await s2.call('write', { name: 'shared', offset: 100, text: 'from s2' });
    expect(await p.call('read', { name: 'shared', offset: 0, len: 7 })).toBe('from s1');
    expect(await p.call('read', { name: 'shared', offset: 100, len: 7 })).toBe('from s2');

    // A memzone reserved by a secondary is seen by the primary and the other secondary.
    const mz = await s1.call<{ reservedBy: number; len: number }>('reserve', { name: 'by-s1', len: 65536 });
    expect(mz.reservedBy).toBe(s1.pid);
    await s1.call('fillPattern', { name: 'by-s1', seed: 7 });
    const sum = await s1.call<number>('checksum', { name: 'by-s1' });
    expect(await p.call('checksum', { name: 'by-s1' })).toBe(sum);
    expect(await s2.call('checksum', { name: 'by-s1' })).toBe(sum);
    const names = (await s2.call<Array<{ name: string }>>('list')).map((z) => z.name).sort();
    expect(names).toEqual(['by-s1', 'shared']);
    const dump = await p.call<string>('dump');
    expect(dump).toContain('by-s1');
    expect(dump).toContain('shared');

    const procs = await p.call<Array<{ pid: number; type: string; alive: boolean }>>('processes');
    expect(procs.map((x) => x.pid).sort()).toEqual([p.pid, s1.pid, s2.pid].sort());
    expect(procs.every((x) => x.alive)).toBe(true);
  });
});

describe('atomics and futex across processes', () => {
  it('two processes each Atomics.add a shared counter 10^6 times → exactly 2·10^6', async () => {
    const prefix = uniquePrefix('a');
    const p = agent();
    const s = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    await s.call('init', { args: args(prefix, '--proc-type=secondary') });
    await p.call('reserve', { name: 'counter', len: 64 });
    const [a, b] = await Promise.all([
      p.call<number>('atomicAdd', { name: 'counter', times: 1_000_000 }),
      s.call<number>('atomicAdd', { name: 'counter', times: 1_000_000 }),
    ]);
    expect(Math.max(a, b)).toBe(2_000_000);
    expect(await p.call('load', { name: 'counter' })).toBe(2_000_000);
  });

  it('a futex wait in one process is woken by the other', async () => {
    const prefix = uniquePrefix('f');
    const p = agent();
    const s = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    await s.call('init', { args: args(prefix, '--proc-type=secondary') });
    await p.call('reserve', { name: 'word', len: 64 });
    const waiting = s.call<{ result: string; wokeAt: number }>('futexWaitAsync', { name: 'word', expected: 0, timeoutMs: 20_000 });
    // Wake only once the waiter sleeps (on the thread pool: late on a loaded machine): retry the wake until
    // it reports a woken waiter, for as long as the waiter's own timeout allows. The word stays 0 until
    // then: storing 1 with the first try made a waiter that had not reached the kernel yet return
    // 'not-equal' at once, and every later wake find nobody.
    let woke: { woken: number; at: number } = { woken: 0, at: 0 };
    for (const end = Date.now() + 15_000; Date.now() < end && woke.woken === 0; ) {
      await new Promise((r) => setTimeout(r, 10));
      woke = await p.call('futexWake', { name: 'word' });
    }
    expect(woke.woken).toBe(1);
    const r = await waiting;
    expect(r.result).toBe('ok');
    await p.call('futexWake', { name: 'word', value: 1 });
    // Not-equal and timeout outcomes are real too.
    expect(await s.call('futexWait', { name: 'word', expected: 0, timeoutMs: 1000 })).toBe('not-equal');
    expect(await s.call('futexWait', { name: 'word', expected: 1, timeoutMs: 50 })).toBe('timed-out');
  });
});

describe('refusals', () => {
  it('a secondary with no group is refused (ENOENT)', async () => {
    const s = agent();
    const r = await s.request('init', { args: args(uniquePrefix('n'), '--proc-type=secondary') });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('ENOENT');
    expect(r.message).toMatch(/start a primary/);
  });

  it('a second primary on a live prefix is refused (EBUSY) and changes nothing', async () => {
    const prefix = uniquePrefix('b');
    const p = agent();
    const p2 = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    await p.call('reserve', { name: 'keep', len: 4096 });
    await p.call('write', { name: 'keep', text: 'intact' });
    const r = await p2.request('init', { args: args(prefix, '--proc-type=primary', '--no-huge') });
    expect(r.code).toBe('EBUSY');
    expect(r.message).toContain(String(p.pid));
    expect(await p.call('read', { name: 'keep', len: 6 })).toBe('intact');
  });

  it('a layout-version mismatch is refused (EPROTO) naming both versions', async () => {
    const prefix = uniquePrefix('v');
    const p = agent();
    const init = await p.call<InitResult>('init', { args: args(prefix, '--no-huge') });
    // Rewrite the version field as a future @mp would have written it.
    const cfg = join(init.runtimeDir, 'config');
    execFileSync('python3', ['-c', `import struct;f=open(${JSON.stringify(cfg)},'r+b');f.seek(4);f.write(struct.pack('<H',99));f.close()`]);
    const s = agent();
    const r = await s.request('init', { args: args(prefix, '--proc-type=secondary') });
    expect(r.code).toBe('EPROTO');
    expect(r.message).toMatch(new RegExp(`version 99.*version ${CFG_VERSION}\\b`));
  });

  it('memory options that differ from the primary are refused (EINVAL)', async () => {
    const prefix = uniquePrefix('o');
    const p = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    for (const extra of ['--single-file-segments', '--legacy-mem']) {
      const s = agent();
      const r = await s.request('init', { args: args(prefix, '--proc-type=secondary', extra) });
      expect(r.code, extra).toBe('EINVAL');
      expect(r.message).toContain(extra);
    }
    const p2 = agent();
    const prefix2 = uniquePrefix('o');
    await p2.call('init', { args: args(prefix2, '--no-huge', '--single-file-segments', '-m', '8') });
    const s2 = agent();
    expect((await s2.request('init', { args: args(prefix2, '--proc-type=secondary') })).code).toBe('EINVAL');
    const s3 = agent();
    expect((await s3.call<InitResult>('init', { args: args(prefix2, '--proc-type=secondary', '--single-file-segments') })).procType).toBe('secondary');
  });

  it('overlapping lcores in one group are refused (EBUSY); disjoint ones are fine', async () => {
    const prefix = uniquePrefix('l');
    const p = agent();
    await p.call('init', { args: args(prefix, '--no-huge', '-l', '0-1') });
    const s = agent();
    const r = await s.request('init', { args: args(prefix, '--proc-type=secondary', '--lcores', '(1-2)@0') });
    expect(r.code).toBe('EBUSY');
    expect(r.message).toMatch(/lcore 1 .*pid \d+/);
    const s2 = agent();
    expect((await s2.call<InitResult>('init', { args: args(prefix, '--proc-type=secondary', '-l', '2,3') })).slot).toBeGreaterThan(0);
  });

  it('a secondary started after its primary died is refused (ESTALE), unlike DPDK', async () => {
    const prefix = uniquePrefix('s');
    const p = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    await p.call('reserve', { name: 'x', len: 4096 });
    await p.kill('SIGKILL');
    const s = agent();
    const r = await s.request('init', { args: args(prefix, '--proc-type=secondary') });
    expect(r.code).toBe('ESTALE');
    expect(r.message).toContain(String(p.pid));
  });
});

describe('process types', () => {
  it('auto becomes primary on an empty prefix and secondary beside a live primary', async () => {
    const prefix = uniquePrefix('u');
    const a = agent();
    const b = agent();
    expect((await a.call<InitResult>('init', { args: args(prefix, '--proc-type=auto', '--no-huge') })).procType).toBe('primary');
    expect((await b.call<InitResult>('init', { args: args(prefix, '--proc-type=auto', '--no-huge') })).procType).toBe('secondary');
  });

  it('two prefixes side by side are independent groups', async () => {
    const [pa, pb] = [uniquePrefix('x'), uniquePrefix('y')];
    const a = agent();
    const b = agent();
    await a.call('init', { args: args(pa, '--no-huge') });
    await b.call('init', { args: args(pb, '--no-huge') });
    await a.call('reserve', { name: 'same-name', len: 4096 });
    await b.call('reserve', { name: 'same-name', len: 4096 });
    await a.call('write', { name: 'same-name', text: 'group a' });
    await b.call('write', { name: 'same-name', text: 'group b' });
    expect(await a.call('read', { name: 'same-name', len: 7 })).toBe('group a');
    expect(await b.call('read', { name: 'same-name', len: 7 })).toBe('group b');
  });

  it('init returns the consumed count and passes application args after --', async () => {
    const a = agent();
    const r = await a.call<InitResult>('init', { args: ['--file-prefix', uniquePrefix('c'), '--no-huge', '--', '--app', 'x'] });
    expect(r.consumed).toBe(4);
    expect(r.appArgs).toEqual(['--app', 'x']);
  });

  it('-m and --socket-mem cap the group; a secondary reserving past the cap gets ENOMEM', async () => {
    for (const mem of [['-m', '8'], ['--socket-mem=4,4']]) {
      const prefix = uniquePrefix('q');
      const p = agent();
      const s = agent();
      await p.call('init', { args: args(prefix, '--no-huge', ...mem) });
      await s.call('init', { args: args(prefix, '--proc-type=secondary') });
      await p.call('reserve', { name: 'six', len: 6 << 20 });
      const r = await s.request('reserve', { name: 'four', len: 4 << 20 });
      expect(r.code, mem.join(' ')).toBe('ENOMEM');
      expect(r.message).toMatch(/cap 8388608 bytes/);
      await s.call('reserve', { name: 'one', len: 1 << 20 });
    }
  });

  it('secondaries joining while others leave never collide on a process slot', async () => {
    const prefix = uniquePrefix('j');
    const p = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    const a = [agent(), agent(), agent(), agent()];
    for (let round = 0; round < 15; round++) {
      // Two leave while two others join, at once; the slots the leavers free are the ones the joiners want.
      const [x, y, z, w] = round % 2 ? a : [a[2]!, a[3]!, a[0]!, a[1]!];
      if (round === 0) await Promise.all([z!, w!].map((q) => q.call('init', { args: args(prefix, '--proc-type=secondary') })));
      const results = await Promise.all([
        x!.request('init', { args: args(prefix, '--proc-type=secondary') }),
        y!.request('init', { args: args(prefix, '--proc-type=secondary') }),
        z!.request('cleanup'),
        w!.request('cleanup'),
      ]);
      expect(results.map((r) => r.code ?? 'ok'), `round ${round}`).toEqual(['ok', 'ok', 'ok', 'ok']);
    }
    const procs = await p.call<Array<{ pid: number }>>('processes');
    expect(procs).toHaveLength(3);
  });

  it('a reserve race between two processes on one name has exactly one winner', async () => {
    const prefix = uniquePrefix('r');
    const p = agent();
    const s = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    await s.call('init', { args: args(prefix, '--proc-type=secondary') });
    for (let round = 0; round < 20; round++) {
      const name = `race${round}`;
      const rs = await Promise.all([p.request('reserve', { name, len: 4096 }), s.request('reserve', { name, len: 4096 })]);
      expect(rs.filter((r) => r.ok)).toHaveLength(1);
      expect(rs.filter((r) => !r.ok).map((r) => r.code)).toEqual(['EEXIST']);
    }
    expect(await p.call<unknown[]>('list')).toHaveLength(20);
  });
});

describe('permissions', () => {
  it('runtime dir is 0700 and its files 0600; segment files 0600', async () => {
    const prefix = uniquePrefix('m');
    const p = agent();
    const r = await p.call<InitResult>('init', { args: args(prefix, '--no-huge') });
    await p.call('reserve', { name: 'z', len: 4096 });
    expect(statSync(r.runtimeDir).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(r.runtimeDir)) expect(statSync(join(r.runtimeDir, f)).mode & 0o777).toBe(0o600);
    const segs = readdirSync('/dev/shm').filter((f) => f.startsWith(`${prefix}map_`));
    expect(segs.length).toBeGreaterThan(0);
    for (const f of segs) expect(statSync(join('/dev/shm', f)).mode & 0o777).toBe(0o600);
  });

  it('a runtime dir owned by another uid is refused (EPERM)', async () => {
    const base = tempDir('perm');
    const dir = join(base, 'grp');
    mkdirSync(dir, { mode: 0o700 });
    execFileSync('chown', ['65534:65534', dir]);
    const p = agent();
    const r = await p.request('init', { args: ['--file-prefix=perm', `--runtime-dir=${dir}`, '--no-huge'] });
    expect(r.code).toBe('EPERM');
    writeFileSync(join(base, 'ok'), '');
  });
});

describe('faults: SIGKILL', () => {
  it('primary killed → every secondary told (primary-exit); a new primary adopts the group; memzones intact', async () => {
    const prefix = uniquePrefix('k');
    const p = agent();
    const s1 = agent();
    const s2 = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    await s1.call('init', { args: args(prefix, '--proc-type=secondary') });
    await s2.call('init', { args: args(prefix, '--proc-type=secondary') });
    await s1.call('reserve', { name: 's1-zone', len: 1 << 16 });
    await s1.call('fillPattern', { name: 's1-zone', seed: 42 });
    const sum = await s1.call<number>('checksum', { name: 's1-zone' });
    await p.call('reserve', { name: 'p-zone', len: 4096 });
    await p.call('write', { name: 'p-zone', text: 'primary data' });

    await p.kill('SIGKILL');
    // The event is the behaviour (how soon it comes is a bench's business).
    await s1.waitEvent((e) => e.event === 'primary-exit');
    await s2.waitEvent((e) => e.event === 'primary-exit');
    expect(await s1.call('isPrimaryAlive')).toBe(false);

    const p2 = agent();
    const r = await p2.call<InitResult>('init', { args: args(prefix, '--no-huge') });
    expect(r.procType).toBe('primary');
    expect(r.adopted).toBe(true);
    await s1.waitEvent((e) => e.event === 'primary-restarted' && e.data === p2.pid, 5000);
    await s2.waitEvent((e) => e.event === 'primary-restarted' && e.data === p2.pid, 5000);
    expect(await s2.call('isPrimaryAlive')).toBe(true);
    expect(await s2.call('primaryPid')).toBe(p2.pid);
    // Every memzone intact, and the group keeps working.
    expect(await p2.call('checksum', { name: 's1-zone' })).toBe(sum);
    expect(await s2.call('read', { name: 'p-zone', len: 12 })).toBe('primary data');
    await s2.call('reserve', { name: 'after', len: 4096 });
    expect(await p2.call('lookup', { name: 'after' })).not.toBeNull();
    const procs = await p2.call<Array<{ pid: number }>>('processes');
    expect(procs.map((x) => x.pid).sort()).toEqual([p2.pid, s1.pid, s2.pid].sort());
  });

  it('a new primary repairs a table update the dead primary left half-done', async () => {
    const prefix = uniquePrefix('h');
    const p = agent({ MP_TEST_CRASH: 'memzone-reserve' });
    const s = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    await s.call('init', { args: args(prefix, '--proc-type=secondary') });
    await s.call('reserve', { name: 'before', len: 4096 });
    await s.call('write', { name: 'before', text: 'kept' });
    // The primary dies inside reserve, holding the table lock, with an entry half-written.
    const r = p.request('reserve', { name: 'half', len: 4096 });
    await expect(r).rejects.toThrow(/exited/);
    const p2 = agent();
    expect((await p2.call<InitResult>('init', { args: args(prefix, '--no-huge') })).adopted).toBe(true);
    expect(await s.call('lookup', { name: 'half' })).toBeNull();
    expect(await p2.call('read', { name: 'before', len: 4 })).toBe('kept');
    // The repair ran at the first table-lock take after the death, in whichever process took it.
    const logs = [...p2.stderr, ...s.stderr].join('\n');
    expect(logs).toMatch(new RegExp(`repaired the memzone table after pid ${p.pid} died holding its lock \\(1 entries fixed\\)`));
    await s.call('reserve', { name: 'half', len: 4096 });
    expect((await p2.call<Array<{ name: string }>>('list')).map((z) => z.name).sort()).toEqual(['before', 'half']);
  });

  it('a secondary killed while holding the table lock: the others take it over (no ETIMEDOUT) and proceed', async () => {
    const prefix = uniquePrefix('t');
    const p = agent();
    const s = agent({ MP_TEST_CRASH: 'memzone-reserve' });
    await p.call('init', { args: args(prefix, '--no-huge') });
    await s.call('init', { args: args(prefix, '--proc-type=secondary') });
    await expect(s.request('reserve', { name: 'dies', len: 4096 })).rejects.toThrow(/exited/);
    await p.call('reserve', { name: 'next', len: 4096 });
    expect(await p.call('lookup', { name: 'dies' })).toBeNull();
    expect(p.stderr.join('\n')).toContain(`after pid ${s.pid} died holding its lock`);
  });

  it('primary and every secondary killed → a new primary starts clean; no stale file remains', async () => {
    const prefix = uniquePrefix('c');
    const p = agent();
    const s = agent();
    const init = await p.call<InitResult>('init', { args: args(prefix, '--no-huge') });
    await s.call('init', { args: args(prefix, '--proc-type=secondary') });
    await p.call('reserve', { name: 'old', len: 1 << 20 });
    await Promise.all([p.kill(), s.kill()]);
    expect(existsSync(join(init.runtimeDir, 'config'))).toBe(true); // left behind by the dead, as DPDK does
    const p2 = agent();
    const r = await p2.call<InitResult>('init', { args: args(prefix, '--no-huge') });
    expect(r.adopted).toBe(false);
    expect(await p2.call('lookup', { name: 'old' })).toBeNull();
    expect(await p2.call<unknown[]>('processes')).toHaveLength(1);
    await p2.call('cleanup');
    expect(existsSync(init.runtimeDir)).toBe(false);
    expect(readdirSync('/dev/shm').filter((f) => f.startsWith(prefix))).toEqual([]);
  });

  it('a secondary killed → its slot is reclaimed and proc-exit reported', async () => {
    const prefix = uniquePrefix('d');
    const p = agent();
    const s = agent();
    await p.call('init', { args: args(prefix, '--no-huge') });
    const si = await s.call<InitResult>('init', { args: args(prefix, '--proc-type=secondary', '-l', '3') });
    await p.waitEvent((e) => e.event === 'proc-join' && (e.data as { pid: number }).pid === s.pid);
    await s.kill();
    const ev = await p.waitEvent((e) => e.event === 'proc-exit' && (e.data as { pid: number }).pid === s.pid, 5000);
    expect((ev.data as { slot: number }).slot).toBe(si.slot);
    expect((await p.call<Array<{ pid: number }>>('processes')).map((x) => x.pid)).toEqual([p.pid]);
    // The slot and its lcore are free again.
    const s2 = agent();
    expect((await s2.call<InitResult>('init', { args: args(prefix, '--proc-type=secondary', '-l', '3') })).slot).toBe(si.slot);
  });

  it('a clean exit of the last process removes the runtime dir and segment files', async () => {
    const prefix = uniquePrefix('e');
    const p = agent();
    const s = agent();
    const init = await p.call<InitResult>('init', { args: args(prefix, '--no-huge') });
    await s.call('init', { args: args(prefix, '--proc-type=secondary') });
    await p.call('reserve', { name: 'z', len: 4096 });
    await s.close();
    await p.close();
    expect(existsSync(init.runtimeDir)).toBe(false);
    expect(readdirSync('/dev/shm').filter((f) => f.startsWith(prefix))).toEqual([]);
  });
});
