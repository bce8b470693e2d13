import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'cli',
    pool: 'forks',
    setupFiles: ['../../tools/test-utils/src/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 30_000,
  },
});
