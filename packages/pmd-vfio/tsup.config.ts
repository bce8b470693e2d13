import base from '../../tsup.base';
import { defineConfig } from 'tsup';

// A second entry: the internal subpath (the raw binding, for tests and the ethdev layer).
export default defineConfig({ ...base, entry: ['src/index.ts', 'src/internal.ts'] });
