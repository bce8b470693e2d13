/**
 * Validation of option values (start(), new Channel(), request(), requestSync()): a value that is not
 * meaningful — NaN, ±Infinity where no wait-forever exists, negative, out of range, wrong type — is
 * refused with EINVAL naming the option and what is allowed, never silently turned into a default.
 */
import { MpError } from '@mp/memory';

/** The longest timer Node can arm (setTimeout fires at once beyond it): 2^31 - 1 ms. */
export const MAX_TIMER_MS = 0x7fffffff;

/**
 * The options argument of `fn` is an object (or undefined, already defaulted to {}).
 *
 * @throws {MpError} EINVAL — null, or not an object
 */
export function checkOptions(fn: string, o: unknown): void {
  if (typeof o !== 'object' || o === null) throw new MpError('EINVAL', `${fn}: options must be an object, got ${o === null ? 'null' : typeof o}`);
}

/**
 * A number option in min..max, or `dflt` when undefined. `infinity`: Infinity is allowed too (no limit).
 *
 * @throws {MpError} EINVAL — not a number, NaN, out of range
 */
export function numberOption(name: string, v: unknown, dflt: number, min: number, max: number, unit: string, infinity = false): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && ((v >= min && v <= max) || (infinity && v === Infinity))) return v;
  const allowed = `a number of ${unit} in ${min}..${max}${infinity ? ', or Infinity' : ''}`;
  throw new MpError('EINVAL', `${name} must be ${allowed}, got ${typeof v === 'number' ? String(v) : typeof v}`);
}

/**
 * A boolean option, or `dflt` when undefined.
 *
 * @throws {MpError} EINVAL — not a boolean
 */
export function booleanOption(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  throw new MpError('EINVAL', `${name} must be true or false, got ${typeof v === 'object' ? String(v) : typeof v}`);
}

/**
 * A request's timeoutMs (default 5000): 0..2^31-1 ms, or Infinity (wait until the replies come or the
 * peers die).
 *
 * @throws {MpError} EINVAL — anything else
 */
export function timeoutOption(v: unknown): number {
  return numberOption('timeoutMs', v, 5000, 0, MAX_TIMER_MS, 'ms', true);
}
