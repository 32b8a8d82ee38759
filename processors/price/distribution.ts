import fs from 'node:fs';
import path from 'node:path';
import type { Consumer, Kafka } from 'kafkajs';
import type { MeterflowConfig } from '../../runtime/config';
import {
  CONSUMER_MAX_WAIT_MS,
  createKafka,
  ensureTopics,
  fetchTopicOffsets,
  onConsumerStopped,
  topicNames,
  transientGroupId,
} from '../../runtime/kafka';
import type { Logger } from '../../runtime/logger';
import {
  atCostPriceBook,
  loadPriceBook,
  parsePriceBook,
  priceBookFingerprint,
  type PriceBook,
} from './index';

/**
 * Price-book distribution. The book is published to a compacted single-partition topic (key
 * `current`), so every price instance rates with the same version and a new instance finds it
 * without any file. The record carries the YAML text itself: instances parse and validate it with
 * the same code the publisher used, and the fingerprint says whether two instances hold the same
 * book. Publishing is a plain (non-transactional) write, so the topic end is its high watermark.
 */
export interface PublishedBook {
  version: string;
  fingerprint: string;
  source_name: string;
  yaml: string;
  published_at: string;
}

export async function publishPriceBook(kafka: Kafka, topic: string, file: string): Promise<PublishedBook> {
  const yaml = fs.readFileSync(file, 'utf8');
  const book = parsePriceBook(yaml, path.basename(file)); // validates; throws with file, line and rule
  const published: PublishedBook = {
    version: book.version,
    fingerprint: priceBookFingerprint(book),
    source_name: path.basename(file),
    yaml,
    published_at: new Date().toISOString(),
  };
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: 'current', value: JSON.stringify(published) }],
    });
  } finally {
    await producer.disconnect();
  }
  return published;
}

/** Reads the latest published book (the topic's last `current` record); undefined when none. */
export async function readPublishedBook(
  kafka: Kafka,
  topic: string,
  timeoutMs = 30_000,
): Promise<PublishedBook | undefined> {
  const [offsets] = await fetchTopicOffsets(kafka, topic);
  const end = BigInt(offsets.high);
  if (end === BigInt(offsets.low)) return undefined;
  let latest: PublishedBook | undefined;
  const consumer = kafka.consumer({ groupId: transientGroupId(topic, 'reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading the price book from ${topic} timed out`)),
        timeoutMs,
      );
      onConsumerStopped(consumer, reject);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (message.key?.toString() === 'current' && message.value)
              latest = JSON.parse(message.value.toString()) as PublishedBook;
            if (BigInt(message.offset) + 1n >= end) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return latest;
}

/**
 * Holds the book a price instance rates with. A background consumer follows the price-book topic
 * from its beginning, so a newly published book replaces the current one within moments, between
 * two batches (a batch is always rated with one book; each record names the version that rated it).
 * A book that fails validation is logged and ignored: the instance keeps the last good one.
 * If the follower stops for good once started (a non-retriable error, such as a revoked ACL), the
 * instance would go on rating with a book that may no longer be current: `onFatal` is called, and
 * the processes pass one that exits so that the supervisor restarts them.
 */
export class PriceBookHolder {
  private book: PriceBook = atCostPriceBook();
  private fingerprint = 'at-cost';
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly logger: Logger,
    private readonly onFatal: (err: Error) => void,
  ) {}

  get current(): PriceBook {
    return this.book;
  }

  /** Starts following the topic; resolves once the book published before the call is loaded. */
  async start(timeoutMs = 60_000): Promise<void> {
    const [offsets] = await fetchTopicOffsets(this.kafka, this.topic);
    const end = BigInt(offsets.high);
    this.consumer = this.kafka.consumer({
      groupId: transientGroupId(this.topic, 'follower'),
      maxWaitTimeInMs: CONSUMER_MAX_WAIT_MS,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    let caughtUp: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (end === BigInt(offsets.low)) caughtUp();
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        if (message.key?.toString() === 'current' && message.value)
          this.accept(JSON.parse(message.value.toString()) as PublishedBook);
        if (BigInt(message.offset) + 1n >= end) caughtUp();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    let started = false;
    await Promise.race([
      ready,
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`reading the price book from ${this.topic} timed out`)),
          timeoutMs,
        );
        // Before the start resolves, the start fails; after it, the instance must not go on.
        onConsumerStopped(this.consumer!, (err) => (started ? this.onFatal(err) : reject(err)));
      }),
    ]).finally(() => clearTimeout(timer));
    started = true;
    if (this.fingerprint === 'at-cost') {
      this.logger.warn(
        'no price book published: rating every line at cost (markup 0); publish one with `meterflow pricebook publish`',
      );
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }

  private accept(published: PublishedBook): void {
    if (published.fingerprint === this.fingerprint) return;
    try {
      this.book = parsePriceBook(published.yaml, published.source_name);
      this.fingerprint = published.fingerprint;
      this.logger.info(
        { version: this.book.version, fingerprint: published.fingerprint },
        'price book loaded',
      );
    } catch (err) {
      this.logger.error(
        { err, version: published.version },
        'published price book is invalid; keeping the current one',
      );
    }
  }
}

/**
 * The book invoices use is the one the price stage rates with: the one published on the price-book
 * topic; when none was ever published, `processor.price_book_file`; else at cost (no plans).
 */
export async function currentPriceBook(config: MeterflowConfig): Promise<PriceBook> {
  const kafka = createKafka(config, 'invoice-book');
  const topic = topicNames(config).priceBook;
  await ensureTopics(kafka, config, [{ topic }]);
  const published = await readPublishedBook(kafka, topic);
  if (published) return parsePriceBook(published.yaml, published.source_name);
  if (config.processor.price_book_file) return loadPriceBook(config.processor.price_book_file);
  return atCostPriceBook();
}
