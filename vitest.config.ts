import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'examples', 'tools/pack-check', 'tools/bench-utils'],
  },
});
