/**
 * The virtio layers in one process: the split virtqueue's driver side on plain memory (descriptor
 * accounting, out-of-order completions, malformed used elements), and the modern virtio-PCI layer
 * against the device model's registers (capability walk, negotiation, ISR acknowledge).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init } from '@mp/eal';
import { memzone } from '@mp/memory';
import { mpErrorCode, uniquePrefix } from '@mp/test-utils';
import { DESC_F_WRITE, F, S, bit, vqLayout } from '../src/virtio/layout.js';
import { DRIVER_FEATURES, VirtioPci, findCaps } from '../src/virtio/modern.js';
import { ModelFunction, ML } from '../src/virtio/model-regs.js';
import { VirtioNetModel } from '../src/virtio/model-device.js';
import { CTRL_HANDLE, Virtqueue } from '../src/virtio/virtqueue.js';

/** The device's view of a queue slot: write used elements by hand. */
function deviceSide(buf: ArrayBuffer, n: number): { used: (id: number, len: number) => void; availIdx: () => number; availRing: (i: number) => number } {
  const l = vqLayout(n);
  const u16 = new Uint16Array(buf, l.used, 2);
  const u32 = new Uint32Array(buf, l.used + 4, 2 * n);
  const a16 = new Uint16Array(buf, l.avail, 3 + n);
  let idx = 0;
  return {
    used(id, len) {
      u32[(idx % n) * 2] = id;
      u32[(idx % n) * 2 + 1] = len;
      idx = (idx + 1) & 0xffff;
      Atomics.store(u16, 1, idx);
    },
    availIdx: () => Atomics.load(a16, 1),
    availRing: (i) => a16[2 + (i % n)]!,
  };
}

describe('split virtqueue, driver side', () => {
  it('completions in any order give back the right mbufs and free their descriptors', () => {
    const n = 8;
    const buf = new ArrayBuffer(vqLayout(n).size);
    const v = new Virtqueue(buf, 0, n, 0x1000_0000);
    v.init(0);
    const d = deviceSide(buf, n);
    for (let i = 0; i < n; i++) v.add(100 + i, 0x2000 + i * 2048, 2048, DESC_F_WRITE);
    expect(v.freeCount).toBe(0);
    expect(d.availIdx()).toBe(0); // not visible before publish
    v.publish();
    expect(d.availIdx()).toBe(n);
    const ids = Array.from({ length: n }, (_, i) => d.availRing(i));
    // Complete in reverse, with lengths.
    for (const id of [...ids].reverse()) d.used(id, 60 + id);
    const hs = new Uint32Array(n);
    const lens = new Uint32Array(n);
    expect(v.takeUsed(hs, lens, n)).toBe(n);
    expect([...hs].sort()).toEqual(Array.from({ length: n }, (_, i) => 100 + i));
    for (let i = 0; i < n; i++) expect(lens[i]).toBe(60 + ids[n - 1 - i]!);
    expect(v.freeCount).toBe(n);
    expect(v.takeUsed(hs, lens, n)).toBe(0);
  });

  it('a used id out of range, or of a descriptor not in flight, is counted and skipped', () => {
    const n = 4;
    const buf = new ArrayBuffer(vqLayout(n).size);
    const v = new Virtqueue(buf, 0, n, 0);
    v.init(0);
    const d = deviceSide(buf, n);
    v.add(7, 0, 64, 0);
    v.publish();
    const id = d.availRing(0);
    d.used(n + 3, 0); // out of range
    d.used(id, 0);
    d.used(id, 0); // the same descriptor again: no longer in flight
    const hs = new Uint32Array(4);
    const lens = new Uint32Array(4);
    expect(v.takeUsed(hs, lens, 4)).toBe(1);
    expect(hs[0]).toBe(7);
    expect(v.st[S.bad]).toBe(2);
    expect(v.freeCount).toBe(n);
  });

  it('a chain (the control queue) comes back whole: every descriptor of it is free again', () => {
    const n = 4;
    const buf = new ArrayBuffer(vqLayout(n).size);
    const v = new Virtqueue(buf, 0, n, 0);
    v.init(0);
    const d = deviceSide(buf, n);
    expect(v.addChain([{ addr: 0, len: 2, write: false }, { addr: 2, len: 2, write: false }, { addr: 4, len: 1, write: true }], CTRL_HANDLE, DESC_F_WRITE)).toBe(true);
    expect(v.freeCount).toBe(1);
    expect(v.addChain([{ addr: 0, len: 1, write: false }, { addr: 0, len: 1, write: false }], CTRL_HANDLE, DESC_F_WRITE)).toBe(false);
    v.publish();
    d.used(d.availRing(0), 1);
    const hs = new Uint32Array(1);
    expect(v.takeUsed(hs, new Uint32Array(1), 1)).toBe(1);
    expect(hs[0]).toBe(CTRL_HANDLE);
    expect(v.freeCount).toBe(n);
  });
});

describe('modern virtio-PCI against the model registers', () => {
  let model: VirtioNetModel;
  beforeAll(() => {
    init([`--file-prefix=${uniquePrefix('vq')}`, '--no-huge', '-m', '64']);
    model = VirtioNetModel.create('unit', { pairs: 3, queueMax: 128 });
  });
  afterAll(async () => {
    await model.destroy();
    (await import('@mp/eal')).eal().cleanup();
  });

  it('the capability walk skips the non-virtio capability and finds the four structures in BAR 4', () => {
    const caps = findCaps(new ModelFunction('unit'));
    expect(caps).toEqual({
      common: { bar: 4, off: ML.commonOff, len: 56, mult: 0 },
      notify: { bar: 4, off: ML.notifyOff, len: 7 * 4, mult: 4 },
      isr: { bar: 4, off: ML.isrOff, len: 4, mult: 0 },
      device: { bar: 4, off: ML.deviceOff, len: 12, mult: 0 },
    });
  });

  it('negotiation keeps what both offer, with VERSION_1; queue sizes, pairs and MAC read back', () => {
    const dev = new VirtioPci(new ModelFunction('unit'), findCaps(new ModelFunction('unit')));
    const f = dev.negotiate(DRIVER_FEATURES);
    expect(f & bit(F.version1)).toBe(bit(F.version1));
    expect(f & bit(F.netMq)).toBe(bit(F.netMq));
    expect(dev.numQueues()).toBe(7);
    expect(dev.queueMax(0)).toBe(128);
    expect(dev.queueMax(9)).toBe(0);
    expect(dev.netConfig()).toMatchObject({ maxPairs: 3, status: 1, mtu: 1500 });
    dev.reset();
    expect(dev.status()).toBe(0);
  });

  it('the ISR is cleared by reading it; a configuration change sets bit 1', () => {
    const dev = new VirtioPci(new ModelFunction('unit'), findCaps(new ModelFunction('unit')));
    dev.isr();
    model.setLink(false);
    expect(dev.isr()).toBe(2);
    expect(dev.isr()).toBe(0);
    expect(dev.netConfig().status).toBe(0);
    model.setLink(true);
  });

  it('a device without VERSION_1 (legacy) → ENOTSUP; not virtio-net → ENODEV; a looping capability list ends, → ENOTSUP', async () => {
    const legacy = VirtioNetModel.create('legacy', { features: bit(F.netMac) });
    try {
      const fn = new ModelFunction('legacy');
      expect(mpErrorCode(() => new VirtioPci(fn, findCaps(fn)).negotiate(DRIVER_FEATURES))).toBe('ENOTSUP');
      const cfg = new Uint8Array(memzone.find('vm_legacy')!.buffer, ML.config, 256);
      cfg[0x41] = 0x40; // the first capability points at itself
      expect(mpErrorCode(() => findCaps(fn))).toBe('ENOTSUP');
      cfg[0] = 0x86; // vendor 0x1a86
      expect(() => findCaps(fn)).toThrow(/ENODEV: model:legacy: PCI id 1a86:1041 is not a virtio-net device/);
    } finally {
      await legacy.destroy();
    }
  });
});
