/** Per-file setup: the tarball directories a file's tests packed into are deleted after them. */
import { afterAll } from 'vitest';
import { removePackDirs } from '../src/pack.js';

afterAll(() => {
  removePackDirs();
});
