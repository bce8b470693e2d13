import base, { codeCache, esmWrapper } from '../../tsup.base';
import { defineConfig } from 'tsup';

// The ESM entry loads the CJS build (esmWrapper: one instance for import and require, a faster attach);
// the CJS build runs through @mp/memory's V8 code cache (codeCache).
export default defineConfig({
  ...base,
  onSuccess: async () => {
    await esmWrapper(['index'])();
    await codeCache('@mp/memory/internal')();
  },
});
