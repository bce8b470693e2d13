/**
 * The process-wide state of @mp/pmd-vfio, in @mp/memory's process slot (DESIGN §12): the registered
 * drivers, the port table per group, the ports this process has open, the queue claims it holds, the
 * memif listening sockets and interfaces it holds, and which one-time hooks (IPC actions, exit) are in
 * place. An ESM `import` and a CJS `require` of this package, or two nested copies of one layout, share it:
 * a port probed through one copy is the port the other attaches, its queue claims are released once at
 * exit, and IPC actions are registered once. A copy of another layout is refused at load with EPROTO
 * naming both.
 *
 * Layout 1: the fields of {@link PmdState}. Maps whose values are module-private classes hold `unknown`
 * here; each module casts its own map once.
 */
import { createRequire } from 'node:module';
import { processSlot } from '@mp/memory/internal';
import type { Driver } from './drivers/driver.js';
import type { Port } from './ethdev/port.js';
import type { PortTable } from './ethdev/table.js';

export interface PmdState {
  /** Driver name → driver (each copy registers its own at load; the same names). */
  drivers: Map<string, Driver>;
  /** Group memory → its port table. */
  tables: WeakMap<object, PortTable>;
  /** Port id → this process's Port. */
  open: Map<number, Port>;
  /** Queue owner words this process holds (word index → table words), cleared at exit. */
  claims: Map<number, Uint32Array>;
  /** memif listening sockets by key (interface.ts). */
  memifSockets: Map<string, unknown>;
  /** memif interfaces this process probed, by port id (net-memif.ts). */
  memifHeld: Map<number, unknown>;
  /** One-time hooks done: link-event IPC action, exit hook of the claims, memif IPC actions. */
  once: { linkEvents: boolean; exitHook: boolean; memifActions: boolean };
}

/** Bump when a field of {@link PmdState} changes meaning or type. */
export const STATE_LAYOUT = 1;
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export const pmdState: PmdState = processSlot<PmdState>('@mp/pmd-vfio', `@mp/pmd-vfio@${VERSION}`, STATE_LAYOUT, () => ({
  drivers: new Map(),
  tables: new WeakMap(),
  open: new Map(),
  claims: new Map(),
  memifSockets: new Map(),
  memifHeld: new Map(),
  once: { linkEvents: false, exitHook: false, memifActions: false },
}));
