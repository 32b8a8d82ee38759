/**
 * Highest committable offset of one fetched batch of one partition.
 *
 * A fetched batch is split into several bulk requests that may be in flight together and finish
 * in any order. The consumer may only commit an offset once EVERY message before it is in
 * Elasticsearch (or on the dead-letter topic): committing past a message that is still in flight
 * would lose it if the sink died then. So acknowledgements are recorded per message, and the
 * committable position is the first message not yet acknowledged.
 *
 * The batch's offsets are not consecutive. The stages upstream write in Kafka transactions, and
 * every transaction leaves a control record (its commit marker) in the partition; a read_committed
 * consumer never receives those, nor the records of aborted transactions. So the tracker goes by
 * the offsets the batch actually holds, and a gap is never waited for: every offset inside a gap is
 * one this consumer can never be given, and committing past it loses nothing. Once every message is
 * acknowledged the position is the end of the batch, past the control record that closes its last
 * transaction.
 *
 * (Waiting for consecutive offsets instead stalled the commit at the first transaction marker: the
 * consumer then fetched the rest of the batch again and re-indexed it, about three times every
 * document in the end-to-end bench, bench/README.md.)
 */
export class ContiguousOffsets {
  private readonly acked = new Set<string>();
  private next = 0;

  /**
   * `offsets`: the batch's message offsets, in order. `end`: the offset after the last one the
   * fetch covered (kafkajs's `batch.lastOffset()` + 1, which counts filtered control records).
   */
  constructor(
    private readonly offsets: readonly string[],
    private readonly end: string,
  ) {}

  ack(offset: string): void {
    this.acked.add(offset);
    while (this.next < this.offsets.length && this.acked.delete(this.offsets[this.next])) this.next++;
  }

  /** The offset to commit: every message below it is acknowledged (Kafka commits "next to read"). */
  get committable(): string {
    return this.next < this.offsets.length ? this.offsets[this.next] : this.end;
  }

  /** Acknowledged messages waiting behind one still in flight. */
  get waiting(): number {
    return this.acked.size;
  }
}
