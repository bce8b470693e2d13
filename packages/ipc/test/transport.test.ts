/**
 * The transport's send addresses (single process, real sockets): a peer's path is sent to with its
 * directory resolved (a symlink on the way, as root's /var/run → /run, would cost every sendto a
 * second walk from the root), while the path stays the peer's name everywhere else. And the two tables
 * of request bookkeeping (tables.ts), checked against Maps.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { useTempDir } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';
import { binding } from '../src/binding.js';
import { RECORD, RECV_BUFFER_BYTES, SUN_PATH_MAX } from '../src/layout.js';
import { Peers } from '../src/peers.js';
import { Transport } from '../src/transport.js';
import { PendingTable, Waiting } from '../src/tables.js';

const newDir = useTempDir('ipc-transport');

/** sockaddr_un bytes of `path`, as the transport builds them. */
function sun(path: string): Uint8Array {
  const p = Buffer.from(path, 'utf8');
  const a = new Uint8Array(2 + p.byteLength + 1);
  a[0] = 1;
  a.set(p, 2);
  return a;
}

function transport(dir: string, fd: number): Transport {
  const self = join(dir, 'self');
  return new Transport(fd, 100, new Peers(dir, self, 'primary', () => undefined), () => {});
}

describe('Transport addresses', () => {
  it('sends to a peer through a symlinked directory at its resolved path, and the datagram arrives', () => {
    const base = newDir();
    const real = join(base, 'real');
    mkdirSync(real);
    const link = join(base, 'link');
    symlinkSync(real, link);
    const rx = binding.open(join(real, 'peer'), 0o600);
    const tx = binding.open(null, 0o600);
    try {
      const t = transport(link, tx);
      expect(t.addr(join(link, 'peer'))).toEqual(sun(join(real, 'peer')));
      const data = new Uint8Array(332).fill(7);
      expect(t.send(join(link, 'peer'), data, null)).toBe(0);
      const buf = new ArrayBuffer(RECV_BUFFER_BYTES);
      expect(binding.recv(rx, buf, 1000)).toBe(1);
      expect(new DataView(buf).getInt32(RECORD.len, true)).toBe(332);
      expect(new Uint8Array(buf, RECORD.data, 332)).toEqual(data);
    } finally {
      binding.close(rx);
      binding.close(tx);
    }
  });

  it('keeps the path as given when its directory does not resolve, or resolves past sun_path', () => {
    const base = newDir();
    const tx = binding.open(null, 0o600);
    try {
      const t = transport(base, tx);
      const missing = join(base, 'gone', 'peer');
      expect(t.addr(missing)).toEqual(sun(missing));
      expect(t.send(missing, new Uint8Array(332), null)).toBeLessThan(0);
      // A short link to a directory whose own path leaves no room for the socket's name.
      const deep = join(base, 'd'.repeat(Math.max(1, SUN_PATH_MAX - Buffer.byteLength(base) - 8)));
      mkdirSync(deep);
      const link = join(base, 'l');
      symlinkSync(deep, link);
      const viaLink = join(link, 'sock-0123456789');
      expect(Buffer.byteLength(join(deep, 'sock-0123456789'))).toBeGreaterThanOrEqual(SUN_PATH_MAX);
      expect(t.addr(viaLink)).toEqual(sun(viaLink));
      // A plain directory: the same bytes either way.
      expect(t.addr(join(base, 'peer'))).toEqual(sun(join(base, 'peer')));
    } finally {
      binding.close(tx);
    }
  });
});

describe('Waiting', () => {
  it('matches a Map under random set/delete/clear, the first peer and the others alike', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const paths = ['/r/a', '/r/b', '/r/c', '/r/d'];
    const w = new Waiting();
    const m = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const path = paths[rnd(paths.length)]!;
      const op = rnd(20);
      if (op === 0) {
        w.clear();
        m.clear();
      } else if (op < 10) {
        const pid = rnd(3) - 1;
        w.set(path, pid);
        m.set(path, pid);
      } else {
        expect(w.delete(path)).toBe(m.delete(path));
      }
      const same = paths.every((p) => w.has(p) === m.has(p) && w.get(p) === m.get(p));
      const entries = w.entries();
      const sameEntries = entries.length === m.size && entries.every(([p, pid]) => m.get(p) === pid);
      expect({ size: w.size, same, sameEntries, only: w.onlyPid() }).toEqual({ size: m.size, same: true, sameEntries: true, only: m.size === 1 ? [...m.values()][0] : undefined });
    }
  });

  it('lets entries() be changed while going through it', () => {
    const w = new Waiting();
    w.set('/r/a', 1);
    w.set('/r/b', 2);
    w.set('/r/c', 3);
    for (const [path] of w.entries()) w.delete(path);
    expect(w.size).toBe(0);
    expect(w.entries()).toEqual([]);
  });
});

describe('PendingTable', () => {
  it('matches a Map under random set/delete, listing values oldest first', () => {
    let seed = 777;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const t = new PendingTable<{ seq: number; id: number }>();
    const m = new Map<number, { seq: number; id: number }>();
    let seq = 0;
    let nextId = 1;
    for (let i = 0; i < 2000; i++) {
      const op = rnd(10);
      if (op < 4) {
        const v = { seq: seq++, id: nextId++ };
        t.set(v.id, v);
        m.set(v.id, v);
      } else if (m.size > 0) {
        const ids = [...m.keys()];
        const id = op === 9 ? 0 : ids[rnd(ids.length)]!;
        expect(t.delete(id)).toBe(m.delete(id));
      }
      const gets = [...m.keys(), 0, nextId].every((id) => t.get(id) === m.get(id));
      const vals = t.values();
      const want = [...m.values()];
      expect({ size: t.size, gets, order: vals.length === want.length && vals.every((v, k) => v === want[k]) }).toEqual({ size: m.size, gets: true, order: true });
    }
  });
});
