import { afterEach, describe, expect, it, vi } from 'vitest';
import { chooseBacking, hugepageInfo, DEFAULT_SHM_CAP, MpError } from '../src/index.js';

afterEach(() => vi.restoreAllMocks());

describe('hugepage discovery and backing choice', () => {
  it('reads this machine’s pools and mounts', () => {
    const info = hugepageInfo();
    expect(info.defaultPageSize).toBeGreaterThan(0);
    for (const s of info.sizes) expect(s.free).toBeLessThanOrEqual(s.total);
    for (const m of info.mounts) expect(m.pageSize).toBeGreaterThan(0);
  });

  it('falls back to /dev/shm with one clear log line when no hugetlbfs is mounted', () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (lines.push(String(s)), true));
    const b = chooseBacking({}, { sizes: [{ pageSize: 2 << 20, total: 0, free: 0 }], mounts: [], defaultPageSize: 2 << 20 });
    expect(b).toEqual({ segDir: '/dev/shm', hugetlb: false, pageSize: 4096, capBytes: DEFAULT_SHM_CAP });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no hugetlbfs is mounted; using \/dev\/shm/);
  });

  it('skips mounts without enough free pages for -m', () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const info = { sizes: [{ pageSize: 2 << 20, total: 4, free: 4 }], mounts: [{ path: '/dev/shm', pageSize: 2 << 20 }], defaultPageSize: 2 << 20 };
    expect(chooseBacking({ memBytes: 64 << 20 }, info).hugetlb).toBe(false);
    expect(chooseBacking({ memBytes: 4 << 20 }, info)).toEqual({ segDir: '/dev/shm', hugetlb: true, pageSize: 2 << 20, capBytes: 4 << 20 });
  });

  it('--no-huge goes to /dev/shm silently; --huge-dir must be hugetlbfs or tmpfs', () => {
    const write = vi.spyOn(process.stderr, 'write');
    expect(chooseBacking({ noHuge: true, memBytes: 1 << 20 }).capBytes).toBe(1 << 20);
    expect(write).not.toHaveBeenCalled();
    expect(chooseBacking({ hugeDir: '/dev/shm' }).hugetlb).toBe(false);
    expect(() => chooseBacking({ hugeDir: '/proc' })).toThrow(MpError);
    expect(() => chooseBacking({ hugeDir: '/nonexistent-dir' })).toThrow(/not a writable directory/);
  });
});
