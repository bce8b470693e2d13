/**
 * The one error class of @mp. Every package throws it (and re-exports it from here).
 *
 * `code` is an errno name, as DPDK's `rte_errno`: `EINVAL ENOENT EEXIST ENOSPC ENOMEM ENAMETOOLONG
 * E2BIG ENOTSUP ETIMEDOUT EBUSY EPROTO EPERM ESTALE ENODEV ENOTCONN EBADF EIO`. `EBADF`: a handle used after
 * it was freed or closed.
 */
export type MpErrorCode =
  | 'EINVAL'
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOSPC'
  | 'ENOMEM'
  | 'ENAMETOOLONG'
  | 'E2BIG'
  | 'ENOTSUP'
  | 'ETIMEDOUT'
  | 'EBUSY'
  | 'EPROTO'
  | 'EPERM'
  | 'ESTALE'
  | 'ENODEV'
  | 'ENOTCONN'
  | 'EBADF'
  | 'EIO';

export interface MpErrorOptions {
  /** The system call that failed, when one did. */
  syscall?: string;
  /** The underlying error (a native errno error, an fs error). */
  cause?: unknown;
}

export class MpError extends Error {
  override readonly name = 'MpError';
  readonly code: MpErrorCode;
  readonly syscall?: string;

  constructor(code: MpErrorCode, message: string, options: MpErrorOptions = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.syscall !== undefined) this.syscall = options.syscall;
  }
}

const KNOWN = new Set<string>([
  'EINVAL', 'ENOENT', 'EEXIST', 'ENOSPC', 'ENOMEM', 'ENAMETOOLONG', 'E2BIG', 'ENOTSUP', 'ETIMEDOUT',
  'EBUSY', 'EPROTO', 'EPERM', 'ESTALE', 'ENODEV', 'ENOTCONN', 'EBADF', 'EIO',
]);

/** Is `code` one of @mp's error codes ({@link MpErrorCode})? (A remote or native error's code, before it is trusted as one.) */
export function isMpErrorCode(code: unknown): code is MpErrorCode {
  return typeof code === 'string' && KNOWN.has(code);
}

/** Map a system error (from fs or the native binding) to an MpError, keeping it as `cause`. */
export function fromSystemError(err: unknown, what: string): MpError {
  const e = err as { code?: string; syscall?: string; message?: string };
  let code: MpErrorCode = 'EIO';
  if (typeof e?.code === 'string') {
    if (KNOWN.has(e.code)) code = e.code as MpErrorCode;
    else if (e.code === 'EACCES') code = 'EPERM';
    else if (e.code === 'EOPNOTSUPP') code = 'ENOTSUP';
    else if (e.code === 'EDQUOT' || e.code === 'EFBIG') code = 'ENOSPC';
  }
  const opts: MpErrorOptions = { cause: err };
  if (e?.syscall !== undefined) opts.syscall = e.syscall;
  return new MpError(code, `${what}: ${e?.message ?? String(err)}`, opts);
}
