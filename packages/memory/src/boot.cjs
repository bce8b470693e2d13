"use strict";
// @mp/memory's CommonJS entry, `dist/internal.cjs` (copied there by `cachedBundle` in the repository's
// tsup.base.ts; `dist/index.cjs` picks the public names from it). Every name comes from one bundle beside
// it, `internal.bundle.cjs` (src/bundle.ts: the whole package); this file only gets that bundle running
// through the V8 code cache (src/code-cache.ts). It is the one part of the package that is compiled and
// run without the cache at every process start, so it holds as little code as the job takes: it opens
// the addon where loadAddon's common path would (src/addon.ts, the same process-wide map), has the addon
// read the bundle and read and check its cache in one call (readCached, native/code_cache.h: the safe
// file rules of DESIGN §5 and the checksums), compiles and runs the bundle, and hands over what it did
// (codeCacheBooted). Without the addon there, or with the cache off, it requires the bundle.
const { existsSync } = require("fs");
const { basename, join } = require("path");

const bundle = join(__dirname, "internal.bundle.cjs");
const where = cacheDir();
const addon = where === null ? undefined : openAddon();
const entry = { bundle, cache: undefined, state: "off" };
let read;
if (addon !== undefined && typeof addon.readCached === "function") {
  entry.cache = join(where.dir, `${basename(bundle, ".cjs")}-${nameHash(`${bundle}\0${process.version}\0${process.arch}`)}.v8`);
  read = addon.readCached(bundle, where.from, where.dir, entry.cache, process.version);
} else if (where !== null) {
  entry.why = addon === undefined ? "no addon in build/Release or prebuilds/" : "the addon has no readCached()";
}
if (read === undefined) {
  entry.cache = undefined;
  module.exports = require("./internal.bundle.cjs");
  module.exports.codeCacheBooted(where, entry);
} else {
  const [source, sourceSum, state, why, cachedData] = read;
  entry.state = state;
  if (why !== "") entry.why = why;
  const { Script } = require("vm");
  // Node's CommonJS wrapper, on a line of its own so the bundle's line numbers hold.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {\n${source}\n})`, { filename: bundle, lineOffset: -1, cachedData });
  script.runInThisContext().call(module.exports, module.exports, require, module, bundle, __dirname);
  module.exports.codeCacheBooted(where, entry, script, sourceSum);
}

// code-cache.ts's cacheDir(), the same rule.
function cacheDir() {
  const env = process.env.MP_CODE_CACHE;
  if (env === "0" || env === "off") return null;
  if (env !== undefined && env !== "") return env.startsWith("/") ? { dir: env, from: env, explicit: true } : null;
  const xdg = process.env.XDG_CACHE_HOME;
  const home = process.env.HOME;
  const base = xdg?.startsWith("/") ? xdg : home?.startsWith("/") ? join(home, ".cache") : undefined;
  return base === undefined ? null : { dir: join(base, "mp", "v8"), from: base, explicit: false };
}

// code-cache.ts's nameHash() (FNV-1a, 32 bits), the same file name.
function nameHash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

// loadAddon's common path (addon.ts): build/Release unless PREBUILDS_ONLY, else the shipped prebuild,
// opened once per process in its process-wide map (DESIGN §12); undefined when neither is there (the
// bundle's loadAddon then tries node-gyp-build, or says where it looked).
function openAddon() {
  const root = join(__dirname, "..");
  let file = join(root, "build", "Release", "mp_memory.node");
  if (process.env.PREBUILDS_ONLY || !existsSync(file)) {
    const libc = process.env.LIBC ?? (existsSync("/etc/alpine-release") ? "musl" : "glibc");
    file = join(root, "prebuilds", `linux-${process.arch}`, `@mp+memory.${libc}.node`);
    if (!existsSync(file)) return undefined;
  }
  const key = Symbol.for("@mp/memory/addons");
  let slot = globalThis[key];
  if (slot === undefined) Object.defineProperty(globalThis, key, { value: (slot = { layout: 1, owner: "@mp/memory", state: new Map() }) });
  if (slot.layout !== 1) return undefined; // (the bundle's processSlot says why: EPROTO)
  let addon = slot.state.get(file);
  if (addon === undefined) {
    const m = { exports: {} };
    process.dlopen(m, file);
    slot.state.set(file, (addon = m.exports));
  }
  return addon;
}
