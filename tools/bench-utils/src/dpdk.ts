/**
 * The DPDK C references of the benches (ring, hash, mempool): one C file each under `bench/dpdk/`,
 * compiled here against the installed libdpdk (Debian's `libdpdk-dev`, found by pkg-config), never
 * committed as a binary. Where it cannot be built, the reason is returned so the bench prints it.
 */
import { execFileSync } from 'node:child_process';
import { basename, join } from 'node:path';

export interface DpdkBuild {
  /** The compiled program (in the given dir). */
  bin?: string;
  /** libdpdk's version (pkg-config --modversion). */
  version?: string;
  /** Why there is no program. */
  skipped?: string;
}

/**
 * Compile `source` with `gcc -O3 -Wall -Wextra $(pkg-config --cflags libdpdk) … $(pkg-config --libs libdpdk)`
 * into `dir`. `needRoot`: the reason this reference needs root (checked before building), if it does.
 */
export function buildDpdkC(source: string, dir: string, opts: { needRoot?: string } = {}): DpdkBuild {
  let version: string;
  try {
    version = execFileSync('pkg-config', ['--modversion', 'libdpdk'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  } catch {
    return { skipped: 'libdpdk not found by pkg-config (install libdpdk-dev)' };
  }
  if (opts.needRoot !== undefined && process.getuid?.() !== 0) return { skipped: `not root: ${opts.needRoot}`, version };
  const bin = join(dir, basename(source).replace(/\.c$/, ''));
  try {
    const flags = (what: string): string[] => execFileSync('pkg-config', [what, 'libdpdk']).toString().trim().split(/\s+/).filter(Boolean);
    execFileSync('gcc', ['-O3', '-Wall', '-Wextra', ...flags('--cflags'), source, '-o', bin, ...flags('--libs')], { stdio: 'pipe' });
  } catch (err) {
    return { skipped: `building ${basename(source)} failed: ${(err as Error).message.slice(0, 300)}`, version };
  }
  return { bin, version };
}
