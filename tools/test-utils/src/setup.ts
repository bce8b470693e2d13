/**
 * Per-test-file setup (each package's vitest config lists it): once a file's tests are done and their
 * agents killed, delete whatever their groups left in /var/run and /dev/shm or a hugetlbfs mount, and the
 * file's temp dirs (tempDir).
 */
import { afterAll } from 'vitest';
import { removeCreatedGroups, removeTempDirs } from './index.js';

afterAll(() => {
  removeCreatedGroups();
  removeTempDirs();
});
