/**
 * ethdev's telemetry commands, DPDK's names and reply shapes (lib/ethdev/rte_ethdev.c): `/ethdev/list`,
 * `/ethdev/info,<id>`, `/ethdev/stats,<id>`, `/ethdev/xstats,<id>`, `/ethdev/link_status,<id>`.
 * Registered when @mp/pmd-vfio is loaded; read-only (a port is opened, never claimed or changed).
 */
import { telemetry } from '@mp/eal';
import { attach, list } from './port.js';
import type { Port } from './port.js';

function port(params: string | undefined): Port {
  if (params === undefined || !/^\d+$/.test(params)) throw new Error('port id required');
  return attach(Number(params));
}

telemetry.register('/ethdev/list', 'Returns list of available ethdev ports. Takes no parameters', () => list().map((p) => p.id));

telemetry.register('/ethdev/info', 'Returns the device info for a port. Parameters: int port_id', (_c, id) => {
  const i = port(id).info();
  return { name: i.name, state: i.state === 'started' ? 1 : 0, nb_rx_queues: i.nbRxq, nb_tx_queues: i.nbTxq, port_id: i.id, mtu: 1500, mac_addr: i.mac, driver: i.driver, devargs: i.devargs, rx_queue_owners: i.rxOwners, tx_queue_owners: i.txOwners };
});

telemetry.register('/ethdev/stats', 'Returns the common stats for a port. Parameters: int port_id', (_c, id) => {
  const s = port(id).stats();
  return {
    ipackets: s.ipackets, opackets: s.opackets, ibytes: s.ibytes, obytes: s.obytes, imissed: s.imissed, ierrors: s.ierrors,
    oerrors: s.oerrors, rx_nombuf: s.rxNombuf, q_ipackets: s.qIpackets, q_opackets: s.qOpackets, q_ibytes: s.qIbytes,
    q_obytes: s.qObytes, q_errors: s.qErrors,
  };
});

telemetry.register('/ethdev/xstats', 'Returns the extended stats for a port. Parameters: int port_id', (_c, id) =>
  Object.fromEntries(port(id).xstats().map((x) => [x.name, x.value])),
);

telemetry.register('/ethdev/link_status', 'Returns the link status for a port. Parameters: int port_id', (_c, id) => {
  const l = port(id).link();
  return l.status === 'up' ? { status: 'UP', speed: l.speed, duplex: `${l.duplex}-duplex` } : { status: 'DOWN' };
});
