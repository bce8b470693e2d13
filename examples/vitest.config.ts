import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'examples',
    include: ['examples.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
  },
});
