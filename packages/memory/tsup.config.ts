import base, { codeCache, esmWrapper } from '../../tsup.base';
import { defineConfig } from 'tsup';

// Entries: the public index, the internal subpath (helpers for the sibling @mp packages, not the public
// API) and the code cache loader (src/code-cache.ts). Code splitting for CJS too, so the entries share one
// copy of every module (one MpError class). The ESM entries load the CJS build (esmWrapper: one instance
// for import and require, a faster attach); the CJS files run through the code cache (codeCache).
export default defineConfig({
  ...base,
  entry: ['src/index.ts', 'src/internal.ts', 'src/code-cache.ts'],
  splitting: true,
  onSuccess: async () => {
    await esmWrapper(['index', 'internal'])();
    await codeCache('./code-cache.cjs')();
  },
});
