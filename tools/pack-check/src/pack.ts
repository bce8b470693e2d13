/**
 * Pack every published @mp package (`pnpm pack`, as a release does: workspace ranges rewritten, prepack
 * run) and unpack each tarball, so tests look at exactly what a consumer downloads.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** One packed package. */
export interface Packed {
  /** e.g. `@mp/ring` */
  name: string;
  /** The package's directory in the workspace. */
  dir: string;
  /** The .tgz file. */
  tarball: string;
  /** Where the tarball was unpacked (its `package/` directory). */
  unpacked: string;
  /** The packed (rewritten) package.json. */
  manifest: Record<string, unknown>;
}

/** Every non-private package under packages/, by directory. */
export function publishedDirs(): string[] {
  const base = join(ROOT, 'packages');
  return readdirSync(base)
    .map((d) => join(base, d))
    .filter((dir) => {
      try {
        const m = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { private?: boolean };
        return m.private !== true;
      } catch {
        return false;
      }
    })
    .sort();
}

/** Pack one package directory into `dest` and unpack it; throws with pnpm's output when the pack fails. */
export async function pack(dir: string, dest: string): Promise<Packed> {
  const out = mkdtempSync(join(dest, 'pack-'));
  await run('pnpm', ['pack', '--pack-destination', out], { cwd: dir, maxBuffer: 64 << 20 });
  const file = readdirSync(out).find((f) => f.endsWith('.tgz'));
  if (!file) throw new Error(`pnpm pack in ${dir} wrote no tarball to ${out}`);
  const tarball = join(out, file);
  const unpackTo = join(out, 'unpacked');
  mkdirSync(unpackTo);
  await run('tar', ['-xzf', tarball, '-C', unpackTo]);
  const unpacked = join(unpackTo, 'package');
  const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as Record<string, unknown>;
  return { name: String(manifest.name), dir, tarball, unpacked, manifest };
}

const packDirs: string[] = [];

/** A fresh temp directory for tarballs, removed by {@link removePackDirs}. */
export function packDir(tag = 'pack-check'): string {
  const dest = mkdtempSync(join(tmpdir(), `mp-${tag}-`));
  packDirs.push(dest);
  return dest;
}

/** Delete every {@link packDir} of this process (each test file calls it after its tests). */
export function removePackDirs(): void {
  for (const d of packDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Pack every published package (in parallel) into a fresh temp directory. */
export async function packAll(): Promise<Packed[]> {
  const dest = packDir();
  return Promise.all(publishedDirs().map((dir) => pack(dir, dest)));
}
