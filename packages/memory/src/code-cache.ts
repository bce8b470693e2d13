/**
 * A V8 code cache for the CommonJS bundles of the @mp packages: what Node 22's `module.enableCompileCache`
 * does, for Node 20, which has none. A secondary's attach spends much of its time compiling the bundles
 * and then each function it runs for the first time (packages/eal/README.md, "Attach time"); with the
 * cache, V8 takes the bytecode of all of them from one file per bundle.
 *
 * How a bundle is loaded: @mp/memory's own (`internal.bundle.cjs`, the whole package) by its entry
 * `internal.cjs`, a bootstrap of a few lines (src/boot.cjs) that opens the addon, has it read and check
 * the cache (`readCached`, native/code_cache.h) and runs the bundle, then hands over what it did
 * ({@link codeCacheBooted}); every other bundle (@mp/eal's `index.bundle.cjs`) by a stub written at build
 * time (`codeCache` in the repository's tsup.base.ts) that calls {@link runCached}. Either way the bundle is
 * compiled with `vm.Script` and the cached data of an earlier run, run as the entry's module, and — when
 * there was no usable cache — a cache is written at process exit, after this process ran the code it
 * needed (V8 then includes every function compiled so far). When the bundle cannot be read (inside another
 * bundler's output) the entry `require`s it.
 *
 * V8 trusts cached data: it checks only its own version, its flags and the source's length (not even a
 * checksum, in release builds), and runs whatever bytecode the file holds. So a cache is used only when
 * every check below passes, and is otherwise ignored (never an error: a cache is only ever a speed-up):
 * - the directory: `$MP_CODE_CACHE` (an absolute path; `0` or `off` turns the cache off), else
 *   `$XDG_CACHE_HOME/mp/v8`, else `$HOME/.cache/mp/v8`. Every component from that base down is a
 *   directory of this uid, not a link, not group/world writable (the safe file rules of DESIGN §5,
 *   files.ts, which the addon's reader applies the same way); missing ones are created 0700 when a cache
 *   is written.
 * - the file: opened with O_NOFOLLOW (a planted link is never followed), a regular file of this uid with
 *   mode 0600; written as `<name>.<pid>.tmp` (O_EXCL) and renamed into place, so a reader never sees a
 *   half-written file.
 * - its header: a checksum of the bundle's source as this process read it (another build, or an edit of
 *   the bundle in place, makes the cache stale), Node's version, and the payload's length and checksum
 *   (the addon's 64-bit FNV-1a: a corrupt payload is never handed to V8). V8's own rejection (another
 *   version or flags) is `rejected`, and the cache is written again at exit.
 *
 * ```
 * MPV8 2 <source checksum> <node version> <payload bytes> <payload checksum>\n<V8 cached data>
 * ```
 *
 * What happened to each bundle is in {@link codeCacheStatus} (tests read it).
 */
import { closeSync, existsSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { binding } from './binding.js';
import { checkOwnedFd, ensureOwnedDir, openOwnedFile, removeOwned } from './files.js';

/** Where the caches live: `dir`, whose components from `from` down are checked; `explicit`: `$MP_CODE_CACHE`. */
export interface CodeCacheDir {
  dir: string;
  from: string;
  explicit: boolean;
}

/** What became of one bundle's cache in this process. */
export interface CodeCacheEntry {
  /** The bundle (absolute path). */
  readonly bundle: string;
  /** The cache file, undefined when the cache is off. */
  readonly cache: string | undefined;
  /**
   * `hit` (used) · `miss` (none yet) · `stale` (another build or an edited bundle, another Node) ·
   * `corrupt` (bad header, length or checksum) · `rejected` (V8 refused it) · `refused` (the file or its
   * directory failed the safe file rules) · `off`. Then at exit: `written`, or `unwritable`.
   */
  state: 'hit' | 'miss' | 'stale' | 'corrupt' | 'rejected' | 'refused' | 'off' | 'written' | 'unwritable';
  /** Why, for every state but `hit`, `miss` and `written`. */
  why?: string;
}

const MAGIC = 'MPV8 2 ';
// The CommonJS wrapper of Node's own loader, on a line of its own so the bundle's line numbers hold.
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {\n';
const WRAP_TAIL = '\n})';

const status: CodeCacheEntry[] = [];
const pending: Array<{ entry: CodeCacheEntry; script: Script; header: Omit<Header, 'bytes' | 'checksum'> }> = [];
let where: CodeCacheDir | null | undefined;

interface Header {
  /** Checksum of the bundle's source (the addon's, as the payload's). */
  source: string;
  node: string;
  bytes: number;
  checksum: string;
}

/** What became of each bundle loaded through {@link runCached} in this process, in load order. */
export function codeCacheStatus(): readonly CodeCacheEntry[] {
  return status;
}

/** The cache directory and the component its checks start from; null when the cache is off (boot.cjs has the same rule). */
function cacheDir(): CodeCacheDir | null {
  const env = process.env.MP_CODE_CACHE;
  if (env === '0' || env === 'off') return null;
  if (env !== undefined && env !== '') return env.startsWith('/') ? { dir: env, from: env, explicit: true } : null;
  const xdg = process.env.XDG_CACHE_HOME;
  const home = process.env.HOME;
  const base = xdg?.startsWith('/') ? xdg : home?.startsWith('/') ? join(home, '.cache') : undefined;
  return base === undefined ? null : { dir: join(base, 'mp', 'v8'), from: base, explicit: false };
}

// The addon's checksum (native/code_cache.h, as readCached's): node:crypto would cost ~10 ms of every start to load.
function checksum(data: Uint8Array): string {
  return binding.checksum(data);
}

/** A short name for a path (FNV-1a, 32 bits): the cache file of one bundle under one Node. */
function nameHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Run the CommonJS bundle `bundle` as the code of `module` (the stub's own module object: its exports
 * become the stub's; `require` is the stub's, in the same directory), compiled with the V8 cache when a
 * valid one exists. Returns false, having run nothing, when the bundle cannot be read or the cache is
 * off: the caller then `require`s the bundle. What the bundle throws propagates.
 */
export function runCached(module: NodeJS.Module, require: NodeJS.Require, bundle: string): boolean {
  if (where === undefined) where = cacheDir();
  if (where === null || typeof binding.readCached !== 'function') {
    // (An addon built before readCached() existed: no cache rather than an unchecked one.)
    status.push({ bundle, cache: undefined, state: 'off', ...(where === null ? {} : { why: 'the addon has no readCached()' }) });
    return false;
  }
  const name = `${basename(bundle, '.cjs')}-${nameHash(`${bundle}\0${process.version}\0${process.arch}`)}.v8`;
  const cache = join(where.dir, name);
  const read = binding.readCached(bundle, where.from, where.dir, cache, process.version);
  if (read === undefined) return false;
  const [source, sourceSum, state, why, cachedData] = read;
  const script = new Script(WRAP_HEAD + source + WRAP_TAIL, { filename: bundle, lineOffset: -1, ...(cachedData ? { cachedData } : {}) });
  booted({ bundle, cache, state, ...(why ? { why } : {}) }, script, sourceSum);
  const fn = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: NodeJS.Module, f: string, d: string) => void;
  fn.call(module.exports, module.exports, require, module, bundle, dirname(bundle));
  return true;
}

/** Record what became of a bundle, and have its cache written at exit unless it was used or refused. */
function booted(entry: CodeCacheEntry, script: Script | undefined, sourceSum: string | undefined): void {
  if (script !== undefined && entry.state === 'hit' && script.cachedDataRejected === true) {
    Object.assign(entry, { state: 'rejected', why: 'V8 refused the cached data (another V8 version or flags)' });
  }
  status.push(entry);
  if (script !== undefined && sourceSum !== undefined && entry.state !== 'hit' && entry.state !== 'refused' && entry.state !== 'off') {
    if (pending.length === 0) process.once('exit', writePending);
    pending.push({ entry, script, header: { source: sourceSum, node: process.version } });
  }
}

/**
 * What @mp/memory's bootstrap (src/boot.cjs, `dist/internal.cjs`) did with this package's own bundle:
 * the cache directory it used (so every bundle of the process uses the same), the entry, and the compiled
 * script and its source checksum when the cache is to be written at exit.
 *
 * @internal — called once, by the bootstrap, right after the bundle ran
 */
export function codeCacheBooted(dir: CodeCacheDir | null, entry: CodeCacheEntry, script?: Script, sourceSum?: string): void {
  if (where === undefined) where = dir;
  booted(entry, script, sourceSum);
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
}

/** At exit: write the cache of every bundle that had none usable (temp file, then rename). */
function writePending(): void {
  for (const { entry, script, header } of pending.splice(0)) {
    const path = entry.cache!;
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      // An explicit directory's existing parents are the caller's (as a --runtime-dir's); the ones created
      // here are checked as ours.
      let from = where!.from;
      while (where!.explicit && !existsSync(dirname(from)) && dirname(from) !== from) from = dirname(from);
      ensureOwnedDir(where!.dir, from, true);
      const data = script.createCachedData();
      const h: Header = { ...header, bytes: data.length, checksum: checksum(data) };
      const { fd } = openOwnedFile(tmp, { create: 'exclusive' }); // O_CREAT|O_EXCL|O_NOFOLLOW, 0600
      try {
        checkOwnedFd(fd, tmp);
        const head = Buffer.from(`${MAGIC}${h.source} ${h.node} ${h.bytes} ${h.checksum}\n`, 'latin1');
        writeAll(fd, head);
        writeAll(fd, data);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path); // replaces the name itself: a link planted there is never followed
      Object.assign(entry, { state: 'written', why: undefined });
    } catch (err) {
      removeOwned(tmp, 'file');
      Object.assign(entry, { state: 'unwritable', why: (err as Error).message });
    }
  }
}
