/** The counters both ring bridges keep (`stats()`), in elements unless named otherwise. */
export interface BridgeStats {
  /** Elements sent to JetStream (ringToStream; republished ones counted again) / received from it (streamToRing). */
  published: number;
  /** Elements the stream acknowledged as stored (ringToStream) / acknowledged to the consumer after the enqueue (streamToRing). */
  acked: number;
  /** Elements taken from the ring and not yet acked (ringToStream) / received and not yet enqueued (streamToRing). */
  pending: number;
  /** Elements sent again after a fault (ringToStream) / delivered again by JetStream (streamToRing). */
  redelivered: number;
  /** Elements dropped as already there: by the stream's de-duplication or the restart skip (ringToStream), by the sequence check (streamToRing). */
  duplicates: number;
  /** JetStream messages acked (each carries 1..batch elements). */
  messages: number;
  /** Failed JetStream calls that were retried after a backoff. */
  retries: number;
  /** Times the bridge waited because its ring was empty (ringToStream) or full (streamToRing). */
  waits: number;
  /** True while the NATS connection is up. */
  connected: boolean;
}

export function emptyStats(): BridgeStats {
  return { published: 0, acked: 0, pending: 0, redelivered: 0, duplicates: 0, messages: 0, retries: 0, waits: 0, connected: false };
}
