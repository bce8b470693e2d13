/**
 * The EAL's telemetry commands: DPDK's `/eal/*` names, and @mp's group views under `/mp/`. Registered
 * when @mp/eal is loaded; each answers for the group `init()` attached (null before init()).
 */
import { groupMemory } from '@mp/memory/internal';
import { eal } from './eal.js';
import { telemetry } from './telemetry.js';

telemetry.register('/eal/params', 'Returns EAL commandline parameters used. Takes no parameters', () => eal().ealArgs);
telemetry.register('/eal/app_params', 'Returns Application parameters. Takes no parameters', () => eal().appArgs);
telemetry.register('/eal/lcore/list', 'List of lcore ids. Takes no parameters', () => {
  const e = eal();
  return e.processes().find((p) => p.slot === e.slot)?.lcores ?? [];
});

telemetry.register('/mp/group', "The process's group: prefix, runtime dir, role, slot, primary. No parameters", () => {
  const e = eal();
  return {
    prefix: e.filePrefix,
    runtime_dir: e.runtimeDir,
    proc_type: e.procType,
    pid: process.pid,
    slot: e.slot,
    primary_pid: e.primaryPid,
    primary_alive: e.isPrimaryAlive(),
    adopted: e.adopted,
    telemetry_instance: e.telemetry?.instance ?? null,
  };
});
telemetry.register('/mp/processes', "The group's process table (slot, pid, type, lcores, start, alive). No parameters", () =>
  eal()
    .processes()
    .map((p) => ({ slot: p.slot, pid: p.pid, type: p.type, lcores: p.lcores, start_time: p.startTime.toISOString(), alive: p.alive })),
);
telemetry.register('/mp/memory', "The group's memory: backing, page size, cap and reserved bytes. No parameters", () => {
  eal();
  const m = groupMemory();
  return {
    hugetlb: m.hugetlb,
    page_size: m.pageSize,
    seg_dir: m.segDir,
    cap_bytes: m.capBytes,
    reserved_bytes: m.reservedBytes,
    memzones: m.list().length,
    max_memzones: m.maxMemzones,
  };
});
telemetry.register('/mp/memzones', "The group's memzones (name, length, segment, offset, reserved by). No parameters", () => {
  eal();
  return groupMemory()
    .list()
    .map((z) => ({ name: z.name, len: z.len, segment: z.segment, offset: z.offset, socket_id: z.socketId, flags: z.flags, reserved_by: z.reservedBy }));
});
