import { describe, expect, it } from 'vitest';
import { MpError, init, parseArgs, parseLcores, validateOptions } from '../src/index.js';
import { mpErrorCode } from '@mp/test-utils';
import { FILE_PREFIX_MAX } from '@mp/memory';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const code = mpErrorCode;

describe('parseArgs', () => {
  it.each([
    [['--proc-type=secondary'], { procType: 'secondary' }, 1],
    [['--proc-type', 'auto', '--file-prefix', 'x'], { procType: 'auto', filePrefix: 'x' }, 4],
    [['-m', '512', '--no-huge'], { memoryMb: 512, noHuge: true }, 3],
    [['-m512'], { memoryMb: 512 }, 1],
    [['--socket-mem=256,0'], { socketMem: [256, 0] }, 1],
    [['-l', '0-2,5'], { lcores: [0, 1, 2, 5] }, 2],
    [['-l1'], { lcores: [1] }, 1],
    [['--lcores=(0-1)@2,3@4'], { lcores: [0, 1, 3] }, 1],
    [['--huge-dir', '/mnt/h', '--single-file-segments', '--legacy-mem'], { hugeDir: '/mnt/h', singleFileSegments: true, legacyMem: true }, 4],
    [['--log-level=debug'], { logLevel: 'debug' }, 1],
    [['--log-level', 'lib.eal:8'], { logLevel: 8 }, 2],
    [['--log-level=lib.eal:debug', '--log-level=lib.ring:info'], { logLevel: 'info' }, 2], // one per component, as DPDK
    [['--runtime-dir=/tmp/r', '--', 'app', '-x'], { runtimeDir: '/tmp/r' }, 2],
    [['--no-huge', 'app-arg', '--file-prefix=late'], { noHuge: true }, 1],
  ])('%j', (argv, options, consumed) => {
    expect(parseArgs(argv)).toEqual({ options, consumed });
  });

  it.each([
    [['--bogus'], /unknown EAL option '--bogus'/],
    [['--proc-type=ERROR'], /use primary, secondary or auto/],
    [['-m'], /needs a value/],
    [['-m', 'lots'], /not a positive number/],
    [['-m', '0'], /not a positive number/],
    [['--no-huge=1'], /takes no value/],
    [['-l', '3-1'], /backwards/],
    [['-l', '128'], /RTE_MAX_LCORE/],
    [['-l', 'a'], /not a number/],
    [['--lcores', '(0-1@2'], /unbalanced/],
    [['--log-level', 'loud'], /--log-level/],
    [['--proc-type=primary', '--proc-type=secondary'], /--proc-type given twice \('--proc-type=primary' and '--proc-type=secondary'\)/],
    [['--file-prefix', 'a', '--file-prefix=b'], /--file-prefix given twice \('--file-prefix a' and '--file-prefix=b'\)/],
    [['-m', '64', '-m128'], /-m given twice/],
    [['-l', '0', '--lcores=1'], /--lcores given twice \('-l 0' and '--lcores=1'\)/],
    [['--runtime-dir=/a', '--runtime-dir=/a'], /given twice/],
  ])('refuses %j with EINVAL', (argv, msg) => {
    try {
      parseArgs(argv);
      expect.unreachable();
    } catch (err) {
      expect((err as MpError).code).toBe('EINVAL');
      expect((err as MpError).message).toMatch(msg);
    }
  });
});

describe('validateOptions', () => {
  it.each([
    ['', 'EINVAL'],
    ['../x', 'EINVAL'],
    ['a/b', 'EINVAL'],
    ['..', 'EINVAL'],
    ['nul\0byte', 'EINVAL'],
    ['x'.repeat(64), 'ENAMETOOLONG'],
    ['é'.repeat(32), 'ENAMETOOLONG'],
  ])('file prefix %j → %s', (filePrefix, expected) => {
    expect(code(() => validateOptions({ filePrefix }))).toBe(expected);
  });

  it('accepts a prefix of FILE_PREFIX_MAX (63) bytes, the most the region header holds, and defaults to primary/mp', () => {
    expect(FILE_PREFIX_MAX).toBe(63);
    expect(validateOptions({ filePrefix: 'p'.repeat(FILE_PREFIX_MAX) }).procType).toBe('primary');
    expect(() => validateOptions({ filePrefix: 'q'.repeat(FILE_PREFIX_MAX + 1) })).toThrow(/file prefix name 'q+…' is 64 bytes \(at most 63\)/);
    expect(validateOptions({}).filePrefix).toBe('mp');
  });

  it('refuses -m with --socket-mem, --no-huge with --huge-dir, and --in-memory', () => {
    expect(code(() => validateOptions({ memoryMb: 1, socketMem: [1] }))).toBe('EINVAL');
    expect(code(() => validateOptions({ noHuge: true, hugeDir: '/x' }))).toBe('EINVAL');
    expect(code(() => validateOptions({ runtimeDir: 'relative/dir' }))).toBe('EINVAL');
    expect(code(() => validateOptions({ hugeDir: './huge' }))).toBe('EINVAL');
    expect(code(() => validateOptions({ filePrefix: 'a\uD800' }))).toBe('EINVAL');
    expect(code(() => validateOptions({ inMemory: true }))).toBe('ENOTSUP');
    expect(code(() => validateOptions({ lcores: [200] }))).toBe('EINVAL');
    expect(code(() => validateOptions({ procType: 'other' as 'auto' }))).toBe('EINVAL');
  });

  it('init refuses bad input before touching the file system', () => {
    expect(code(() => init(['--file-prefix=../escape', '--no-huge']))).toBe('EINVAL');
    expect(code(() => init(['--unknown-flag']))).toBe('EINVAL');
  });

  it('init refuses a 64-byte prefix up front, naming it, and leaves no runtime dir behind', () => {
    const prefix = `t${process.pid}`.padEnd(FILE_PREFIX_MAX + 1, 'x');
    const dir = mkdtempSync(join(tmpdir(), 'mp-args-'));
    try {
      expect(() => init([`--file-prefix=${prefix}`, '--no-huge', `--runtime-dir=${dir}`])).toThrow(/file prefix name 't\d+x+…' is 64 bytes/);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseLcores', () => {
  it('merges and sorts groups', () => {
    expect(parseLcores('5,(1-2)@0,1')).toEqual([1, 2, 5]);
  });
});

describe('--telemetry / --no-telemetry', () => {
  it('--no-telemetry turns the socket off, --telemetry is accepted, both together are refused', () => {
    expect(parseArgs(['--no-telemetry']).options.telemetry).toBe(false);
    expect(parseArgs(['--telemetry']).options.telemetry).toBe(true);
    expect(parseArgs([]).options.telemetry).toBeUndefined();
    expect(() => parseArgs(['--telemetry', '--no-telemetry'])).toThrow(/cannot be used together/);
    expect(() => parseArgs(['--no-telemetry=1'])).toThrow(/takes no value/);
  });
});
