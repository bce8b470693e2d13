import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The ring and hash suites once more with MP_TEST_ORDER=atomics: on x86 they take the Atomics path every
 * other CPU takes instead of TSO's plain loads and stores (@mp/memory's order.ts). Spawned agents and
 * worker threads inherit the variable; each package's order.test.ts fails if it did not reach them. Files
 * that exercise no memory order (security, dual loading, hash functions, code generation) run once.
 */
const orderFree = ['test/security.mp.test.ts', 'test/dual-load.mp.test.ts', 'test/hashfn.test.ts', 'test/codegen.test.ts'];
const atomics = (pkg: 'ring' | 'hash') => ({
  extends: `./packages/${pkg}/vitest.config.ts`,
  test: {
    name: `${pkg}-atomics`,
    root: `./packages/${pkg}`,
    env: { MP_TEST_ORDER: 'atomics' },
    exclude: [...configDefaults.exclude, ...orderFree],
  },
});

export default defineConfig({
  test: {
    projects: ['packages/*', 'examples', 'tools/pack-check', 'tools/bench-utils', atomics('ring'), atomics('hash')],
  },
});
