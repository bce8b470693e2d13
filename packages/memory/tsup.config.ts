import base, { cachedBundle, esmWrapper } from '../../tsup.base';
import { defineConfig } from 'tsup';

// Entries: the public index and the internal subpath (helpers for the sibling @mp packages, not the public
// API). tsup builds them (ESM for the names, .d.ts/.d.cts); cachedBundle then makes the CommonJS build one
// bundle run through the V8 code cache by a bootstrap of a few lines (src/boot.cjs) and a stub per entry; the
// ESM entries load the CJS build (esmWrapper: one instance for import and require, a faster attach).
export default defineConfig({
  ...base,
  entry: ['src/index.ts', 'src/internal.ts'],
  splitting: true,
  onSuccess: async () => {
    await cachedBundle({
      boot: 'src/boot.cjs',
      bundle: 'src/bundle.ts',
      main: 'internal',
      others: ['index'],
    })();
    await esmWrapper(['index', 'internal'])();
  },
});
