/**
 * @mp/ipc's errors: the remote-handler error class, the errno values the binding returns (negative,
 * from `os.constants.errno`) and how a failed send or bind reads as an MpError.
 */
import { constants } from 'node:os';
import { MpError, isMpErrorCode } from '@mp/memory';

const E = constants.errno;
/** The binding's send/probe/recv results: 0 or one of these (negated errno, as the kernel's). */
export const EAGAIN = -E.EAGAIN;
export const ECONNREFUSED = -E.ECONNREFUSED;
export const ENOENT = -E.ENOENT;
export const EACCES = -E.EACCES;
export const EPERM = -E.EPERM;
export const EBADF = -E.EBADF;

/** `errno N` → its name, for messages (`ECONNREFUSED`, not `-111`). */
export function errnoName(r: number): string {
  for (const [name, v] of Object.entries(E)) if (v === -r) return name;
  return `errno ${-r}`;
}

/** A send that failed with `r` (-errno) as the MpError its caller throws. */
export function sendError(r: number, name: string, path: string): MpError {
  if (r === ECONNREFUSED || r === ENOENT) return new MpError('ENOENT', `cannot send '${name}': no process at ${path} (gone)`);
  if (r === EAGAIN) return new MpError('EBUSY', `cannot send '${name}' to ${path}: its queue stayed full`);
  if (r === EACCES || r === EPERM) return new MpError('EPERM', `cannot send '${name}' to ${path}: permission denied`);
  if (r === EBADF) return new MpError('EINVAL', `cannot send '${name}' to ${path}: a descriptor in msg.fds is not open`);
  return new MpError('EIO', `cannot send '${name}' to ${path}: ${errnoName(r)}`);
}

/** A thrown system error (bind, flock) as an MpError naming `what`, the original as its cause. */
export function sysError(err: unknown, what: string): MpError {
  if (err instanceof MpError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code === 'ENOENT' ? 'ENOENT' : e.code === 'EACCES' || e.code === 'EPERM' ? 'EPERM' : e.code === 'ENAMETOOLONG' ? 'ENAMETOOLONG' : 'EIO';
  return new MpError(code, `${what}: ${e.message ?? String(err)}`, { cause: err });
}

/**
 * A request's handler in another process threw or rejected (or no handler was registered: `ENOENT`).
 * `code` is the remote error's code when it is one of @mp's codes, else `EIO`; `remoteCode` and
 * `remoteMessage` are what the remote side sent.
 */
export class MpIpcRemoteError extends MpError {
  /** The action that failed. */
  readonly action: string;
  /** Pid of the process that answered with the error (-1 when unknown). */
  readonly peerPid: number;
  readonly remoteCode: string;
  readonly remoteMessage: string;

  constructor(action: string, peerPid: number, remoteCode: string, remoteMessage: string) {
    const code = isMpErrorCode(remoteCode) ? remoteCode : 'EIO';
    super(code, `action '${action}' failed in pid ${peerPid}: ${remoteCode && remoteCode !== code ? `${remoteCode}: ` : ''}${remoteMessage}`);
    Object.defineProperty(this, 'name', { value: 'MpIpcRemoteError' });
    this.action = action;
    this.peerPid = peerPid;
    this.remoteCode = remoteCode;
    this.remoteMessage = remoteMessage;
  }
}
