/** The `memzone` namespace: module-level functions over the attached group (rte_memzone_*). */
export { reserve, lookup, find, free, list, dump, describe, mapDescriptor, robustLock } from './group.js';
