// Freed rings in one process: every public method of a freed handle, and of a handle opened before the
// free, throws EBADF without writing a byte (the memzone reserved in the ring's place stays as it was).
// Across processes: security.mp.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { init, memzone } from '@mp/eal';
import type { Eal } from '@mp/eal';
import { uniquePrefix, mpErrorCode } from '@mp/test-utils';
import { Ring } from '../src/index.js';
import { MODES } from './fixtures/modes.js';

let group: Eal;
beforeAll(() => {
  group = init([`--file-prefix=${uniquePrefix('rf')}`, '--no-huge', '-m', '64']);
});
afterAll(() => group.cleanup());

let seq = 0;
const fresh = (): string => `f${seq++}`;

const code = mpErrorCode;


// Every public method of a Ring, called as a user would. The list must name every public method of the
// class (checked against the built declarations), so a new method cannot skip the freed-handle rule.
const u32 = (n: number): Uint32Array => new Uint32Array(n);
const PUBLIC_CALLS: Record<string, (r: Ring) => unknown> = {
  describe: (r) => r.describe(),
  free: (r) => r.free(),
  close: (r) => r.close(),
  count: (r) => r.count(),
  freeCount: (r) => r.freeCount(),
  full: (r) => r.full(),
  empty: (r) => r.empty(),
  getCapacity: (r) => r.getCapacity(),
  reset: (r) => r.reset(),
  dump: (r) => r.dump(),
  enqueueBulk: (r) => r.enqueueBulk(u32(8), 2),
  enqueueBurst: (r) => r.enqueueBurst(u32(8), 2),
  dequeueBulk: (r) => r.dequeueBulk(u32(8), 1),
  dequeueBurst: (r) => r.dequeueBurst(u32(8), 2),
  enqueue: (r) => r.enqueue(u32(2)),
  dequeue: (r) => r.dequeue(u32(2)),
  dequeueValue: (r) => r.dequeueValue(),
  enqueueBulkAsync: (r) => r.enqueueBulkAsync(u32(8), 2, { timeoutMs: 10 }),
  enqueueBurstAsync: (r) => r.enqueueBurstAsync(u32(8), 2),
  dequeueBulkAsync: (r) => r.dequeueBulkAsync(u32(8), 1, { timeoutMs: 10 }),
  dequeueBurstAsync: (r) => r.dequeueBurstAsync(u32(8), 2, { timeoutMs: 10 }),
  dequeueWaitAsync: (r) => r.dequeueWaitAsync(1, { timeoutMs: 10 }),
  enqueueBulkStart: (r) => r.enqueueBulkStart(1),
  enqueueBurstStart: (r) => r.enqueueBurstStart(1),
  enqueueFinish: (r) => r.enqueueFinish(u32(2), 0),
  dequeueBulkStart: (r) => r.dequeueBulkStart(u32(8), 1),
  dequeueBurstStart: (r) => r.dequeueBurstStart(u32(8), 1),
  dequeueFinish: (r) => r.dequeueFinish(0),
  enqueueZcBulkStart: (r) => r.enqueueZcBulkStart(1),
  enqueueZcBurstStart: (r) => r.enqueueZcBurstStart(1),
  enqueueZcFinish: (r) => r.enqueueZcFinish(0),
  dequeueZcBulkStart: (r) => r.dequeueZcBulkStart(1),
  dequeueZcBurstStart: (r) => r.dequeueZcBurstStart(1),
  dequeueZcFinish: (r) => r.dequeueZcFinish(0),
  recover: (r) => r.recover(),
  // Blocking forms of the hot path go through their own loop: call them too.
  'enqueueBurst (blocking)': (r) => r.enqueueBurst(u32(8), 2, { timeoutMs: 10 }),
  'dequeueBurst (blocking, Infinity)': (r) => r.dequeueBurst(u32(8), 2, { timeoutMs: Infinity }),
};

/** The MpError code a call throws or its promise rejects with ('returned' when it does neither). */
async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'returned';
  } catch (err) {
    expect((err as Error).name, String(err)).toBe('MpError');
    return (err as { code: string }).code;
  }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('freed handles', () => {
  it('the table of calls covers every public method of Ring', () => {
    const dts = readFileSync(join(import.meta.dirname, '../dist/index.d.ts'), 'utf8');
    // Ring's own methods and those of the classes it extends (its blocking calls live in a base class).
    const methods: string[] = [];
    for (let name: string | undefined = 'Ring'; name !== undefined; ) {
      const m: RegExpExecArray = new RegExp(`declare (?:abstract )?class ${name}(?: extends (\\w+))? \\{([\\s\\S]*?)\\n\\}`).exec(dts)!;
      methods.push(...[...m[2]!.matchAll(/^ {4}([a-zA-Z]\w*)\(/gm)].map((x) => x[1]!));
      name = m[1];
    }
    expect(methods.length).toBeGreaterThan(30);
    const covered = new Set(Object.keys(PUBLIC_CALLS));
    for (const m of methods) expect(covered.has(m), `no freed-handle call for Ring.${m}`).toBe(true);
  });

  it.each(MODES)(
    'producer %s / consumer %s: every call on the freed handle and on an older handle throws EBADF; the memzone reserved in its place is untouched',
    async (producer, consumer) => {
      const name = fresh();
      const r = Ring.create(name, 64, { elemSize: 8, producer, consumer });
      r.enqueueBurst(u32(10), 5);
      const mz = memzone.find(`RG_${name}`)!;
      // Handles opened before the free stand in for other threads / processes (they map the memory anew).
      const others = Object.keys(PUBLIC_CALLS).map(() => Ring.fromDescriptor(r.describe()));
      r.free();
      const next = memzone.reserve(`nx_${name}`, mz.len, { align: 64 });
      expect(next.offset, 'the allocator reuses the freed place (else this test proves nothing)').toBe(mz.offset);
      const bytes = new Uint8Array(next.buffer, 0, mz.len);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
      const before = sha(bytes);
      let k = 0;
      for (const [method, call] of Object.entries(PUBLIC_CALLS)) {
        expect(await codeOf(() => call(r)), `freed handle: ${method}`).toBe('EBADF');
        expect(await codeOf(() => call(r)), `freed handle, again: ${method}`).toBe('EBADF');
        const other = others[k++]!;
        expect(await codeOf(() => call(other)), `older handle: ${method}`).toBe('EBADF');
        expect(await codeOf(() => call(other)), `older handle, again: ${method}`).toBe('EBADF');
      }
      expect(sha(bytes), 'the next memzone was written through a freed handle').toBe(before);
      memzone.free(`nx_${name}`);
    },
  );

  it('a freed ring re-created under the same name at the same place: old handles still throw EBADF', () => {
    const name = fresh();
    const r = Ring.create(name, 64);
    const old = Ring.fromDescriptor(r.describe());
    r.free();
    const again = Ring.create(name, 64);
    expect(again).not.toBe(r);
    expect(code(() => old.enqueue(1))).toBe('EBADF');
    expect(code(() => r.enqueue(1))).toBe('EBADF');
    expect(again.enqueue(1)).toBe(true);
    expect(again.count()).toBe(1);
    expect(Ring.lookup(name)).toBe(again);
  });
});
