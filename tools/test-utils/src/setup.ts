/**
 * Per-test-file setup (each package's vitest config lists it): once a file's tests are done and their
 * agents killed, delete whatever their groups left in /var/run and /dev/shm or a hugetlbfs mount.
 */
import { afterAll } from 'vitest';
import { removeCreatedGroups } from './index.js';

afterAll(() => {
  removeCreatedGroups();
});
