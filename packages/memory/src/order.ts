/**
 * Memory order of plain typed-array accesses on this CPU.
 *
 * x86 is TSO: loads are not reordered with older loads, stores are not reordered with older stores or
 * loads, and V8 emits typed-array loads and stores in program order (they sit on its effect chain). So on
 * x86 a plain store is already a release store and a plain load an acquire load — what C11's
 * `__atomic_store_n(…, __ATOMIC_RELEASE)` / `__atomic_load_n(…, __ATOMIC_ACQUIRE)` compile to — while
 * `Atomics.store` is an `xchg` and `Atomics.load` a call V8 does not always inline (≈ 8–19 ns each here).
 * Hot paths of @mp's shared structures use plain accesses where this is true and keep `Atomics` elsewhere.
 *
 * Two things plain accesses never give, on any CPU: store→load order (a store followed by a load of
 * another word may be reordered by the CPU; code that needs it uses Atomics), and a re-read of a word the
 * compiler may fold into an earlier read of the same word through the same view (code that re-reads a
 * word to validate, as a seqlock does, reads it through a second view of the same memory).
 *
 * Internal switch for the tests: `MP_TEST_ORDER=atomics` in the environment turns TSO off on x86 too, so
 * the Atomics path every other CPU takes runs through the ring and hash suites on this machine (vitest
 * projects `ring-atomics` and `hash-atomics`; children and worker threads inherit the variable). Read once,
 * when this module loads. Not an API: it costs speed, never correctness, and nothing but those projects
 * sets it.
 */
export const TSO: boolean = (process.arch === 'x64' || process.arch === 'ia32') && process.env.MP_TEST_ORDER !== 'atomics';
