/** Types of prebuild-targets.mjs (read by tools/pack-check's tests). */
export interface PrebuildTarget {
  /** e.g. `linux-arm64-glibc` */
  name: string;
  /** node-gyp-build's directory under prebuilds/, e.g. `linux-arm64` */
  dir: string;
  /** `process.arch` of the machines that load it */
  arch: string;
  /** the libc tag in the file name (`@mp+name.<libc>.node`) */
  libc: string;
  /** a cross target's binutils prefix, e.g. `aarch64-linux-gnu-` */
  prefix?: string;
  /** the Debian package of a cross target's compiler */
  apt?: string;
}
export const TARGETS: readonly PrebuildTarget[];
export function onPath(cmd: string): boolean;
export function missing(t: PrebuildTarget): string | undefined;
export function selected(): PrebuildTarget[];
