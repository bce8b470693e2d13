import { accessSync, constants as fsc, readFileSync, readdirSync, statfsSync } from 'node:fs';
import { MpError } from './errors.js';
import { log } from './log.js';

/** One hugepage size the kernel offers (/sys/kernel/mm/hugepages). */
export interface HugepageSize {
  pageSize: number;
  total: number;
  free: number;
}

/** One mounted hugetlbfs (/proc/mounts). */
export interface HugetlbfsMount {
  path: string;
  pageSize: number;
}

/** What this machine offers: hugepage pools and hugetlbfs mounts. */
export interface HugepageInfo {
  sizes: HugepageSize[];
  mounts: HugetlbfsMount[];
  defaultPageSize: number;
}

const HUGETLBFS_MAGIC = 0x958458f6;
const TMPFS_MAGIC = 0x01021994;

function readNumber(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return 0;
  }
}

/** Read the hugepage pools and hugetlbfs mounts of this machine. */
export function hugepageInfo(): HugepageInfo {
  const sizes: HugepageSize[] = [];
  try {
    for (const d of readdirSync('/sys/kernel/mm/hugepages')) {
      const m = /^hugepages-(\d+)kB$/.exec(d);
      if (!m) continue;
      const base = `/sys/kernel/mm/hugepages/${d}`;
      sizes.push({ pageSize: Number(m[1]) * 1024, total: readNumber(`${base}/nr_hugepages`), free: readNumber(`${base}/free_hugepages`) });
    }
  } catch {
    // no hugepage support in this kernel
  }
  let defaultPageSize = 0;
  try {
    const m = /^Hugepagesize:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) defaultPageSize = Number(m[1]) * 1024;
  } catch {
    // no /proc
  }
  const mounts: HugetlbfsMount[] = [];
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, path, type, opts] = line.split(' ');
      if (type !== 'hugetlbfs' || path === undefined) continue;
      const ps = /(?:^|,)pagesize=(\d+)([KMG])/.exec(opts ?? '');
      const mult = ps ? { K: 1024, M: 1 << 20, G: 1 << 30 }[ps[2] as 'K' | 'M' | 'G'] : 0;
      mounts.push({ path: path.replace(/\\040/g, ' '), pageSize: ps ? Number(ps[1]) * mult : defaultPageSize });
    }
  } catch {
    // no /proc
  }
  return { sizes, mounts, defaultPageSize };
}

/** Where a new group's segments go. */
export interface Backing {
  segDir: string;
  hugetlb: boolean;
  pageSize: number;
  capBytes: number;
}

/** Default `-m` on /dev/shm: the cap is a limit, memory is only committed as memzones are reserved. */
export const DEFAULT_SHM_CAP = 1 << 30;
export const SHM_DIR = '/dev/shm';

/**
 * Choose the backing of a new group (from `info`, this machine's by default), as DPDK's EAL does: hugetlbfs when a mount with free pages exists
 * (or `hugeDir` names one), else /dev/shm with one log line; `noHuge` goes straight to /dev/shm.
 *
 * @throws {MpError} EINVAL — `hugeDir` is not a hugetlbfs or tmpfs mount, or not writable
 * @throws {MpError} ENOMEM — `memBytes` is more than the free hugepages of `hugeDir`
 */
export function chooseBacking(
  o: { noHuge?: boolean; hugeDir?: string; memBytes?: number },
  info: HugepageInfo = hugepageInfo(),
): Backing {
  const pageSizeShm = 4096;
  if (o.noHuge) {
    return { segDir: SHM_DIR, hugetlb: false, pageSize: pageSizeShm, capBytes: o.memBytes ?? DEFAULT_SHM_CAP };
  }
  const freeOf = (ps: number): number => info.sizes.find((s) => s.pageSize === ps)?.free ?? 0;
  if (o.hugeDir !== undefined) {
    let fsType: number;
    try {
      fsType = statfsSync(o.hugeDir).type;
      accessSync(o.hugeDir, fsc.W_OK);
    } catch (err) {
      throw new MpError('EINVAL', `--huge-dir ${o.hugeDir} is not a writable directory`, { cause: err });
    }
    if (fsType === TMPFS_MAGIC) {
      return { segDir: o.hugeDir, hugetlb: false, pageSize: pageSizeShm, capBytes: o.memBytes ?? DEFAULT_SHM_CAP };
    }
    if (fsType !== HUGETLBFS_MAGIC) throw new MpError('EINVAL', `--huge-dir ${o.hugeDir} is not a hugetlbfs (or tmpfs) mount`);
    const mount = info.mounts.find((m) => m.path === o.hugeDir);
    const ps = mount?.pageSize ?? info.defaultPageSize;
    const avail = freeOf(ps) * ps;
    if (o.memBytes !== undefined && o.memBytes > avail) {
      throw new MpError('ENOMEM', `-m asks for ${o.memBytes} bytes; ${o.hugeDir} has ${freeOf(ps)} free ${ps >> 10} KiB pages (${avail} bytes)`);
    }
    return { segDir: o.hugeDir, hugetlb: true, pageSize: ps, capBytes: o.memBytes ?? avail };
  }
  for (const m of info.mounts) {
    const avail = freeOf(m.pageSize) * m.pageSize;
    if (avail <= 0 || (o.memBytes !== undefined && avail < o.memBytes)) continue;
    try {
      accessSync(m.path, fsc.W_OK);
    } catch {
      continue;
    }
    return { segDir: m.path, hugetlb: true, pageSize: m.pageSize, capBytes: o.memBytes ?? avail };
  }
  const why =
    info.mounts.length === 0
      ? 'no hugetlbfs is mounted'
      : `no hugetlbfs mount has ${o.memBytes ?? 'any'} free bytes of hugepages`;
  log('notice', 'MEM', `${why}; using ${SHM_DIR} (4 KiB pages) instead — pass --no-huge to say so, or --huge-dir to choose a mount`);
  return { segDir: SHM_DIR, hugetlb: false, pageSize: pageSizeShm, capBytes: o.memBytes ?? DEFAULT_SHM_CAP };
}
