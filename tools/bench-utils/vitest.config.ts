import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'bench-utils',
    pool: 'forks',
    testTimeout: 60_000,
  },
});
