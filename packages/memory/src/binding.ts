import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MpError } from './errors.js';

/** Opaque handle of a whole-segment mapping (a napi External). */
export type SegmentHandle = { readonly __segment: unique symbol };

/** What the native addon (native/memory.cc) exports. Every argument is validated before it gets here. */
export interface MemoryBinding {
  map(fd: number, fileOffset: number, mapLength: number, viewDelta: number, viewLength: number): ArrayBuffer;
  /** Map a whole segment file; the handle keeps the mapping alive (as does every view of it). */
  mapSegment(fd: number, length: number): SegmentHandle;
  /** An ArrayBuffer over part of a mapped segment: no system call. */
  view(segment: SegmentHandle, offset: number, length: number): ArrayBuffer;
  fallocate(fd: number, offset: number, length: number): void;
  /** 0 woken, 1 timed out, 2 the word did not hold `expected`. timeoutMs < 0 waits forever. */
  futexWait(buf: ArrayBuffer | ArrayBufferView, byteOffset: number, expected: number, timeoutMs: number): 0 | 1 | 2;
  futexWaitAsync(
    buf: ArrayBuffer | ArrayBufferView,
    byteOffset: number,
    expected: number,
    timeoutMs: number,
  ): Promise<0 | 1 | 2>;
  futexWake(buf: ArrayBuffer | ArrayBufferView, byteOffset: number, count: number): number;
  ofdLock(fd: number, start: number, len: number, type: 'r' | 'w' | 'u', wait: boolean): boolean;
  ofdTest(fd: number, start: number, len: number, type: 'r' | 'w'): boolean;
  pidWatch(pid: number, onExit: () => void, ref?: boolean): { close(): void };
  readonly pageSize: number;
}

/** The package root: one level above src/ (tests) or dist/ (built code). */
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function load(): MemoryBinding {
  const req = createRequire(import.meta.url);
  // Fast path: the two places node-gyp-build would find our addon, in its order (a local build first,
  // then the shipped prebuild). Loading node-gyp-build itself and scanning directories costs a few ms
  // of every process start; it stays the fallback for anything else (other libc or runtime tags).
  const local = join(packageRoot, 'build', 'Release', 'mp_memory.node');
  const shipped = join(packageRoot, 'prebuilds', `linux-${process.arch}`, '@mp+memory.node');
  for (const file of process.env.PREBUILDS_ONLY ? [shipped] : [local, shipped]) {
    try {
      return req(file) as MemoryBinding;
    } catch (err) {
      if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  try {
    const nodeGypBuild = req('node-gyp-build') as (dir: string) => unknown;
    return nodeGypBuild(packageRoot) as MemoryBinding;
  } catch (err) {
    throw new MpError(
      'ENOTSUP',
      `cannot load the @mp/memory native addon: looked in ${join(packageRoot, 'build/Release')} and ` +
        `${join(packageRoot, 'prebuilds', `linux-${process.arch}`)}; build it with 'pnpm --filter @mp/memory build:native' ` +
        `(needs python3, make and a C++17 compiler) or install a release that ships a prebuild`,
      { cause: err },
    );
  }
}

/** The loaded addon (loaded once per module instance, that is once per thread). */
export const binding: MemoryBinding = load();
