/** The `ethdev` namespace: rte_eth_dev_* over the attached group. */
export { probe, list, attach, registerDriver } from './port.js';
