/**
 * The one CommonJS bundle of @mp/memory (`dist/internal.bundle.cjs`, run through the V8 code cache by the
 * `internal.cjs` stub): the internal entry, which holds the public API too; `dist/index.cjs` picks the
 * public names. Built by `cachedBundle` in the repository's tsup.base.ts; not an entry.
 */
export * from './internal.js';
