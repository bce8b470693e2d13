import { MpError } from '@mp/memory';
import type { MpErrorCode } from '@mp/memory';

const KNOWN = new Set<string>([
  'EINVAL', 'ENOENT', 'EEXIST', 'ENOSPC', 'ENOMEM', 'ENAMETOOLONG', 'E2BIG', 'ENOTSUP', 'ETIMEDOUT',
  'EBUSY', 'EPROTO', 'EPERM', 'ESTALE', 'ENODEV', 'ENOTCONN', 'EIO',
]);

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
    const code = (KNOWN.has(remoteCode) ? remoteCode : 'EIO') as MpErrorCode;
    super(code, `action '${action}' failed in pid ${peerPid}: ${remoteCode && remoteCode !== code ? `${remoteCode}: ` : ''}${remoteMessage}`);
    Object.defineProperty(this, 'name', { value: 'MpIpcRemoteError' });
    this.action = action;
    this.peerPid = peerPid;
    this.remoteCode = remoteCode;
    this.remoteMessage = remoteMessage;
  }
}
