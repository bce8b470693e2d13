/**
 * ethdev: ports (rte_eth_dev) whose state lives in the group's port table, opened by any process; each
 * queue is polled by one process at a time, which claims it on its first burst.
 */
import { eal } from '@mp/eal';
import { MpError } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { pmdState } from '../state.js';
import { Mempool, mempoolLayout, poolFor } from '@mp/mempool';
import type { BurstQueue, Driver, DriverPort, PortContext } from '../drivers/driver.js';
import { parseDevargs } from './devargs.js';
import type { Devargs } from './devargs.js';
import { announceLink, wireLinkEvents } from './events.js';
import { DRV_WORDS, MAX_PORTS, MAX_QUEUES, PORT, PS_CONFIGURED, PS_FREE, PS_PROBED, PS_STARTED, PS_STOPPED, Q, portOff, rxqOff, txqOff } from './layout.js';
import { PortTable } from './table.js';

const drivers = pmdState.drivers;

/** Make a driver available to {@link probe} (the package registers its own at load). */
export function registerDriver(d: Driver): void {
  drivers.set(d.name, d);
}

/** rte_eth_stats. */
export interface EthStats {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
  /** rx packets dropped by the device (no room, …). */
  imissed: number;
  ierrors: number;
  /** tx packets the driver refused (a full queue). */
  oerrors: number;
  /** rx mbuf allocation failures. */
  rxNombuf: number;
  qIpackets: number[];
  qOpackets: number[];
  qIbytes: number[];
  qObytes: number[];
  qErrors: number[];
}

/** rte_eth_link. */
export interface EthLink {
  status: 'up' | 'down';
  /** Mbps (0 when down or unknown). */
  speed: number;
  duplex: 'full' | 'half';
}

/** What {@link list} reports of a port. */
export interface PortInfo {
  id: number;
  name: string;
  driver: string;
  devargs: string;
  state: 'probed' | 'configured' | 'started' | 'stopped';
  nbRxq: number;
  nbTxq: number;
  mac: string;
  link: EthLink;
  /** Pid of the process polling each queue (0 = none). */
  rxOwners: number[];
  txOwners: number[];
}

const STATE_NAMES: Record<number, PortInfo['state']> = { [PS_PROBED]: 'probed', [PS_CONFIGURED]: 'configured', [PS_STARTED]: 'started', [PS_STOPPED]: 'stopped' };
const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/**
 * Probe a device (rte_dev_probe): parse DPDK devargs, pick the driver, make the port's shared objects.
 * Any process of the group may probe; the port then exists for all of them.
 *
 * @throws {MpError} EINVAL — malformed devargs or a bad driver argument (named)
 * @throws {MpError} ENODEV — no driver of that name
 * @throws {MpError} EEXIST — a port of that name exists
 * @throws {MpError} ENOSPC — 32 ports exist already
 * @throws {MpError} ENOTCONN — init() (@mp/eal) has not run
 * @see rte_dev_probe
 */
export function probe(devargs: string): Port {
  const d = parseDevargs(devargs);
  const drv = drivers.get(d.driver);
  if (drv === undefined) {
    throw new MpError('ENODEV', `no driver '${d.driver}' (this build has ${[...drivers.keys()].join(', ')}${d.driver === 'vfio-pci' ? '; vfio-pci needs /dev/vfio/vfio, which this machine lacks' : ''})`);
  }
  const t = PortTable.get(true);
  const id = t.withLock(() => {
    if (t.find(d.name) >= 0) throw new MpError('EEXIST', `a port named '${d.name}' exists`);
    const i = t.freeEntry();
    if (i < 0) throw new MpError('ENOSPC', `the port table is full (${MAX_PORTS} ports)`);
    t.u8.fill(0, portOff(i), portOff(i) + PORT.size);
    t.setStr(i, PORT.name, PORT.nameSize, d.name);
    t.setStr(i, PORT.driver, PORT.driverSize, d.driver);
    t.setStr(i, PORT.devargs, PORT.devargsSize, d.text);
    t.u32[t.w(i, PORT.prober)] = process.pid;
    t.u32[t.w(i, PORT.mtu)] = 1500;
    t.u32[t.w(i, PORT.linkDuplex)] = 1;
    t.u32[t.w(i, PORT.portGen)] = (t.u32[t.w(i, PORT.portGen)]! + 1) >>> 0;
    const ctx = makeContext(t, i, d.name);
    try {
      drv.probe(ctx, d);
    } catch (err) {
      t.u8.fill(0, portOff(i), portOff(i) + PORT.size);
      throw err;
    }
    Atomics.store(t.u32, t.w(i, PORT.state), PS_PROBED);
    return i;
  });
  return openPort(t, id);
}

/** Every port of the group. @throws {MpError} ENOTCONN */
export function list(): PortInfo[] {
  let t: PortTable;
  try {
    t = PortTable.get(false);
  } catch (err) {
    if ((err as MpError).code === 'ENOENT') return [];
    throw err;
  }
  const out: PortInfo[] = [];
  for (let i = 0; i < MAX_PORTS; i++) if (t.state(i) !== PS_FREE) out.push(info(t, i));
  return out;
}

/**
 * This process's handle on an existing port, by id or name (rte_eth_dev_get_port_by_name; in DPDK a
 * secondary sees the primary's ports the same way).
 *
 * @throws {MpError} ENOENT — no such port; EINVAL — not an id or a name; ENOTCONN
 */
export function attach(idOrName: number | string): Port {
  const t = PortTable.get(false);
  let id: number;
  if (typeof idOrName === 'number') {
    if (!Number.isInteger(idOrName) || idOrName < 0 || idOrName >= MAX_PORTS) throw new MpError('EINVAL', `port id ${idOrName} is not in 0..${MAX_PORTS - 1}`);
    if (t.state(idOrName) === PS_FREE) throw new MpError('ENOENT', `no port ${idOrName}`);
    id = idOrName;
  } else if (typeof idOrName === 'string') {
    id = t.find(idOrName);
    if (id < 0) throw new MpError('ENOENT', `no port named '${idOrName}'`);
  } else {
    throw new MpError('EINVAL', 'attach() takes a port id or a port name');
  }
  return openPort(t, id);
}

const open = pmdState.open;

function openPort(t: PortTable, id: number): Port {
  const gen = t.u32[t.w(id, PORT.portGen)]!;
  const have = open.get(id);
  if (have !== undefined && have.gen === gen && !have.closed) return have;
  const p = new Port(t, id, gen);
  open.set(id, p);
  return p;
}

function info(t: PortTable, i: number): PortInfo {
  const macAt = portOff(i) + PORT.mac;
  const nbRxq = t.u32[t.w(i, PORT.nbRxq)]!;
  const nbTxq = t.u32[t.w(i, PORT.nbTxq)]!;
  return {
    id: i,
    name: t.str(i, PORT.name, PORT.nameSize),
    driver: t.str(i, PORT.driver, PORT.driverSize),
    devargs: t.str(i, PORT.devargs, PORT.devargsSize),
    state: STATE_NAMES[t.state(i)] ?? 'probed',
    nbRxq,
    nbTxq,
    mac: [...t.u8.subarray(macAt, macAt + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':'),
    link: readLink(t, i),
    rxOwners: Array.from({ length: nbRxq }, (_, q) => t.u32[(rxqOff(i, q) + Q.owner) >>> 2]!),
    txOwners: Array.from({ length: nbTxq }, (_, q) => t.u32[(txqOff(i, q) + Q.owner) >>> 2]!),
  };
}

function readLink(t: PortTable, i: number): EthLink {
  const up = Atomics.load(t.u32, t.w(i, PORT.linkStatus)) === 1;
  return { status: up ? 'up' : 'down', speed: up ? t.u32[t.w(i, PORT.linkSpeed)]! : 0, duplex: t.u32[t.w(i, PORT.linkDuplex)] === 0 ? 'half' : 'full' };
}

function makeContext(t: PortTable, i: number, name: string): PortContext {
  const drvAt = portOff(i) + PORT.drv;
  return {
    id: i,
    name,
    words: new Uint32Array(t.mz.buffer, drvAt, DRV_WORDS),
    bytes: new Uint8Array(t.mz.buffer, drvAt, PORT.drvSize),
    nbRxq: () => t.u32[t.w(i, PORT.nbRxq)]!,
    nbTxq: () => t.u32[t.w(i, PORT.nbTxq)]!,
    rxDesc: (q) => t.u32[(rxqOff(i, q) + Q.nbDesc) >>> 2]!,
    txDesc: (q) => t.u32[(txqOff(i, q) + Q.nbDesc) >>> 2]!,
    rxPool: (q) => poolFor((t.u32[(rxqOff(i, q) + Q.poolId) >>> 2]! << 24) >>> 0),
    counters: (dir, q) => ({ f64: t.f64, at: ((dir === 'rx' ? rxqOff(i, q) : txqOff(i, q)) + Q.packets) >>> 3 }),
    prober: () => t.u32[t.w(i, PORT.prober)]!,
    setLink(up, speed, reason) {
      const was = Atomics.load(t.u32, t.w(i, PORT.linkStatus)) === 1;
      t.u32[t.w(i, PORT.linkSpeed)] = up ? speed >>> 0 : 0;
      Atomics.store(t.u32, t.w(i, PORT.linkStatus), up ? 1 : 0);
      Atomics.add(t.u32, t.w(i, PORT.linkGen), 1);
      if (was !== up) log('debug', 'ETHDEV', `port ${i} ('${name}') link ${up ? `up, ${speed} Mb/s` : `down${reason !== undefined ? ` (${reason})` : ''}`}`);
      if (was !== up) announceLink({ port: i, name, status: up ? 'up' : 'down', speed: up ? speed : 0, ...(reason !== undefined ? { reason } : {}) });
    },
    setMac(mac) {
      if (mac.length !== 6) throw new MpError('EINVAL', `a MAC address has 6 bytes, got ${mac.length}`);
      t.u8.set(mac, portOff(i) + PORT.mac);
    },
  };
}

/**
 * One process's handle on a port (rte_eth_dev_*). Control calls change the shared port state under the
 * table lock and work from any process; bursts run on the queues this process claimed.
 */
export class Port {
  readonly id: number;
  readonly name: string;
  readonly driver: string;
  /** @internal the port generation this handle belongs to */
  readonly gen: number;
  /** @internal */
  closed = false;
  private readonly t: PortTable;
  private readonly drv: DriverPort;
  private readonly stateW: number;
  private readonly rx: Array<BurstQueue | undefined> = new Array<BurstQueue | undefined>(MAX_QUEUES).fill(undefined);
  private readonly tx: Array<BurstQueue | undefined> = new Array<BurstQueue | undefined>(MAX_QUEUES).fill(undefined);
  /** f64 index of each queue's packets counter (bytes +1, errors +2, nombuf +3). */
  private readonly rxStat: Int32Array = new Int32Array(MAX_QUEUES);
  private readonly txStat: Int32Array = new Int32Array(MAX_QUEUES);

  /** @internal use {@link probe} or {@link attach} */
  constructor(t: PortTable, id: number, gen: number) {
    this.t = t;
    this.id = id;
    this.gen = gen;
    this.name = t.str(id, PORT.name, PORT.nameSize);
    this.driver = t.str(id, PORT.driver, PORT.driverSize);
    this.stateW = t.w(id, PORT.state);
    const drv = drivers.get(this.driver);
    if (drv === undefined) throw new MpError('ENODEV', `port '${this.name}' uses driver '${this.driver}', which this build lacks`);
    const d: Devargs = parseDevargs(t.str(id, PORT.devargs, PORT.devargsSize));
    this.drv = drv.open(makeContext(t, id, this.name), d);
    for (let q = 0; q < MAX_QUEUES; q++) {
      this.rxStat[q] = (rxqOff(id, q) + Q.packets) >>> 3;
      this.txStat[q] = (txqOff(id, q) + Q.packets) >>> 3;
    }
    hookExit();
    // Link events reach this process over @mp/ipc (the channel starts here if the app has not).
    wireLinkEvents();
  }

  private get state(): number {
    return Atomics.load(this.t.u32, this.stateW);
  }

  private live(what: string): number {
    const s = this.state;
    if (s === PS_FREE || this.t.u32[this.t.w(this.id, PORT.portGen)] !== this.gen) {
      this.closed = true;
      throw new MpError('ENODEV', `port ${this.id} ('${this.name}') was closed; ${what} needs a probed port`);
    }
    return s;
  }

  /**
   * Set the number of rx and tx queues (rte_eth_dev_configure). Not while started.
   *
   * @throws {MpError} EINVAL — counts outside 0..16 (both 0 refused), port started; ENODEV — closed
   * @see rte_eth_dev_configure
   */
  configure(nbRxq: number, nbTxq: number): void {
    for (const [what, n] of [['nbRxq', nbRxq], ['nbTxq', nbTxq]] as const) {
      if (!Number.isInteger(n) || n < 0 || n > MAX_QUEUES) throw new MpError('EINVAL', `${what} ${n} is not in 0..${MAX_QUEUES}`);
    }
    if (nbRxq === 0 && nbTxq === 0) throw new MpError('EINVAL', 'a port needs at least one rx or tx queue');
    this.t.withLock(() => {
      if (this.live('configure') === PS_STARTED) throw new MpError('EINVAL', `port ${this.id} is started: stop it before configure`);
      this.drv.configure(nbRxq, nbTxq);
      const t = this.t;
      t.u32[t.w(this.id, PORT.nbRxq)] = nbRxq;
      t.u32[t.w(this.id, PORT.nbTxq)] = nbTxq;
      for (let q = 0; q < MAX_QUEUES; q++) {
        t.u8.fill(0, rxqOff(this.id, q), rxqOff(this.id, q) + Q.size);
        t.u8.fill(0, txqOff(this.id, q), txqOff(this.id, q) + Q.size);
      }
      Atomics.store(t.u32, this.stateW, PS_CONFIGURED);
    });
  }

  /**
   * Set up rx queue `q` with `nbDesc` descriptors, allocating from `pool` (rte_eth_rx_queue_setup).
   *
   * @throws {MpError} EINVAL — q out of range, nbDesc not a power of two in 2..65536, not a pktmbuf pool,
   *   port not configured or started; ENODEV — closed
   * @see rte_eth_rx_queue_setup
   */
  rxQueueSetup(q: number, nbDesc: number, pool: Mempool): void {
    this.checkSetup(q, nbDesc, this.t.u32[this.t.w(this.id, PORT.nbRxq)]!, 'rx');
    if (!(pool instanceof Mempool) || pool.kind !== mempoolLayout.KIND_PKTMBUF) throw new MpError('EINVAL', 'rxQueueSetup needs a pktmbuf pool (pktmbufPoolCreate)');
    this.t.withLock(() => {
      this.setupState('rxQueueSetup');
      this.drv.rxQueueSetup(q, nbDesc, pool);
      this.t.u32[(rxqOff(this.id, q) + Q.nbDesc) >>> 2] = nbDesc;
      this.t.u32[(rxqOff(this.id, q) + Q.poolId) >>> 2] = pool.id;
    });
  }

  /**
   * Set up tx queue `q` with `nbDesc` descriptors (rte_eth_tx_queue_setup).
   *
   * @throws {MpError} EINVAL — as rxQueueSetup; ENODEV — closed
   * @see rte_eth_tx_queue_setup
   */
  txQueueSetup(q: number, nbDesc: number): void {
    this.checkSetup(q, nbDesc, this.t.u32[this.t.w(this.id, PORT.nbTxq)]!, 'tx');
    this.t.withLock(() => {
      this.setupState('txQueueSetup');
      this.drv.txQueueSetup(q, nbDesc);
      this.t.u32[(txqOff(this.id, q) + Q.nbDesc) >>> 2] = nbDesc;
    });
  }

  private checkSetup(q: number, nbDesc: number, nbq: number, dir: string): void {
    if (!Number.isInteger(q) || q < 0 || q >= nbq) throw new MpError('EINVAL', `${dir} queue ${q} is out of range (port ${this.id} has ${nbq} ${dir} queues; configure first)`);
    if (!isPow2(nbDesc) || nbDesc < 2 || nbDesc > 65536) throw new MpError('EINVAL', `nbDesc ${nbDesc} is not a power of two in 2..65536`);
  }

  private setupState(what: string): void {
    const s = this.live(what);
    if (s === PS_PROBED) throw new MpError('EINVAL', `port ${this.id} is not configured: call configure() before ${what}`);
    if (s === PS_STARTED) throw new MpError('EINVAL', `port ${this.id} is started: stop it before ${what}`);
  }

  /**
   * Start the port (rte_eth_dev_start): every configured queue must be set up.
   *
   * @throws {MpError} EINVAL — not configured, a queue not set up; ENODEV — closed
   * @see rte_eth_dev_start
   */
  start(): void {
    this.t.withLock(() => {
      const s = this.live('start');
      if (s === PS_STARTED) return;
      if (s === PS_PROBED) throw new MpError('EINVAL', `port ${this.id} is not configured`);
      const t = this.t;
      for (let q = 0; q < t.u32[t.w(this.id, PORT.nbRxq)]!; q++) if (t.u32[(rxqOff(this.id, q) + Q.nbDesc) >>> 2] === 0) throw new MpError('EINVAL', `rx queue ${q} of port ${this.id} is not set up`);
      for (let q = 0; q < t.u32[t.w(this.id, PORT.nbTxq)]!; q++) if (t.u32[(txqOff(this.id, q) + Q.nbDesc) >>> 2] === 0) throw new MpError('EINVAL', `tx queue ${q} of port ${this.id} is not set up`);
      this.drv.start();
      Atomics.store(t.u32, this.stateW, PS_STARTED);
    });
    log('debug', 'ETHDEV', `port ${this.id} ('${this.name}') started`);
  }

  /**
   * Stop the port (rte_eth_dev_stop): bursts then throw EINVAL until it starts again.
   *
   * @throws {MpError} ENODEV — closed
   * @see rte_eth_dev_stop
   */
  stop(): void {
    this.t.withLock(() => {
      if (this.live('stop') !== PS_STARTED) return;
      Atomics.store(this.t.u32, this.stateW, PS_STOPPED);
      this.drv.stop();
    });
    log('debug', 'ETHDEV', `port ${this.id} ('${this.name}') stopped`);
  }

  /**
   * Close the port (rte_eth_dev_close): its shared objects go and its id is free again. Other
   * processes' handles then throw ENODEV.
   *
   * @throws {MpError} ENODEV — closed already
   * @see rte_eth_dev_close
   */
  close(): void {
    this.t.withLock(() => {
      this.live('close');
      Atomics.store(this.t.u32, this.stateW, PS_STOPPED);
      this.drv.stop();
      this.drv.close();
      this.t.u32[this.t.w(this.id, PORT.portGen)] = (this.gen + 1) >>> 0;
      Atomics.store(this.t.u32, this.stateW, PS_FREE);
    });
    this.closed = true;
    this.detachQueues();
    open.delete(this.id);
  }

  // ---- data path ----------------------------------------------------------------------------------------

  /**
   * Receive up to `n` packets from rx queue `q` into `handles` (rte_eth_rx_burst). The first burst on a
   * queue claims it for this process: one process polls a queue at a time.
   *
   * @returns how many handles were written (0 when nothing arrived)
   * @throws {MpError} EINVAL — q out of range or not set up, n bad, port not started
   * @throws {MpError} EBUSY — another live process polls this queue
   * @throws {MpError} ENODEV — the port was closed
   * @see rte_eth_rx_burst
   */
  rxBurst(q: number, handles: Uint32Array, n: number = handles.length): number {
    const rq = this.rx[q] ?? this.openQueue('rx', q, handles, n);
    if (Atomics.load(this.t.u32, this.stateW) !== PS_STARTED) this.notStarted('rxBurst');
    if (n > handles.length) throw new MpError('EINVAL', `rxBurst n ${n} exceeds the handles array (${handles.length})`);
    const got = rq.burst(handles, n);
    if (got > 0) this.t.f64[this.rxStat[q]!]! += got;
    return got;
  }

  /**
   * Send up to `n` packets from `handles` on tx queue `q` (rte_eth_tx_burst). The driver owns the sent
   * ones; the caller still owns (and frees or retries) `handles[sent..n)`.
   *
   * @returns how many were taken
   * @throws {MpError} as {@link rxBurst}
   * @see rte_eth_tx_burst
   */
  txBurst(q: number, handles: Uint32Array, n: number = handles.length): number {
    const tq = this.tx[q] ?? this.openQueue('tx', q, handles, n);
    if (Atomics.load(this.t.u32, this.stateW) !== PS_STARTED) this.notStarted('txBurst');
    if (n > handles.length) throw new MpError('EINVAL', `txBurst n ${n} exceeds the handles array (${handles.length})`);
    const sent = n === 0 ? 0 : tq.burst(handles, n);
    const f = this.t.f64;
    const i = this.txStat[q]!;
    if (sent > 0) f[i]! += sent;
    if (sent < n) f[i + 2]! += n - sent;
    return sent;
  }

  private notStarted(what: string): never {
    this.live(what);
    throw new MpError('EINVAL', `port ${this.id} ('${this.name}') is not started: ${what} needs a started port`);
  }

  private openQueue(dir: 'rx' | 'tx', q: number, handles: Uint32Array, n: number): BurstQueue {
    if (!(handles instanceof Uint32Array)) throw new MpError('EINVAL', `${dir}Burst takes a Uint32Array of mbuf handles`);
    if (!Number.isInteger(n) || n < 0) throw new MpError('EINVAL', `${dir}Burst n ${n} is not a non-negative integer`);
    const s = this.live(`${dir}Burst`);
    const t = this.t;
    const nbq = t.u32[t.w(this.id, dir === 'rx' ? PORT.nbRxq : PORT.nbTxq)]!;
    if (!Number.isInteger(q) || q < 0 || q >= nbq) throw new MpError('EINVAL', `${dir} queue ${q} is out of range (port ${this.id} has ${nbq})`);
    const at = dir === 'rx' ? rxqOff(this.id, q) : txqOff(this.id, q);
    if (t.u32[(at + Q.nbDesc) >>> 2] === 0) throw new MpError('EINVAL', `${dir} queue ${q} of port ${this.id} is not set up`);
    if (s !== PS_STARTED) this.notStarted(`${dir}Burst`);
    this.claimQueue(dir, q);
    const bq = dir === 'rx' ? this.drv.rxQueue(q) : this.drv.txQueue(q);
    (dir === 'rx' ? this.rx : this.tx)[q] = bq;
    return bq;
  }

  /**
   * Claim queue `q` for this process (done by the first burst too). A queue whose owner died can be
   * claimed again.
   *
   * @throws {MpError} EBUSY — a live process of the group polls it; EINVAL — q out of range
   */
  claimQueue(dir: 'rx' | 'tx', q: number): void {
    const t = this.t;
    const nbq = t.u32[t.w(this.id, dir === 'rx' ? PORT.nbRxq : PORT.nbTxq)]!;
    if (!Number.isInteger(q) || q < 0 || q >= nbq) throw new MpError('EINVAL', `${dir} queue ${q} is out of range (port ${this.id} has ${nbq})`);
    const w = ((dir === 'rx' ? rxqOff(this.id, q) : txqOff(this.id, q)) + Q.owner) >>> 2;
    for (;;) {
      const owner = Atomics.load(t.u32, w);
      if (owner === process.pid) return;
      if (owner !== 0 && ownerAlive(owner)) {
        throw new MpError('EBUSY', `${dir} queue ${q} of port ${this.id} ('${this.name}') is polled by pid ${owner}: one process per queue (give each process its own queue)`);
      }
      if (Atomics.compareExchange(t.u32, w, owner, process.pid) === owner) {
        if (owner !== 0) log('notice', 'ETHDEV', `${dir} queue ${q} of port ${this.id} taken over from dead pid ${owner}`);
        claims.set(w, t.u32);
        return;
      }
    }
  }

  /** Give up this process's claim on a queue (another process may poll it then). */
  releaseQueue(dir: 'rx' | 'tx', q: number): void {
    const w = ((dir === 'rx' ? rxqOff(this.id, q) : txqOff(this.id, q)) + Q.owner) >>> 2;
    (dir === 'rx' ? this.rx : this.tx)[q]?.close?.();
    (dir === 'rx' ? this.rx : this.tx)[q] = undefined;
    Atomics.compareExchange(this.t.u32, w, process.pid, 0);
    claims.delete(w);
  }

  private detachQueues(): void {
    for (let q = 0; q < MAX_QUEUES; q++) {
      this.rx[q]?.close?.();
      this.tx[q]?.close?.();
      this.rx[q] = this.tx[q] = undefined;
    }
    this.drv.detach?.();
  }

  // ---- state ---------------------------------------------------------------------------------------------

  /** rte_eth_stats_get: the sums over queues, readable from every process. @throws {MpError} ENODEV */
  stats(): EthStats {
    this.live('stats');
    const t = this.t;
    const f = t.f64;
    const nbRxq = t.u32[t.w(this.id, PORT.nbRxq)]!;
    const nbTxq = t.u32[t.w(this.id, PORT.nbTxq)]!;
    const s: EthStats = { ipackets: 0, opackets: 0, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rxNombuf: 0, qIpackets: [], qOpackets: [], qIbytes: [], qObytes: [], qErrors: [] };
    for (let q = 0; q < nbRxq; q++) {
      const i = this.rxStat[q]!;
      s.qIpackets.push(f[i]!);
      s.qIbytes.push(f[i + 1]!);
      s.qErrors.push(f[i + 2]!);
      s.ipackets += f[i]!;
      s.ibytes += f[i + 1]!;
      s.ierrors += f[i + 2]!;
      s.rxNombuf += f[i + 3]!;
    }
    for (let q = 0; q < nbTxq; q++) {
      const i = this.txStat[q]!;
      s.qOpackets.push(f[i]!);
      s.qObytes.push(f[i + 1]!);
      s.opackets += f[i]!;
      s.obytes += f[i + 1]!;
      s.oerrors += f[i + 2]!;
    }
    return s;
  }

  /** rte_eth_xstats_get: per-queue counters by DPDK's names plus the driver's own. @throws {MpError} ENODEV */
  xstats(): Array<{ name: string; value: number }> {
    const s = this.stats();
    const out = [
      { name: 'rx_good_packets', value: s.ipackets },
      { name: 'tx_good_packets', value: s.opackets },
      { name: 'rx_good_bytes', value: s.ibytes },
      { name: 'tx_good_bytes', value: s.obytes },
      { name: 'rx_missed_errors', value: s.imissed },
      { name: 'rx_errors', value: s.ierrors },
      { name: 'tx_errors', value: s.oerrors },
      { name: 'rx_mbuf_allocation_errors', value: s.rxNombuf },
    ];
    s.qIpackets.forEach((v, q) => out.push({ name: `rx_q${q}_packets`, value: v }, { name: `rx_q${q}_bytes`, value: s.qIbytes[q]! }, { name: `rx_q${q}_errors`, value: s.qErrors[q]! }));
    s.qOpackets.forEach((v, q) => out.push({ name: `tx_q${q}_packets`, value: v }, { name: `tx_q${q}_bytes`, value: s.qObytes[q]! }));
    return [...out, ...(this.drv.xstats?.() ?? [])];
  }

  /** rte_eth_stats_reset: zero every queue counter (do it while nobody polls, or expect a few lost). @throws {MpError} ENODEV */
  statsReset(): void {
    this.live('statsReset');
    for (let q = 0; q < MAX_QUEUES; q++) {
      this.t.f64.fill(0, this.rxStat[q]!, this.rxStat[q]! + 4);
      this.t.f64.fill(0, this.txStat[q]!, this.txStat[q]! + 4);
    }
  }

  /** rte_eth_link_get_nowait. @throws {MpError} ENODEV */
  link(): EthLink {
    this.live('link');
    return readLink(this.t, this.id);
  }

  /** The port as {@link list} reports it. @throws {MpError} ENODEV */
  info(): PortInfo {
    this.live('info');
    return info(this.t, this.id);
  }

  /** True while started. */
  get started(): boolean {
    return !this.closed && this.state === PS_STARTED;
  }
}

/**
 * Owner words this process holds (word index → the table's words, which stay mapped after the group is
 * left): cleared at exit, so the next claimant needs no liveness check.
 */
const claims = pmdState.claims;
function hookExit(): void {
  if (pmdState.once.exitHook) return;
  pmdState.once.exitHook = true;
  process.once('exit', () => {
    for (const [w, u32] of claims) Atomics.compareExchange(u32, w, process.pid, 0);
  });
}

/** True when `pid` is a live process of the group (a queue owner of a dead one can be replaced). */
function ownerAlive(pid: number): boolean {
  return eal().processes().some((p) => p.pid === pid && p.alive);
}
