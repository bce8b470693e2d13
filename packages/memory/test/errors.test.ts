import { describe, expect, it } from 'vitest';
import { MpError, isMpErrorCode } from '../src/index.js';

describe('isMpErrorCode', () => {
  it.each(['EINVAL', 'ENOENT', 'EBADF', 'EIO', 'ENOTCONN'])('accepts %s', (c) => {
    expect(isMpErrorCode(c)).toBe(true);
  });
  it.each(['EACCES', 'EAGAIN', 'einval', '', 'toString', 42, undefined, null])('refuses %s', (c) => {
    expect(isMpErrorCode(c)).toBe(false);
  });
  it('agrees with what MpError carries', () => {
    expect(isMpErrorCode(new MpError('ESTALE', 'x').code)).toBe(true);
  });
});
