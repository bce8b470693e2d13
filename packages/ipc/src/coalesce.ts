/**
 * Coalescing (opt-in, `start({ coalesce: true })`, group channels only): one-way messages of one
 * synchronous run to one peer without an inbox leave as one datagram of up to MAX_COALESCE messages.
 * The first goes at once (so a missing peer still throws from its sendMsg); the rest when the batch
 * is full, before anything else this process sends (order is kept), or in a microtask.
 */
import { errnoName } from './errors.js';
import { MAX_COALESCE, WIRE } from './layout.js';
import type { Transport } from './transport.js';
import { warnLimited } from './warn.js';

/** Messages to one peer waiting to leave as one coalesced datagram. */
interface Batch {
  buf: Uint8Array;
  n: number;
}

function newBatch(): Batch {
  return { buf: new Uint8Array(MAX_COALESCE * WIRE.size), n: 0 };
}

export class Coalescer {
  /** Open batches by destination path, in the order they were opened; spare buffers. */
  private readonly batches = new Map<string, Batch>();
  private readonly spare: Batch[] = [];
  private flushQueued = false;
  private readonly flushLater = (): void => {
    this.flushQueued = false;
    this.flush('');
  };

  constructor(private readonly transport: Transport) {}

  /** Is any batch open (then it goes before anything else this process sends)? */
  get open(): boolean {
    return this.batches.size > 0;
  }

  /**
   * Send every open batch, oldest first, and close them. Returns the result (0 or -errno) for
   * `path`; failures elsewhere are logged (those messages' sendMsg calls returned already).
   */
  flush(path: string): number {
    let ret = 0;
    for (const [to, b] of this.batches) {
      if (b.n > 0) {
        const r = this.transport.send(to, b.buf.subarray(0, b.n * WIRE.size), null);
        if (to === path) ret = r;
        else if (r !== 0) warnLimited(`coalesced ${r}`, `${b.n} coalesced message(s) to ${to} were lost: ${errnoName(r)}`);
      }
      b.n = 0;
      this.spare.push(b);
    }
    this.batches.clear();
    return ret;
  }

  /**
   * Queue the message `out` (no fds) for `path` when a batch to it is open (0, or the flush's
   * result when that filled it); else undefined: the caller sends it now and then calls
   * {@link opened}, so the sender still learns synchronously that a peer is gone.
   */
  add(path: string, out: Uint8Array): number | undefined {
    const b = this.batches.get(path);
    if (b === undefined) return undefined;
    b.buf.set(out, b.n * WIRE.size);
    b.n++;
    return b.n === MAX_COALESCE ? this.flush(path) : 0;
  }

  /** Open a batch to `path` (its first message went on its own); it leaves at the end of this run at the latest. */
  opened(path: string): void {
    this.batches.set(path, this.spare.pop() ?? newBatch());
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushLater);
    }
  }
}
