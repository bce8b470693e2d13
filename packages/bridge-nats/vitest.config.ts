import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'bridge-nats',
    pool: 'forks',
    setupFiles: ['../../tools/test-utils/src/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
