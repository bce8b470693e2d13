import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEMZONE_1GB, MEMZONE_2MB, MEMZONE_SIZE_HINT_ONLY, MpError, RobustLock, mapFile, memzone, validateName } from '../src/index.js';
import { GroupMemory, attachMemory, detachMemory, memRegionSize } from '../src/internal.js';
import type { FormatOptions, MappedFile } from '../src/index.js';

const REGION_OFF = 4096;
let dir: string;
let cfg: MappedFile;
let mem: GroupMemory;
let n = 0;

function expectCode(fn: () => unknown, code: string, msg?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MpError);
    expect((err as MpError).code).toBe(code);
    if (msg) expect((err as MpError).message).toMatch(msg);
    return;
  }
  expect.unreachable(`expected ${code}`);
}

function group(o: Partial<FormatOptions> = {}): GroupMemory {
  const prefix = `u${process.pid}_${n++}`;
  cfg = mapFile(join(dir, 'config'), { size: REGION_OFF + memRegionSize(o.maxMemzones, o.maxSegments), create: true });
  const lock = new RobustLock(cfg.fd, new Int32Array(cfg.buffer), 0);
  mem = GroupMemory.format({ fd: cfg.fd, buffer: cfg.buffer, offset: REGION_OFF }, lock, {
    prefix,
    segDir: dir,
    hugetlb: false,
    pageSize: 4096,
    capBytes: 256 << 20,
    singleFileSegments: false,
    legacyMem: false,
    ...o,
  });
  attachMemory(mem);
  return mem;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mp-mem-'));
});
afterEach(() => {
  detachMemory();
  mem?.removeFiles();
  cfg?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('memzone, one process', () => {
  it('throws ENOTCONN before a group is attached', () => {
    detachMemory();
    expectCode(() => memzone.reserve('x', 64), 'ENOTCONN', /call init\(\) from @mp\/eal first/);
    expectCode(() => memzone.lookup('x'), 'ENOTCONN');
    expectCode(() => memzone.find('x'), 'ENOTCONN');
  });

  it('reserve → lookup → write through one mapping, read through another', () => {
    group();
    const a = memzone.reserve('zone-a', 10_000);
    expect(a.len).toBe(10_000);
    expect(a.buffer.byteLength).toBe(10_000);
    new Uint8Array(a.buffer).set([1, 2, 3], 9_997);
    const b = memzone.lookup('zone-a')!;
    expect(b).toBe(a); // cached mapping, validated against the table
    expect(memzone.find('nope')).toBeUndefined();
    expectCode(() => memzone.lookup('nope'), 'ENOENT');
    const c = memzone.reserve('zone-c', 100);
    expect(c.offset % 64).toBe(0);
    expect(c.offset).toBeGreaterThanOrEqual(a.offset + a.len);
  });

  it('honours align and reuses freed space', () => {
    group();
    memzone.reserve('small', 10);
    const big = memzone.reserve('aligned', 4096, { align: 1 << 16 });
    expect(big.offset % (1 << 16)).toBe(0);
    memzone.free('small');
    expect(memzone.find('small')).toBeUndefined();
    const again = memzone.reserve('small2', 10);
    expect(again.offset).toBe(0);
    expect(memzone.list().map((z) => z.name).sort()).toEqual(['aligned', 'small2']);
    expect(memzone.dump()).toMatch(/2 in use/);
  });

  it('a freed and re-reserved name maps the new bytes', () => {
    group();
    const first = memzone.reserve('re', 4096);
    new Uint32Array(first.buffer)[0] = 111;
    memzone.free('re');
    memzone.reserve('filler', 8192);
    const second = memzone.reserve('re', 4096);
    expect(second).not.toBe(first);
    expect(memzone.lookup('re')).toBe(second);
    expect(second.offset).not.toBe(first.offset);
  });

  it.each([
    ['', 'EINVAL'],
    ['a/b', 'EINVAL'],
    ['..', 'EINVAL'],
    ['x'.repeat(32), 'ENAMETOOLONG'],
  ])('name %j → %s', (name, code) => {
    group();
    expectCode(() => memzone.reserve(name, 64), code);
  });

  it('non-ASCII names round-trip (UTF-8 bytes count toward the 31)', () => {
    group();
    memzone.reserve('zoné-ü', 64);
    expect(memzone.lookup('zoné-ü')?.name).toBe('zoné-ü');
    expect(memzone.list().map((z) => z.name)).toEqual(['zoné-ü']);
    expectCode(() => memzone.reserve('é'.repeat(16), 64), 'ENAMETOOLONG');
  });

  it('accepts a 31-byte name; refuses duplicates with EEXIST and missing frees with ENOENT', () => {
    group();
    memzone.reserve('x'.repeat(31), 64);
    expectCode(() => memzone.reserve('x'.repeat(31), 64), 'EEXIST', /exists/);
    expectCode(() => memzone.free('never'), 'ENOENT');
  });

  it('refuses bad length, align, socket and flags with EINVAL', () => {
    group();
    expectCode(() => memzone.reserve('l', -1), 'EINVAL');
    expectCode(() => memzone.reserve('l', 1.5), 'EINVAL');
    expectCode(() => memzone.reserve('l', 64, { align: 48 }), 'EINVAL', /power of two/);
    expectCode(() => memzone.reserve('l', 64, { socket: 3 }), 'EINVAL', /socket 3/);
    expectCode(() => memzone.reserve('l', 64, { flags: 0x8 }), 'EINVAL', /unknown memzone flags/);
    expect(memzone.list()).toEqual([]);
  });

  it('page-size flags: refused on 4 KiB memory unless SIZE_HINT_ONLY', () => {
    group();
    expectCode(() => memzone.reserve('p', 64, { flags: MEMZONE_2MB | MEMZONE_1GB }), 'ENOMEM', /2048 KiB\/1048576 KiB pages/);
    expect(memzone.reserve('p', 64, { flags: MEMZONE_2MB | MEMZONE_SIZE_HINT_ONLY }).flags).toBe(MEMZONE_2MB | MEMZONE_SIZE_HINT_ONLY);
  });

  it('ENOSPC when the memzone table is full, and nothing is lost', () => {
    group({ maxMemzones: 4 });
    for (let i = 0; i < 4; i++) memzone.reserve(`z${i}`, 64);
    expectCode(() => memzone.reserve('z4', 64), 'ENOSPC', /4 in use/);
    expect(memzone.list()).toHaveLength(4);
    memzone.free('z2');
    memzone.reserve('z4', 64);
  });

  it('ENOMEM past the -m cap; segments are created on demand up to it', () => {
    group({ capBytes: 96 << 20 });
    const a = memzone.reserve('a', 60 << 20);
    const b = memzone.reserve('b', 30 << 20);
    expect(b.segment).not.toBe(a.segment);
    expectCode(() => memzone.reserve('c', 8 << 20), 'ENOMEM', /raise -m/);
    expect(readdirSync(dir).filter((f) => f.includes('map_')).length).toBe(2);
  });

  it('len 0 reserves the biggest free block', () => {
    group({ capBytes: 8 << 20, singleFileSegments: true });
    memzone.reserve('head', 1 << 20);
    const rest = memzone.reserve('rest', 0);
    expect(rest.len).toBe(7 << 20);
    expectCode(() => memzone.reserve('more', 64), 'ENOMEM');
  });

  it('--single-file-segments keeps one file of the cap size; --legacy-mem preallocates it', () => {
    group({ capBytes: 4 << 20, singleFileSegments: true });
    const files = readdirSync(dir).filter((f) => f.includes('map_'));
    expect(files).toHaveLength(1);
    expect(statSync(join(dir, files[0]!)).size).toBe(4 << 20);
    expect(statSync(join(dir, files[0]!)).blocks).toBe(0);
    detachMemory();
    mem.removeFiles();
    cfg.close();
    group({ capBytes: 4 << 20, legacyMem: true });
    const f2 = readdirSync(dir).filter((f) => f.includes('map_'));
    expect(statSync(join(dir, f2[0]!)).blocks * 512).toBeGreaterThanOrEqual(4 << 20);
  });

  it('validateName is shared by every package', () => {
    expect(validateName('ring', 'ok-name', 31)).toBe('ok-name');
    expectCode(() => validateName('ring', 42, 31), 'EINVAL');
  });
});

describe('GroupMemory.open', () => {
  it('refuses a region with another magic or version (EPROTO)', () => {
    group();
    const lock = new RobustLock(cfg.fd, new Int32Array(cfg.buffer), 0);
    expectCode(() => GroupMemory.open({ fd: cfg.fd, buffer: cfg.buffer, offset: 0 }, lock), 'EPROTO', /magic/);
    new Uint16Array(cfg.buffer)[(REGION_OFF + 4) / 2] = 7;
    expectCode(() => GroupMemory.open({ fd: cfg.fd, buffer: cfg.buffer, offset: REGION_OFF }, lock), 'EPROTO', /version 7/);
  });
});
