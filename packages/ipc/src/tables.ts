/**
 * The two tables of request bookkeeping, shaped for the common case of one request to one peer at a
 * time: the first entry is kept in fields and only the others in a Map. A round trip then allocates
 * no Map and never empties one — a Map emptied by `delete` shrinks its table, a call into V8's runtime
 * (Runtime_MapShrink: ≈ 0.5 µs a request in the profile of a round trip).
 */

/**
 * The peers a request still waits on: socket path → pid (-1: unknown). Nearly every request has one
 * peer (a secondary asks its primary; `to` names one process).
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

/**
 * The pending requests of a channel by request id (ids are never 0). `values()` lists them oldest
 * first (by `seq`, their order of creation): DPDK peers' replies carry no id and go to the oldest
 * request of their name, as DPDK matches them.
 */
export class PendingTable<T extends { readonly seq: number }> {
  private oneId = 0;
  private one: T | undefined;
  private readonly more = new Map<number, T>();

  get size(): number {
    return (this.one === undefined ? 0 : 1) + this.more.size;
  }

  get(id: number): T | undefined {
    return this.one !== undefined && id === this.oneId ? this.one : this.more.get(id);
  }

  set(id: number, v: T): void {
    if (this.one !== undefined && id === this.oneId) this.one = v;
    else if (this.one === undefined && !this.more.has(id)) {
      this.one = v;
      this.oneId = id;
    } else this.more.set(id, v);
  }

  delete(id: number): boolean {
    if (this.one !== undefined && id === this.oneId) {
      this.one = undefined;
      this.oneId = 0;
      return true;
    }
    return this.more.delete(id);
  }

  /** A snapshot, oldest first (safe to change the table while going through it). */
  values(): T[] {
    const out = [...this.more.values()];
    if (this.one !== undefined) {
      out.push(this.one);
      if (out.length > 1) out.sort((a, b) => a.seq - b.seq);
    }
    return out;
  }
}
