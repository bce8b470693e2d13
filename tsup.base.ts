import { defineConfig } from 'tsup';

/** The one tsup setup of every package: ESM + CJS + .d.ts from src/index.ts, for Node 20. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  shims: true,
});
