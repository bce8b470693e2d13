/**
 * The exit log's ring (exit-log.ts) over a config-sized buffer: entries come back in order with the
 * process entry as it was; a reader that fell behind by more than the ring is told how many it lost;
 * the sequence number wraps at 2^32 without losing an entry. (Across processes: proc-events.mp.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { exitLogHead, logExit, readExits } from '../src/exit-log.js';
import { CFG_W, EXIT_LOG_LEN, PROC_W, PT_PRIMARY, PT_SECONDARY, memRegionOffset, procWord } from '../src/layout.js';

function config(): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(memRegionOffset()));
}

/** Put a process in slot `slot` (as claimSlot does), then log its exit (as freeing the slot does). */
function exit(u32: Uint32Array, slot: number, pid: number, startMs: number, lcores: number[] = [], type = PT_SECONDARY): void {
  const e = procWord(slot);
  u32[e + PROC_W.pid] = pid;
  u32[e + PROC_W.type] = type;
  u32[e + PROC_W.startMs] = startMs >>> 0;
  u32[e + PROC_W.startMs + 1] = Math.floor(startMs / 2 ** 32);
  for (let w = 0; w < 4; w++) u32[e + PROC_W.lcores + w] = 0;
  for (const l of lcores) u32[e + PROC_W.lcores + (l >> 5)] = (u32[e + PROC_W.lcores + (l >> 5)]! | (1 << (l & 31))) >>> 0;
  logExit(u32, slot);
}

describe('exit log', () => {
  it('returns the exits logged after a reader’s last look, oldest first, as the process entries were', () => {
    const u32 = config();
    const start = exitLogHead(u32);
    exit(u32, 0, 100, 1_796_000_000_123, [0, 33, 127], PT_PRIMARY);
    exit(u32, 5, 200, 1_796_000_000_456);
    const r = readExits(u32, start);
    expect(r).toMatchObject({ head: 2, lost: 0 });
    expect(r.exits).toEqual([
      { seq: 1, slot: 0, pid: 100, type: 'primary', lcores: [0, 33, 127], startTime: new Date(1_796_000_000_123) },
      { seq: 2, slot: 5, pid: 200, type: 'secondary', lcores: [], startTime: new Date(1_796_000_000_456) },
    ]);
    // Nothing new since: nothing returned.
    expect(readExits(u32, r.head)).toEqual({ exits: [], head: 2, lost: 0 });
  });

  it(`a reader ${EXIT_LOG_LEN + 44} exits behind gets the last ${EXIT_LOG_LEN} and is told 44 were lost`, () => {
    const u32 = config();
    for (let i = 1; i <= EXIT_LOG_LEN + 44; i++) exit(u32, i % 128, 1000 + i, i);
    const r = readExits(u32, 0);
    expect(r.lost).toBe(44);
    expect(r.exits).toHaveLength(EXIT_LOG_LEN);
    expect(r.exits[0]).toMatchObject({ seq: 45, pid: 1045 });
    expect(r.exits.at(-1)).toMatchObject({ seq: EXIT_LOG_LEN + 44, pid: 1000 + EXIT_LOG_LEN + 44 });
  });

  it('the sequence number wraps at 2^32 and every entry still comes back', () => {
    const u32 = config();
    u32[CFG_W.exitSeq] = 0xfffffffe;
    const start = exitLogHead(u32);
    for (let i = 0; i < 3; i++) exit(u32, i, 300 + i, 1000 + i);
    const r = readExits(u32, start);
    expect(r).toMatchObject({ head: 1, lost: 0 });
    expect(r.exits.map((x) => [x.seq, x.pid])).toEqual([
      [0xffffffff, 300],
      [0, 301],
      [1, 302],
    ]);
  });
});
