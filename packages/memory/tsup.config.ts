import base from '../../tsup.base';
import { defineConfig } from 'tsup';

// A second entry: the internal subpath (helpers for the sibling @mp packages, not the public API). Code
// splitting for CJS too, so index.cjs and internal.cjs share one copy of every module (one MpError class).
export default defineConfig({ ...base, entry: ['src/index.ts', 'src/internal.ts'], splitting: true });
