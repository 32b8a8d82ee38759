/**
 * Highest contiguous acknowledged offset of one partition.
 *
 * A fetched batch is split into several bulk requests that may be in flight together and finish
 * in any order. The consumer may only commit an offset once EVERY message before it is in
 * Elasticsearch (or on the dead-letter topic): committing past a message that is still in flight
 * would lose it if the sink died then. So acknowledgements are recorded per offset, and the
 * committable position is the first offset not yet acknowledged.
 */
export class ContiguousOffsets {
  private readonly acked = new Set<bigint>();
  private next: bigint;

  /** `start`: the first offset this tracker will see (the batch's first message). */
  constructor(start: string | bigint) {
    this.next = BigInt(start);
  }

  ack(offset: string | bigint): void {
    const o = BigInt(offset);
    if (o < this.next) return;
    this.acked.add(o);
    while (this.acked.delete(this.next)) this.next++;
  }

  /** The offset to commit: every offset below it is acknowledged (Kafka commits "next to read"). */
  get committable(): string {
    return this.next.toString();
  }

  /** Acknowledged offsets waiting behind a gap. */
  get waiting(): number {
    return this.acked.size;
  }
}
