/**
 * The V8 code cache of the CommonJS bundles (src/code-cache.ts): real node processes load the built
 * package (dist/) with MP_CODE_CACHE pointing at a temp directory; each reports what became of each
 * bundle's cache (codeCacheStatus) and proves the package works. A cache is used only when it is ours,
 * whole and of this build; anything else is ignored (never an error) and — unless it failed the safe file
 * rules — replaced at exit.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '@mp/test-utils';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const ROOT_ONLY = '(skipped: needs root to plant as uid 65534)';
const dist = join(import.meta.dirname, '..', 'dist');
const temp = useTempDir('code-cache');

interface Entry {
  bundle: string;
  cache: string | undefined;
  state: string;
  why?: string;
}

// A child that loads the public CJS entry, uses it (an MpError of the bundle is an MpError of the entry),
// and prints what the loader did.
const CHILD = `
  const pub = require(${JSON.stringify(join(dist, 'index.cjs'))});
  const internal = require(${JSON.stringify(join(dist, 'internal.cjs'))});
  let ok;
  try { pub.validateName('x', 'a/b', 31); } catch (e) { ok = e instanceof pub.MpError && e.code === 'EINVAL'; }
  if (!ok) process.exit(3);
  console.log(JSON.stringify(internal.codeCacheStatus()));`;

function load(cacheDir: string, o: { uid?: number; env?: Record<string, string> } = {}): Entry[] {
  const out = execFileSync(process.execPath, ['-e', CHILD], {
    encoding: 'utf8',
    env: { ...process.env, MP_CODE_CACHE: cacheDir, ...o.env },
    ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid } : {}),
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Entry[];
}
const states = (es: Entry[]): string[] => es.map((e) => e.state);
const mode = (p: string): number => statSync(p).mode & 0o777;

describe('code cache of the CommonJS bundles', () => {
  it('a first process writes a 0600 cache per bundle into a 0700 directory it creates; the next one uses it', () => {
    const dir = join(temp(), 'a', 'cache');
    const first = load(dir);
    expect(first.length).toBeGreaterThan(0);
    expect(states(first).every((s) => s === 'miss')).toBe(true);
    for (const d of [join(dir, '..'), dir]) expect(mode(d)).toBe(0o700);
    for (const e of first) {
      expect(e.cache!.startsWith(`${dir}/`)).toBe(true);
      expect(mode(e.cache!)).toBe(0o600);
      expect(readFileSync(e.cache!).subarray(0, 7).toString()).toBe('MPV8 2 ');
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(states(load(dir)).every((s) => s === 'hit')).toBe(true);
  });

  it('MP_CODE_CACHE=0 turns it off: the bundles load as plain CommonJS and nothing is written', () => {
    const dir = temp();
    const es = load('0', { env: { HOME: dir, XDG_CACHE_HOME: dir } });
    expect(states(es).every((s) => s === 'off')).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a corrupt payload (one byte flipped), a cut file and a broken header are ignored, and replaced at exit', () => {
    const dir = join(temp(), 'cache');
    const [e] = load(dir);
    const good = readFileSync(e!.cache!);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 100] ^= 0x5a;
    for (const bad of [flipped, good.subarray(0, good.length - 1000), Buffer.concat([Buffer.from('MPV8 2 not-a-header'), good.subarray(good.indexOf(10))])]) {
      writeFileSync(e!.cache!, bad, { mode: 0o600 });
      const again = load(dir).find((x) => x.bundle === e!.bundle)!;
      expect(again.state).toBe('corrupt');
      expect(readFileSync(e!.cache!).equals(bad)).toBe(false); // written again at exit
    }
    expect(load(dir).find((x) => x.bundle === e!.bundle)!.state).toBe('hit');
  });

  it('a cache of another build of the bundle (or of an edited bundle) is stale, and replaced', () => {
    const dir = join(temp(), 'cache');
    const [e] = load(dir);
    const text = readFileSync(e!.cache!, 'latin1');
    writeFileSync(e!.cache!, text.replace(/^MPV8 2 [0-9a-f]/, (m) => m.slice(0, -1) + (m.endsWith('0') ? '1' : '0')), { encoding: 'latin1', mode: 0o600 });
    const again = load(dir).find((x) => x.bundle === e!.bundle)!;
    expect(again.state).toBe('stale');
    expect(again.why).toMatch(/another build/);
    expect(load(dir).find((x) => x.bundle === e!.bundle)!.state).toBe('hit');
  });

  it('a cache file that is group/world readable is refused and left alone', () => {
    const dir = join(temp(), 'cache');
    const [e] = load(dir);
    chmodSync(e!.cache!, 0o644);
    const again = load(dir).find((x) => x.bundle === e!.bundle)!;
    expect(again.state).toBe('refused');
    expect(again.why).toMatch(/mode 0644/);
    expect(mode(e!.cache!)).toBe(0o644);
  });

  it('a link planted at a cache name is never followed: refused, and its target untouched', () => {
    const root = temp();
    const dir = join(root, 'cache');
    const [e] = load(dir);
    const victim = join(root, 'victim');
    writeFileSync(victim, readFileSync(e!.cache!), { mode: 0o600 }); // even a valid cache behind a link
    const before = readFileSync(victim);
    writeFileSync(e!.cache!, ''); // (replaced by the link below)
    execFileSync('ln', ['-sf', victim, e!.cache!]);
    const again = load(dir).find((x) => x.bundle === e!.bundle)!;
    expect(again.state).toBe('refused');
    expect(again.why).toMatch(/link/);
    expect(lstatSync(e!.cache!).isSymbolicLink()).toBe(true);
    expect(readFileSync(victim).equals(before)).toBe(true);
  });

  it('a cache directory that is a link, or group/world writable, is refused and nothing is written into it', () => {
    const root = temp();
    const real = join(root, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(root, 'link'));
    const viaLink = load(join(root, 'link'));
    expect(states(viaLink).every((s) => s === 'refused')).toBe(true);
    expect(viaLink[0]!.why).toMatch(/link/);
    const open = join(root, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(states(load(open)).every((s) => s === 'refused')).toBe(true);
    expect(readdirSync(real)).toEqual([]);
    expect(readdirSync(open)).toEqual([]);
  });

  it.skipIf(!isRoot)(`a valid cache directory and files planted by uid 65534 are refused; a cache file of uid 65534 in our directory too ${isRoot ? '' : ROOT_ONLY}`, () => {
    const root = temp();
    chmodSync(root, 0o1777);
    const theirs = join(root, 'theirs');
    // uid 65534 runs the same package with its own cache directory: valid V8 data for this build.
    const made = load(theirs, { uid: NOBODY, env: { HOME: root } });
    expect(states(made).every((s) => s === 'miss')).toBe(true);
    expect(statSync(theirs).uid).toBe(NOBODY);
    const planted = load(theirs);
    expect(states(planted).every((s) => s === 'refused')).toBe(true);
    expect(planted[0]!.why).toMatch(/uid 65534/);
    expect(readdirSync(theirs).every((f) => statSync(join(theirs, f)).uid === NOBODY)).toBe(true);
    // Our directory, one of its files chowned to 65534 (as a root-run planter would leave it).
    const ours = join(root, 'ours');
    const [e] = load(ours);
    chownSync(e!.cache!, NOBODY, NOBODY);
    const again = load(ours).find((x) => x.bundle === e!.bundle)!;
    expect(again.state).toBe('refused');
    expect(again.why).toMatch(/uid 65534/);
    expect(statSync(e!.cache!).uid).toBe(NOBODY);
  });

  it('the default directory is $XDG_CACHE_HOME/mp/v8, else $HOME/.cache/mp/v8', () => {
    const home = temp();
    const es = load('', { env: { HOME: home, XDG_CACHE_HOME: '' } });
    expect(es[0]!.cache!.startsWith(join(home, '.cache', 'mp', 'v8') + '/')).toBe(true);
    const xdg = temp();
    expect(load('', { env: { HOME: home, XDG_CACHE_HOME: xdg } })[0]!.cache!.startsWith(join(xdg, 'mp', 'v8') + '/')).toBe(true);
    expect(existsSync(join(xdg, 'mp', 'v8'))).toBe(true);
  });
});
