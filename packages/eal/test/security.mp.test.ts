/**
 * The safe file rules (DESIGN §5) against a second local user. The test runs as root; the attacker is
 * uid 65534 (nobody), and where a non-root victim is needed it is uid 4242, each a real `node` process
 * started with that uid. Every planted link, file and directory exists before the victim starts; each
 * test checks that the group refuses (or works around) it, that the victim's file is unchanged, and that
 * nothing outside the group's own names was deleted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, uniquePrefix, useAgents } from '@mp/test-utils';
import { hugepageInfo } from '@mp/memory';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
const EAL = join(import.meta.dirname, '../dist/index.js');
const agent = useAgents(AGENT);
const isRoot = process.getuid?.() === 0;
const ROOT_ONLY = '(skipped: needs root to act as uid 65534 and 4242)';
const NOBODY = 65534;
const VICTIM = 4242;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanups.splice(0).reverse()) {
    try {
      f();
    } catch {
      // best effort
    }
  }
});
const rmLater = (p: string): void => void cleanups.push(() => rmSync(p, { recursive: true, force: true }));

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Run a command as `uid` (gid the same). */
function as(uid: number, cmd: string, args: string[]): void {
  execFileSync(cmd, args, { uid, gid: uid, stdio: 'pipe' });
}

interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
  runtimeDir?: string;
}

/**
 * A one-shot @mp process as `uid`: init(args), optionally reserve a memzone, then clean up (or, with
 * `hold`, print and wait to be killed). Resolves with what happened, as JSON.
 */
function runAs(uid: number, args: string[], o: { reserve?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  const script = `
    const { init, memzone } = await import(${JSON.stringify(EAL)});
    let r;
    try {
      const e = init(${JSON.stringify(args)});
      if (${o.reserve ?? 0} > 0) memzone.reserve('z', ${o.reserve ?? 0});
      r = { ok: true, runtimeDir: e.runtimeDir };
      e.cleanup();
    } catch (err) { r = { ok: false, code: err.code, message: err.message }; }
    console.log(JSON.stringify(r));`;
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  delete env.XDG_RUNTIME_DIR;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { uid, gid: uid, env, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Outcome);
    });
  });
}

/**
 * A fresh stand-in for /tmp (root's, mode 1777 like /tmp itself), deleted after the test: a victim given
 * it as `TMPDIR` has its fallback runtime base `<it>/mp-<uid>` there (os.tmpdir() honours TMPDIR), where
 * any uid may plant a directory first — as in /tmp, but private to this run, so concurrent runs of this
 * file (other worktrees, other users of the machine) neither collide on /tmp/mp-4242 nor delete each
 * other's.
 */
function sharedTmp(): { tmp: string; base: string; env: NodeJS.ProcessEnv } {
  const tmp = tempDir('tmp');
  rmLater(tmp);
  chmodSync(tmp, 0o1777);
  return { tmp, base: join(tmp, `mp-${VICTIM}`), env: { TMPDIR: tmp } };
}

/** A victim file of root's, with content, in a root-only directory: what a planted link points at. */
function victimFile(): string {
  const dir = tempDir('victim');
  const f = join(dir, 'precious');
  writeFileSync(f, 'root data that must not change\n'.repeat(100));
  return f;
}

describe('segment files (class 1)', () => {
  it.skipIf(!isRoot)(`a link planted by uid 65534 at <prefix>map_0 → a root file: EPERM naming it, the file unchanged ${isRoot ? '' : ROOT_ONLY}`, async () => {
    const prefix = uniquePrefix('sl');
    const target = victimFile();
    const before = sha(target);
    const link = `/dev/shm/${prefix}map_0`;
    as(NOBODY, 'ln', ['-s', target, link]);
    rmLater(link);
    const p = agent();
    await p.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge'] });
    const r = await p.request('reserve', { name: 'z', len: 1 << 20 });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('EPERM');
    expect(r.message).toContain(link);
    expect(r.message).toMatch(/symbolic link owned by uid 65534/);
    expect(sha(target)).toBe(before);
    expect(lstatSync(link).isSymbolicLink()).toBe(true); // not ours: left alone
  });

  it.skipIf(!isRoot)(`a 0666 file planted by uid 65534 is never adopted as the segment ${isRoot ? '' : ROOT_ONLY}`, async () => {
    const prefix = uniquePrefix('sf');
    const planted = `/dev/shm/${prefix}map_0`;
    as(NOBODY, 'sh', ['-c', `umask 0; printf attacker > ${planted}`]);
    rmLater(planted);
    const p = agent();
    await p.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge'] });
    const r = await p.request('reserve', { name: 'z', len: 4096 });
    expect(r.code).toBe('EPERM');
    expect(r.message).toMatch(/belongs to uid 65534/);
    expect(readFileSync(planted, 'utf8')).toBe('attacker'); // neither truncated nor given group data
  });

  it.skipIf(!isRoot)(`a 0644 leftover of our own uid is refused too (mode lets others read group memory) ${isRoot ? '' : ROOT_ONLY}`, async () => {
    const prefix = uniquePrefix('sm');
    const left = `/dev/shm/${prefix}map_0`;
    writeFileSync(left, 'x', { mode: 0o644 });
    chmodSync(left, 0o644);
    rmLater(left);
    const p = agent();
    await p.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge'] });
    const r = await p.request('reserve', { name: 'z', len: 4096 });
    expect(r.code).toBe('EPERM');
    expect(r.message).toMatch(/mode 0644/);
  });

  it('a leftover segment proven ours (0600, this uid, nobody has it open) is removed and replaced', async () => {
    const prefix = uniquePrefix('so');
    const left = `/dev/shm/${prefix}map_0`;
    writeFileSync(left, 'stale', { mode: 0o600 });
    const p = agent();
    await p.call('init', { args: [`--file-prefix=${prefix}`, '--no-huge'] });
    await p.call('reserve', { name: 'z', len: 4096 });
    await p.call('write', { name: 'z', text: 'fresh' });
    expect(readFileSync(left).subarray(0, 5).toString()).not.toBe('stale');
  });

  it('a segment of a live group with the same prefix in another runtime dir is left alone (EBUSY)', async () => {
    const prefix = uniquePrefix('sb');
    const d1 = tempDir('rd1');
    const d2 = tempDir('rd2');
    const a = agent();
    await a.call('init', { args: [`--file-prefix=${prefix}`, `--runtime-dir=${d1}/g`, '--no-huge'] });
    await a.call('reserve', { name: 'z', len: 4096 });
    await a.call('fillPattern', { name: 'z', seed: 9 });
    const sum = await a.call<number>('checksum', { name: 'z' });
    const b = agent();
    await b.call('init', { args: [`--file-prefix=${prefix}`, `--runtime-dir=${d2}/g`, '--no-huge'] });
    const r = await b.request('reserve', { name: 'z', len: 4096 });
    expect(r.code).toBe('EBUSY');
    expect(await a.call<number>('checksum', { name: 'z' })).toBe(sum);
  });
});

const hugeMount = ((): string | undefined => {
  const info = hugepageInfo();
  return info.mounts.find((m) => info.sizes.some((s) => s.pageSize === m.pageSize && s.free >= 4))?.path;
})();

describe('segment files on hugetlbfs (class 1)', () => {
  it.skipIf(!hugeMount || !isRoot)(`a file of uid 65534 at <prefix>map_0 in the hugetlbfs mount is refused, not resized or used ${hugeMount && isRoot ? '' : '(skipped: needs root and a hugetlbfs mount with free pages; .ci/run makes one)'}`, async () => {
    const prefix = uniquePrefix('hl');
    const planted = join(hugeMount!, `${prefix}map_0`);
    // hugetlbfs holds no symbolic links (symlink() → EINVAL), so the planted object is a foreign file.
    expect(() => symlinkSync('/etc/hostname', `${planted}.link`)).toThrow(/EINVAL/);
    writeFileSync(planted, '');
    chownSync(planted, NOBODY, NOBODY);
    chmodSync(planted, 0o666);
    rmLater(planted);
    const p = agent();
    await p.call('init', { args: [`--file-prefix=${prefix}`, `--huge-dir=${hugeMount}`, '-m', '8'] });
    const r = await p.request('reserve', { name: 'z', len: 4096 });
    expect(r.code).toBe('EPERM');
    expect(r.message).toContain(planted);
    expect(r.message).toMatch(/uid 65534/);
    expect(lstatSync(planted).size).toBe(0);
  });
});

describe('runtime dir (classes 2 and 4)', () => {
  it.skipIf(!isRoot)(`fallback /tmp/mp-<uid> pre-created by uid 65534 with <prefix> linked to the victim's dir: EPERM, the victim's dir intact ${isRoot ? '' : ROOT_ONLY}`, async () => {
    const prefix = uniquePrefix('rd');
    const { base, env } = sharedTmp();
    const victimDir = tempDir('home');
    writeFileSync(join(victimDir, 'notes'), 'victim notes');
    chownSync(victimDir, VICTIM, VICTIM);
    chownSync(join(victimDir, 'notes'), VICTIM, VICTIM);
    as(NOBODY, 'mkdir', ['-m', '0777', base]);
    as(NOBODY, 'ln', ['-s', victimDir, join(base, prefix)]);
    const r = await runAs(VICTIM, [`--file-prefix=${prefix}`, '--no-huge'], { env });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('EPERM');
    expect(r.message).toContain(base);
    expect(r.message).toMatch(/uid 65534/);
    expect(readdirSync(victimDir)).toEqual(['notes']);
    expect(readFileSync(join(victimDir, 'notes'), 'utf8')).toBe('victim notes');
    expect(lstatSync(victimDir).mode & 0o777).toBe(0o700); // mkdtemp's mode: not chmodded by the group
  });

  it.skipIf(!isRoot)(`a non-root primary makes /tmp/mp-<uid>/<prefix> 0700 itself and removes only its own dir at exit ${isRoot ? '' : ROOT_ONLY}`, async () => {
    const prefix = uniquePrefix('rv');
    const { base, env } = sharedTmp();
    const r = await runAs(VICTIM, [`--file-prefix=${prefix}`, '--no-huge'], { reserve: 4096, env });
    expect(r).toMatchObject({ ok: true, runtimeDir: join(base, prefix) });
    expect(lstatSync(base).mode & 0o777).toBe(0o700);
    expect(lstatSync(base).uid).toBe(VICTIM);
    expect(existsSync(join(base, prefix))).toBe(false); // the group's own dir went with it
    expect(readdirSync('/dev/shm').filter((f) => f.startsWith(`${prefix}map_`))).toEqual([]);
  });

  it('--runtime-dir holding entries that are not a group\'s is refused at init, naming them; nothing is deleted', async () => {
    const dir = tempDir('home');
    writeFileSync(join(dir, 'thesis.tex'), 'years of work');
    mkdirSync(join(dir, 'photos'));
    writeFileSync(join(dir, 'photos', 'cat.jpg'), 'meow');
    const p = agent();
    const r = await p.request('init', { args: [`--file-prefix=${uniquePrefix('rh')}`, `--runtime-dir=${dir}`, '--no-huge'] });
    expect(r.code).toBe('EINVAL');
    expect(r.message).toContain("'thesis.tex'");
    expect(r.message).toContain("'photos'");
    await p.close();
    expect(readFileSync(join(dir, 'thesis.tex'), 'utf8')).toBe('years of work');
    expect(readFileSync(join(dir, 'photos', 'cat.jpg'), 'utf8')).toBe('meow');
  });

  it('an existing empty --runtime-dir is used and left in place at exit; one the group created is removed', async () => {
    const parent = tempDir('rt');
    const existing = join(parent, 'existing');
    mkdirSync(existing, { mode: 0o700 });
    const made = join(parent, 'new', 'deeper');
    for (const dir of [existing, made]) {
      const p = agent();
      await p.call('init', { args: [`--file-prefix=${uniquePrefix('re')}`, `--runtime-dir=${dir}`, '--no-huge'] });
      await p.call('reserve', { name: 'z', len: 4096 });
      await p.call('cleanup');
      await p.close();
    }
    expect(readdirSync(existing)).toEqual([]);
    expect(existsSync(made)).toBe(false);
    expect(existsSync(join(parent, 'new'))).toBe(true); // a parent it had to create: only the group's own dir goes
  });

  it('a relative --runtime-dir or --huge-dir is refused with EINVAL', async () => {
    const p = agent();
    for (const arg of ['--runtime-dir=run/mp', '--huge-dir=huge']) {
      const r = await p.request('init', { args: [`--file-prefix=${uniquePrefix('rr')}`, arg] });
      expect(r.code, arg).toBe('EINVAL');
      expect(r.message).toMatch(/not an absolute path/);
    }
  });

  it('stale-group cleanup removes only group names: a directory planted under a group name is refused, not emptied', async () => {
    const dir = join(tempDir('st'), 'g');
    const prefix = uniquePrefix('st');
    const p = agent();
    await p.call('init', { args: [`--file-prefix=${prefix}`, `--runtime-dir=${dir}`, '--no-huge'] });
    await p.kill('SIGKILL');
    mkdirSync(join(dir, 'mp_socket_1_ab'));
    writeFileSync(join(dir, 'mp_socket_1_ab', 'inside'), 'keep');
    const q = agent();
    const r = await q.request('init', { args: [`--file-prefix=${prefix}`, `--runtime-dir=${dir}`, '--no-huge'] });
    expect(r.code).toBe('EPERM');
    expect(r.message).toMatch(/mp_socket_1_ab: it is a directory owned by uid 0/);
    expect(readFileSync(join(dir, 'mp_socket_1_ab', 'inside'), 'utf8')).toBe('keep');
  });
});

describe('attach (class 3)', () => {
  it.skipIf(!isRoot)(`a secondary never joins a group another uid runs at its default runtime dir: EPERM ${isRoot ? '' : ROOT_ONLY}`, async () => {
    const prefix = uniquePrefix('fa');
    const { base, env } = sharedTmp();
    as(NOBODY, 'mkdir', ['-m', '0755', base]);
    // The attacker's primary, alive at the victim's default runtime dir.
    const foreign = execFile(process.execPath, ['--input-type=module', '-e', `
      const { init, memzone } = await import(${JSON.stringify(EAL)});
      init(['--file-prefix=${prefix}', '--runtime-dir=${join(base, prefix)}', '--no-huge']);
      memzone.reserve('bait', 4096);
      console.log('up');
      setInterval(() => {}, 1000);`], { uid: NOBODY, gid: NOBODY });
    cleanups.push(() => foreign.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      foreign.stdout!.on('data', (d: Buffer) => d.toString().includes('up') && resolve());
      foreign.on('exit', (c) => reject(new Error(`attacker primary exited ${c}`)));
    });
    const r = await runAs(VICTIM, [`--file-prefix=${prefix}`, '--proc-type=secondary'], { env });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('EPERM');
    expect(r.message).toMatch(/uid 65534/);
    const auto = await runAs(VICTIM, [`--file-prefix=${prefix}`, '--proc-type=auto', '--no-huge'], { env });
    expect(auto.code).toBe('EPERM');
    // Root pointed straight at the attacker's dir refuses it as well.
    const s = agent();
    const rr = await s.request('init', { args: [`--file-prefix=${prefix}`, `--runtime-dir=${join(base, prefix)}`, '--proc-type=secondary'] });
    expect(rr.code).toBe('EPERM');
  });

  it.skipIf(!isRoot)(`a secondary of another uid pointed at a root group's --runtime-dir gets EPERM, not ENOENT ${isRoot ? '' : ROOT_ONLY}`, async () => {
    const dir = join(tempDir('ro'), 'g');
    chmodSync(join(dir, '..'), 0o755);
    const prefix = uniquePrefix('ro');
    const p = agent();
    await p.call('init', { args: [`--file-prefix=${prefix}`, `--runtime-dir=${dir}`, '--no-huge'] });
    const r = await runAs(NOBODY, [`--file-prefix=${prefix}`, `--runtime-dir=${dir}`, '--proc-type=secondary']);
    expect(r.code).toBe('EPERM');
    expect(r.message).toContain(dir);
  });
});
