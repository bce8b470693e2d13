/**
 * net_af_xdp in the prober (the primary that probed the port): it makes the kernel objects at start —
 * the UMEM memzone, one AF_XDP socket per queue (bound, its fill ring lent to the kernel), the XSKMAP,
 * our XDP program and its bpf_link — serves their fds to the other processes (queue-fds.ts), follows
 * the interface's link, and releases everything at close. Other processes' start/stop/close reach it
 * as `mp_af_xdp_ctl` requests.
 */
import * as ipc from '@mp/ipc';
import { MpError, memzone } from '@mp/memory';
import { log } from '@mp/memory/internal';
import type { Memzone } from '@mp/memory';
import { binding, xdp } from '../binding.js';
import type { PortContext } from '../drivers/driver.js';
import { serveQueueFds } from '../drivers/queue-fds.js';
import { XskRing } from './rings.js';
import { DRIVER, FRAME, W_GEN, W_IFINDEX, W_MODE, W_NQ, W_RXD, W_SLICE, W_START_Q, W_TXD, W_UP, mzName } from './words.js';

/** veth and most drivers report no speed to AF_XDP; ethdev needs a number (DPDK's af_xdp asks ethtool). */
const SPEED_MBPS = 10_000;
/** How often the prober checks the interface's flags, ms. */
const LINK_POLL_MS = 50;
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
export const CTL_ACTION = 'mp_af_xdp_ctl';

/** What the prober holds of a port. */
export interface Held {
  ctx: PortContext;
  iface: string;
  mz?: Memzone;
  prog: number;
  map: number;
  /** The bpf_link attaching the program (every process holding the fds holds a duplicate). */
  link: number;
  xsks: number[];
  mode: 'drv' | 'skb';
  timer?: ReturnType<typeof setInterval>;
  serve?: { close(): void };
}
export const held = new Map<number, Held>();

export function wrap(err: unknown, what: string): MpError {
  const e = err as Error & { code?: string };
  return new MpError((e.code ?? 'EIO') as 'EINVAL', `${DRIVER}: ${what}: ${e.message}`, { cause: err });
}

let ctlRegistered = false;
export function registerCtl(): void {
  if (ctlRegistered) return;
  ipc.start();
  ipc.actionRegister(CTL_ACTION, (msg) => {
    const req = JSON.parse(Buffer.from(msg.param).toString('utf8')) as { port: number; op: 'start' | 'stop' | 'close' };
    control(req.port, req.op);
    return { name: CTL_ACTION, param: new Uint8Array(0) };
  });
  ctlRegistered = true;
}


export function control(port: number, op: 'start' | 'stop' | 'close'): void {
  const h = held.get(port);
  if (h === undefined) throw new MpError('ENODEV', `${DRIVER} port ${port} is not held by pid ${process.pid}`);
  if (op === 'start') startHeld(h);
  else if (op === 'stop') stopHeld(h, 'stopped');
  else closeHeld(h);
}

/** Make the sockets (again if the queue geometry changed), then follow the interface's link. */
function startHeld(h: Held): void {
  const { ctx } = h;
  const w = ctx.words;
  const nq = Math.max(ctx.nbRxq(), ctx.nbTxq());
  let rxd = 64;
  let txd = 64;
  for (let q = 0; q < ctx.nbRxq(); q++) rxd = Math.max(rxd, ctx.rxDesc(q));
  for (let q = 0; q < ctx.nbTxq(); q++) txd = Math.max(txd, ctx.txDesc(q));
  if (w[W_GEN] === 0 || w[W_NQ] !== nq || w[W_RXD] !== rxd || w[W_TXD] !== txd) {
    teardown(h);
    makeSockets(h, nq, rxd, txd);
  }
  if (h.timer === undefined) {
    h.timer = setInterval(() => followLink(h), LINK_POLL_MS);
    h.timer.unref();
  }
  followLink(h);
}

function makeSockets(h: Held, nq: number, rxd: number, txd: number): void {
  const { ctx } = h;
  const w = ctx.words;
  const gen = (w[W_GEN]! + 1) >>> 0 || 1;
  const slice = (rxd + txd) * FRAME;
  const ifindex = w[W_IFINDEX]!;
  const startQ = w[W_START_Q]!;
  let mz: Memzone;
  try {
    mz = memzone.reserve(mzName(ctx.id, gen), nq * slice, { align: 4096 });
  } catch (err) {
    throw wrap(err, `UMEM memzone of ${nq} × ${slice} bytes`);
  }
  h.mz = mz;
  try {
    h.map = xdp.xdpMapCreate(startQ + nq);
    h.prog = xdp.xdpProgLoad(h.map);
    for (let q = 0; q < nq; q++) {
      const fd = xdp.xdpSocket(mz.buffer, q * slice, slice, FRAME, rxd, txd, rxd, txd);
      h.xsks.push(fd);
      xdp.xdpBind(fd, ifindex, startQ + q);
      xdp.xdpMapSet(h.map, startQ + q, fd);
      // Lend every rx frame to the kernel now: frames arrive before anyone polls.
      const r = xdp.xdpRings(fd, rxd, txd, rxd, txd);
      const fill = new XskRing(r.fill, rxd, 2);
      const p = fill.producer();
      for (let i = 0; i < rxd; i++) {
        const at = fill.at(p + i);
        fill.u32[at] = i * FRAME;
        fill.u32[at + 1] = 0;
      }
      fill.publishProducer(p + rxd);
    }
    const l = xdp.xdpAttach(ifindex, h.prog);
    h.link = l.fd;
    h.mode = l.mode;
  } catch (err) {
    teardown(h);
    const e = err as { code?: string };
    if (e.code === 'EBUSY') throw new MpError('EBUSY', `${DRIVER}: '${h.iface}' has another XDP program attached (detach it: ip link set ${h.iface} xdp off)`, { cause: err });
    throw wrap(err, `AF_XDP sockets on '${h.iface}'`);
  }
  w[W_NQ] = nq;
  w[W_RXD] = rxd;
  w[W_TXD] = txd;
  w[W_SLICE] = slice;
  w[W_MODE] = h.mode === 'drv' ? 1 : 2;
  Atomics.store(w, W_GEN, gen); // last: a process that sees the generation finds every field set
  h.serve = serveQueueFds(DRIVER, ctx.id, () => [h.link, h.map, ...h.xsks]);
  log('debug', 'ETHDEV', `${DRIVER} port ${ctx.id}: ${nq} socket(s) on '${h.iface}' queues ${startQ}..${startQ + nq - 1}, XDP ${h.mode} mode`);
}

/** Up = the interface exists, is up and running. A change is announced to every process. */
function followLink(h: Held): void {
  const flags = xdp.xdpIfFlags(h.ctx.words[W_IFINDEX]!);
  const up = flags >= 0 && (flags & IFF_UP) !== 0 && (flags & IFF_RUNNING) !== 0;
  const w = h.ctx.words;
  if ((w[W_UP] === 1) === up) return;
  Atomics.store(w, W_UP, up ? 1 : 0);
  const reason = flags < 0 ? `interface '${h.iface}' is gone` : `interface '${h.iface}' is down`;
  h.ctx.setLink(up, up ? SPEED_MBPS : 0, up ? undefined : reason);
}

function stopHeld(h: Held, reason: string): void {
  if (h.timer !== undefined) clearInterval(h.timer);
  h.timer = undefined;
  const w = h.ctx.words;
  if (w[W_UP] === 1) {
    Atomics.store(w, W_UP, 0);
    h.ctx.setLink(false, 0, reason);
  }
}

/** Detach our program (only if still ours), close the sockets and the map, free the UMEM. */
function teardown(h: Held): void {
  h.serve?.close();
  h.serve = undefined;
  if (h.link >= 0) {
    // For every process: the others' duplicates of the link fd then hold a detached link.
    const r = xdp.xdpDetach(h.link);
    if (r !== 0) log('info', 'ETHDEV', `${DRIVER} port ${h.ctx.id}: XDP program not detached from '${h.iface}' (errno ${-r}); it goes when the last process holding the port exits`);
  }
  for (const fd of [h.link, h.prog, h.map, ...h.xsks]) if (fd >= 0) binding.close(fd);
  h.prog = h.map = h.link = -1;
  h.xsks = [];
  if (h.mz !== undefined) {
    try {
      memzone.free(h.mz.name);
    } catch {
      // freed already (group gone)
    }
  }
  h.mz = undefined;
  Atomics.store(h.ctx.words, W_GEN, 0);
}

function closeHeld(h: Held): void {
  stopHeld(h, 'closed');
  teardown(h);
  held.delete(h.ctx.id);
}

