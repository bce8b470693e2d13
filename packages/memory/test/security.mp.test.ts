/**
 * The safe file rules of @mp/memory (files.ts) against a second local user (uid 65534, planting with
 * real `ln`/`sh` processes of that uid), and the typed errors of the low-level helpers.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mpErrorCode, useTempDir } from '@mp/test-utils';
import { ensureOwnedDir, mapFile, ofdLock, ofdTest, openOwnedFile, removeOwned, validateName } from '../src/index.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const ROOT_ONLY = '(skipped: needs root to plant as uid 65534)';

const secDir = useTempDir('sec');
function tmp(mode = 0o700): string {
  const d = secDir();
  chmodSync(d, mode);
  return d;
}
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const as = (uid: number, cmd: string, args: string[]): void => void execFileSync(cmd, args, { uid, gid: uid, stdio: 'pipe' });

describe('openOwnedFile / mapFile', () => {
  it.skipIf(!isRoot)(`a link and a file planted by uid 65534 in a sticky dir are refused with EPERM naming path and owner ${isRoot ? '' : ROOT_ONLY}`, () => {
    const sticky = tmp(0o1777);
    const victim = join(tmp(), 'victim');
    writeFileSync(victim, 'victim bytes');
    const before = sha(victim);
    as(NOBODY, 'ln', ['-s', victim, join(sticky, 'link')]);
    as(NOBODY, 'sh', ['-c', `umask 0; printf planted > ${join(sticky, 'file')}`]);
    for (const name of ['link', 'file']) {
      for (const o of [{ create: true }, {}]) {
        let err: { code?: string; message?: string } = {};
        try {
          mapFile(join(sticky, name), { size: 4096, ...o });
        } catch (e) {
          err = e as Error;
        }
        expect(err.code, `${name} ${JSON.stringify(o)}`).toBe('EPERM');
        expect(err.message).toContain(join(sticky, name));
        expect(err.message).toMatch(/uid 65534/);
      }
    }
    expect(sha(victim)).toBe(before);
    expect(readFileSync(join(sticky, 'file'), 'utf8')).toBe('planted');
  });

  it('exclusive create refuses any existing name with EEXIST (a link too), and never writes through it', () => {
    const d = tmp();
    const victim = join(d, 'victim');
    writeFileSync(victim, 'v');
    symlinkSync(victim, join(d, 'l'));
    expect(mpErrorCode(() => openOwnedFile(join(d, 'l'), { create: 'exclusive' }))).toBe('EEXIST');
    expect(mpErrorCode(() => openOwnedFile(victim, { create: 'exclusive' }))).toBe('EEXIST');
    expect(readFileSync(victim, 'utf8')).toBe('v');
  });

  it('a file of our own with group/other bits is refused; a 0600 one is opened; a new one is created 0600', () => {
    const d = tmp();
    writeFileSync(join(d, 'wide'), 'x');
    chmodSync(join(d, 'wide'), 0o640);
    expect(mpErrorCode(() => openOwnedFile(join(d, 'wide')))).toBe('EPERM');
    writeFileSync(join(d, 'ok'), 'x', { mode: 0o600 });
    expect(openOwnedFile(join(d, 'ok')).created).toBe(false);
    const m = mapFile(join(d, 'new'), { size: 4096, create: true });
    expect(m.created).toBe(true);
    expect(lstatSync(join(d, 'new')).mode & 0o777).toBe(0o600);
    m.close();
    expect(mpErrorCode(() => openOwnedFile(join(d, 'missing')))).toBe('ENOENT');
  });

  it('removeOwned leaves links and foreign kinds alone; ensureOwnedDir refuses a linked component', () => {
    const d = tmp();
    const target = join(d, 'target');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'k');
    symlinkSync(target, join(d, 'link'));
    expect(removeOwned(join(d, 'link'), 'dir').removed).toBe(false);
    expect(removeOwned(join(d, 'link'), 'file').removed).toBe(false);
    expect(existsSync(join(target, 'keep'))).toBe(true);
    expect(mpErrorCode(() => ensureOwnedDir(join(d, 'link', 'sub'), d, true))).toBe('EPERM');
    expect(existsSync(join(target, 'sub'))).toBe(false);
    expect(ensureOwnedDir(join(d, 'a', 'b'), d, true)).toEqual([join(d, 'a'), join(d, 'a', 'b')]);
    expect(lstatSync(join(d, 'a', 'b')).mode & 0o777).toBe(0o700);
  });
});

describe('typed errors of the low-level helpers (class 8)', () => {
  it('ofdLock / ofdTest throw MpError: EBADF for a closed or bad fd, EINVAL for a bad range or type', () => {
    expect(mpErrorCode(() => ofdLock(-1, 0, 1, 'w'))).toBe('EBADF');
    expect(mpErrorCode(() => ofdLock(987654, 0, 1, 'w'))).toBe('EBADF');
    expect(mpErrorCode(() => ofdTest(987654, 0, 1))).toBe('EBADF');
    const m = mapFile(join(tmp(), 'f'), { size: 4096, create: true });
    expect(mpErrorCode(() => ofdLock(m.fd, -1, 1, 'w'))).toBe('EINVAL');
    expect(mpErrorCode(() => ofdLock(m.fd, 0, 1, 'x' as 'w'))).toBe('EINVAL');
    expect(mpErrorCode(() => ofdTest(m.fd, 0, 1, 'u' as 'w'))).toBe('EINVAL');
    expect(ofdLock(m.fd, 0, 1, 'w')).toBe(true);
    m.close();
  });

  it('a name holding a lone UTF-16 surrogate is refused (it would collide with others as U+FFFD)', () => {
    for (const bad of ['a\uD800', '\uDC00b', 'x\uDBFFy']) expect(mpErrorCode(() => validateName('ring', bad, 31)), JSON.stringify(bad)).toBe('EINVAL');
    expect(validateName('ring', 'ok\uD83D\uDE00', 31)).toBe('ok\uD83D\uDE00'); // a proper pair is fine
  });
});
