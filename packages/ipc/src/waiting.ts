/**
 * The peers a request still waits on: socket path → pid (-1: unknown). Nearly every request has one
 * peer (a secondary asks its primary; `to` names one process), so the first is kept in two fields and
 * only the others in a Map: a round trip then allocates no Map and never empties one (a Map emptied by
 * `delete` shrinks its table — a call into V8's runtime per request).
 */
export class Waiting {
  private path0: string | undefined;
  private pid0 = 0;
  private more: Map<string, number> | undefined;
  /** How many peers are waited on. */
  size = 0;

  set(path: string, pid: number): void {
    if (path === this.path0) {
      this.pid0 = pid;
      return;
    }
    if (this.more?.has(path)) {
      this.more.set(path, pid);
      return;
    }
    this.size++;
    if (this.path0 === undefined) {
      this.path0 = path;
      this.pid0 = pid;
    } else {
      (this.more ??= new Map()).set(path, pid);
    }
  }

  has(path: string): boolean {
    return path === this.path0 || (this.more !== undefined && this.more.has(path));
  }

  /** The pid of the peer at `path`, or undefined (not waited on). */
  get(path: string): number | undefined {
    return path === this.path0 ? this.pid0 : this.more?.get(path);
  }

  delete(path: string): boolean {
    if (path === this.path0) {
      this.path0 = undefined;
      this.size--;
      return true;
    }
    if (this.more?.delete(path) === true) {
      this.size--;
      return true;
    }
    return false;
  }

  clear(): void {
    this.path0 = undefined;
    this.more = undefined;
    this.size = 0;
  }

  /** A snapshot of [path, pid] pairs (safe to change the set while going through it). */
  entries(): Array<[string, number]> {
    const out: Array<[string, number]> = this.path0 === undefined ? [] : [[this.path0, this.pid0]];
    if (this.more !== undefined) for (const e of this.more) out.push(e);
    return out;
  }

  /** The pid of the only peer waited on (the common case), or undefined when there are none or several. */
  onlyPid(): number | undefined {
    if (this.size !== 1) return undefined;
    if (this.path0 !== undefined) return this.pid0;
    for (const pid of this.more!.values()) return pid;
    return undefined;
  }
}
