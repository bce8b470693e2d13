/**
 * The native bulk lookup (native/hash.cc): placeholder until the addon lands; the TypeScript path serves.
 */
import type { TableView } from './view.js';

/** A table's native bulk lookup. */
export interface NativeBulk {
  lookup(keys: Uint8Array, sigs: Uint32Array | undefined, positions: Int32Array, data: Float64Array | undefined): number;
}

export function nativeBulk(_t: TableView): NativeBulk | undefined {
  return undefined;
}
