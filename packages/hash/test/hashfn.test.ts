import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, jhash, MpError } from '../src/index.js';

interface Vector {
  key: string;
  initVal: number;
  crc32c: number;
  jhash: number;
}
// Produced by test/vectors/gen.c against Debian's libdpdk-dev (see the header of gen.c).
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'vectors/vectors.json'), 'utf8')) as { dpdk: string; vectors: Vector[] };

describe(`hash functions against ${fixture.dpdk}`, () => {
  it('has vectors for every key length 0…72 and several seeds', () => {
    const lens = new Set(fixture.vectors.map((v) => v.key.length / 2));
    expect(lens.size).toBe(73);
    expect(fixture.vectors.length).toBeGreaterThanOrEqual(700);
  });

  it('crc32c is bit-identical to rte_hash_crc', () => {
    const bad = fixture.vectors.filter((v) => crc32c(new Uint8Array(Buffer.from(v.key, 'hex')), v.initVal) !== v.crc32c);
    expect(bad).toEqual([]);
  });

  it('jhash is bit-identical to rte_jhash', () => {
    const bad = fixture.vectors.filter((v) => jhash(new Uint8Array(Buffer.from(v.key, 'hex')), v.initVal) !== v.jhash);
    expect(bad).toEqual([]);
  });

  const dpdk = spawnSync('pkg-config', ['--cflags', '--libs', 'libdpdk'], { encoding: 'utf8' });
  it.skipIf(dpdk.status !== 0)('the committed fixture is what gen.c prints against the installed libdpdk (skipped without libdpdk-dev)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-hash-gen-'));
    try {
      const flags = dpdk.stdout.trim().split(/\s+/);
      const exe = join(dir, 'gen');
      const cflags = flags.filter((f) => !f.startsWith('-l') && !f.startsWith('-Wl'));
      const libs = flags.filter((f) => f.startsWith('-l') || f.startsWith('-Wl'));
      execFileSync('gcc', ['-O2', ...cflags, join(import.meta.dirname, 'vectors/gen.c'), ...libs, '-o', exe], { stdio: 'pipe' });
      const fresh = JSON.parse(execFileSync(exe, { encoding: 'utf8', maxBuffer: 1 << 24 })) as typeof fixture;
      expect(fresh.vectors).toEqual(fixture.vectors);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not depend on the key view offset', () => {
    const buf = new Uint8Array(64).map((_, i) => i * 7 + 1);
    for (let off = 0; off < 4; off++) {
      const a = buf.subarray(off, off + 21);
      const b = a.slice();
      expect(crc32c(a, 5)).toBe(crc32c(b, 5));
      expect(jhash(a, 5)).toBe(jhash(b, 5));
    }
  });

  it('rejects a non-Uint8Array key or a bad seed with EINVAL', () => {
    expect(() => crc32c('abc' as unknown as Uint8Array)).toThrow(MpError);
    expect(() => jhash(new Uint8Array(4), 2 ** 33)).toThrow(/EINVAL/);
  });
});
