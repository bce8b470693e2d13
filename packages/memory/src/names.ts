import { MpError } from './errors.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Validate a name that becomes part of a shared object or a file path (prefix, memzone, ring, hash,
 * IPC action). Allowed: 1..maxLen bytes of UTF-8, no `/`, no NUL, no control characters, not `.` or
 * `..` and no `..` inside, and well-formed UTF-16 (a lone surrogate would be stored as U+FFFD, so two
 * different names would collide).
 *
 * @throws {MpError} EINVAL — empty, not a string, or a forbidden character
 * @throws {MpError} ENAMETOOLONG — longer than maxLen bytes
 */
export function validateName(kind: string, name: unknown, maxLen: number): string {
  if (typeof name !== 'string') throw new MpError('EINVAL', `${kind} name must be a string, got ${typeof name}`);
  if (name.length === 0) throw new MpError('EINVAL', `${kind} name is empty`);
  if (LONE_SURROGATE.test(name)) {
    throw new MpError('EINVAL', `${kind} name ${JSON.stringify(name)} holds a lone UTF-16 surrogate (not encodable as UTF-8; it would collide with other names)`);
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > maxLen) {
    throw new MpError('ENAMETOOLONG', `${kind} name '${name.slice(0, 40)}…' is ${bytes} bytes (at most ${maxLen})`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f/\\]/.test(name) || name.includes('..') || name === '.') {
    throw new MpError(
      'EINVAL',
      `${kind} name ${JSON.stringify(name)} has a forbidden character or sequence (no '/', '\\\\', '..', NUL or control characters)`,
    );
  }
  return name;
}
