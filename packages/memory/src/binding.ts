import { loadAddon } from './addon.js';

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
  /** Bound, chmod'ed, listening, non-blocking SEQPACKET socket. Throws with .code (EADDRINUSE, …). */
  seqpacketListen(path: string, mode: number, backlog: number): number;
  /** fd, or -errno (ENOENT, ECONNREFUSED, EACCES, EAGAIN, ENAMETOOLONG). */
  seqpacketConnect(path: string): number;
  /** [fd, peer uid, peer pid], or -errno (EAGAIN: none pending). */
  seqpacketAccept(fd: number): [number, number, number] | number;
  /** Bytes of one message, 0 at end of stream, or -errno (EAGAIN). */
  seqpacketRecv(fd: number, buf: Uint8Array): number;
  /** Bytes sent, or -errno (EAGAIN, EPIPE, ECONNRESET). */
  seqpacketSend(fd: number, data: Uint8Array): number;
  /** Call back on every readable event of fd until close(); the watch owns (and closes) fd. */
  fdWatch(fd: number, onReadable: () => void, ref?: boolean): { close(): void; pause(): void; resume(): void };
  /** Call back every `ms` ms (a timerfd under the poll watch) until close(). */
  intervalWatch(ms: number, onTick: () => void, ref?: boolean): { close(): void };
  /** 64-bit FNV-1a over 64-bit words, as 16 hex digits: the code cache's integrity check (code-cache.ts). */
  checksum(bytes: Uint8Array): string;
  /**
   * Read `bundle` and, after the safe file checks of the directories from `from` down to `dir` and of
   * `file`, the code cache `file` for it (native/code_cache.h): [source, its checksum, state, why, the V8
   * data when state is `hit`]; undefined when the bundle cannot be read.
   */
  readCached(bundle: string, from: string, dir: string, file: string, node: string): [source: string, sourceSum: string, state: 'hit' | 'miss' | 'stale' | 'corrupt' | 'refused', why: string, data: Buffer | undefined] | undefined;
  /** The symbolic name of errno `n` ("EMFILE"), undefined when unknown. */
  errnoName(n: number): string | undefined;
  readonly pageSize: number;
}

/** The loaded addon (loaded once per module instance, that is once per thread). */
export const binding: MemoryBinding = loadAddon<MemoryBinding>(import.meta.url, '@mp/memory', 'mp_memory');
