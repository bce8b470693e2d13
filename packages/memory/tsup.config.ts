import base, { esmWrapper } from '../../tsup.base';
import { defineConfig } from 'tsup';

// A second entry: the internal subpath (helpers for the sibling @mp packages, not the public API). Code
// splitting for CJS too, so index.cjs and internal.cjs share one copy of every module (one MpError class).
// The ESM entries load the CJS build (esmWrapper: one instance for import and require, a faster attach).
export default defineConfig({ ...base, entry: ['src/index.ts', 'src/internal.ts'], splitting: true, onSuccess: esmWrapper(['index', 'internal']) });
