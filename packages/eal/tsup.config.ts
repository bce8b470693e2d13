import base, { codeCache, esmWrapper, viaInternal } from '../../tsup.base';
import { defineConfig } from 'tsup';

// The ESM entry loads the CJS build (esmWrapper: one instance for import and require, a faster attach);
// the CJS build takes all of @mp/memory from its internal entry (viaInternal: one file of @mp/memory
// loaded, not two) and runs through @mp/memory's V8 code cache (codeCache).
export default defineConfig({
  ...base,
  onSuccess: async () => {
    await esmWrapper(['index'])();
    await viaInternal('@mp/memory')();
    await codeCache('@mp/memory/internal')();
  },
});
