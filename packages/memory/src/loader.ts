/**
 * What @mp/memory's CommonJS build loads before the V8 code cache can be used, and so without it: the
 * cache loader and what it needs (errors, the process-wide slots, the safe file checks, the addon). The build (`cachedBundle` in
 * the repository's tsup.base.ts) makes this the first part of `dist/internal.cjs`, whose end runs the rest
 * of the package, one bundle (`dist/internal.bundle.cjs`, from bundle.ts), through the code cache; the
 * bundle takes these modules from here (one MpError class, one addon). So a process loads one file of
 * @mp/memory and the cached bundle. Not an entry of the package.
 */
export * from './errors.js';
export * from './slot.js';
export * from './files.js';
export * from './addon.js';
export * from './binding.js';
export * from './code-cache.js';
