/**
 * The one CommonJS bundle of @mp/memory (`dist/memory.bundle.cjs`, run through the V8 code cache by the
 * `internal.cjs` stub): the public API and the internal one, whose names `dist/index.cjs` and
 * `dist/internal.cjs` pick. Built by `cachedBundle` in the repository's tsup.base.ts; not an entry.
 */
export * from './index.js';
export * from './internal.js';
