/**
 * The vocabulary of memzones shared by the table ({@link GroupMemory}) and the public `memzone`
 * namespace: DPDK's `RTE_MEMZONE_*` flags, the defaults, and the shapes a memzone is described by.
 */
/** DPDK-compatible memzone flags (`RTE_MEMZONE_*`). */
export const MEMZONE_2MB = 0x1;
export const MEMZONE_1GB = 0x2;
export const MEMZONE_SIZE_HINT_ONLY = 0x4;
export const MEMZONE_16MB = 0x100;
export const MEMZONE_16GB = 0x200;
export const MEMZONE_256KB = 0x10000;
export const MEMZONE_256MB = 0x20000;
export const MEMZONE_512MB = 0x40000;
export const MEMZONE_4GB = 0x80000;
export const MEMZONE_IOVA_CONTIG = 0x100000;
/** Each page-size flag and the page size it asks for. */
export const PAGE_FLAGS: ReadonlyArray<[number, number]> = [
  [MEMZONE_256KB, 256 << 10],
  [MEMZONE_2MB, 2 << 20],
  [MEMZONE_16MB, 16 << 20],
  [MEMZONE_256MB, 256 << 20],
  [MEMZONE_512MB, 512 << 20],
  [MEMZONE_1GB, 1 << 30],
  [MEMZONE_4GB, 4 * 2 ** 30],
  [MEMZONE_16GB, 16 * 2 ** 30],
];
/** Every flag {@link reserve} accepts. */
export const KNOWN_FLAGS = PAGE_FLAGS.reduce((a, [f]) => a | f, MEMZONE_SIZE_HINT_ONLY | MEMZONE_IOVA_CONTIG);

/** RTE_CACHE_LINE_SIZE: the default alignment. */
export const CACHE_LINE_SIZE = 64;
/** SOCKET_ID_ANY. */
export const SOCKET_ID_ANY = -1;

/** A named, fixed block of the group's shared memory (rte_memzone). */
export interface Memzone {
  readonly name: string;
  /** Length in bytes (as reserved; `buffer.byteLength`). */
  readonly len: number;
  /** Index of the segment (file `<prefix>map_<segment>`) holding it. */
  readonly segment: number;
  /** Offset from the start of the segment: the same in every process (no virtual addresses shared). */
  readonly offset: number;
  readonly socketId: number;
  readonly flags: number;
  readonly align: number;
  /** Page size of the backing memory (2 MiB on hugetlbfs, 4 KiB on /dev/shm). */
  readonly hugepageSz: number;
  /** Pid of the process that reserved it. */
  readonly reservedBy: number;
  /** The memzone's bytes, mapped MAP_SHARED into this process (not a copy). */
  readonly buffer: ArrayBuffer;
}

/**
 * Everything another thread needs to map a memzone's bytes without joining the group: plain data, so it
 * crosses `postMessage` (worker threads get their own mapping of the same physical memory).
 */
export interface MemzoneDescriptor {
  readonly name: string;
  readonly path: string;
  readonly offset: number;
  readonly len: number;
  readonly pageSize: number;
}

/** Options of {@link reserve}. */
export interface ReserveOptions {
  /** Power of two, default 64 (a cache line). */
  align?: number;
  /** NUMA socket, or -1 (any). This group has socket 0 only. */
  socket?: number;
  /** `MEMZONE_*` flags. */
  flags?: number;
}



/** What {@link list} reports of each memzone (a Memzone without its mapping). */
export type MemzoneInfo = Omit<Memzone, 'buffer'>;
