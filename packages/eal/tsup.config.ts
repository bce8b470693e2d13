import base, { esmWrapper } from '../../tsup.base';
import { defineConfig } from 'tsup';

// The ESM entry loads the CJS build (esmWrapper: one instance for import and require, a faster attach).
export default defineConfig({ ...base, onSuccess: esmWrapper(['index']) });
