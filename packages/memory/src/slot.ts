/**
 * Process-wide state shared by every copy of a package loaded in one process (DESIGN §12). An ESM
 * `import` and a CJS `require` of the same package are two module instances, and so are two nested
 * installs of it; module-level `let`s would give each its own attached group, log sink and caches (init()
 * through one, `Ring.create` through the other → ENOTCONN). So that state lives in one slot on
 * `globalThis`, under `Symbol.for(key)`, tagged with the layout version of the state object: a copy that
 * finds a slot of another layout refuses to load rather than misread it.
 *
 * ```
 * globalThis[Symbol.for('@mp/memory')] = { layout: 1, owner: '@mp/memory@0.1.0', state: { … } }
 * ```
 */
import { MpError } from './errors.js';

interface Slot {
  readonly layout: number;
  /** `name@version` of the copy that created the slot (for the EPROTO message). */
  readonly owner: string;
  readonly state: object;
}

/**
 * The process-wide state under `key`, created by `create()` if no copy made it yet.
 *
 * @param key e.g. `@mp/memory`; `Symbol.for(key)` is the property of `globalThis`
 * @param owner `name@version` of the calling copy
 * @param layout version of the state object's shape; bump it whenever a field changes meaning or type
 * @throws {MpError} EPROTO — another copy (named in the message, with its layout) holds the slot with a
 *   different layout version
 * @internal — used by the @mp packages for their own state; not for applications
 */
export function processSlot<T extends object>(key: string, owner: string, layout: number, create: () => T): T {
  const g = globalThis as unknown as Record<symbol, Slot | undefined>;
  const sym = Symbol.for(key);
  const found = g[sym];
  if (found === undefined) {
    const slot: Slot = { layout, owner, state: create() };
    Object.defineProperty(globalThis, sym, { value: slot, enumerable: false, configurable: false, writable: false });
    return slot.state as T;
  }
  if (found.layout !== layout) {
    throw new MpError(
      'EPROTO',
      `${owner} cannot share this process's ${key} state: ${found.owner} holds it with layout version ` +
        `${found.layout}, this copy uses ${layout}; install one version of ${key} (dedupe) in this process`,
    );
  }
  return found.state as T;
}
