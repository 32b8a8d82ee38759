import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import type { Logger } from '../../runtime/logger';
import { atCostPriceBook, parsePriceBook, priceBookFingerprint, type PriceBook } from './index';

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
  const admin = kafka.admin();
  await admin.connect();
  const [offsets] = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const end = BigInt(offsets.high);
  if (end === BigInt(offsets.low)) return undefined;
  let latest: PublishedBook | undefined;
  const consumer = kafka.consumer({ groupId: `meterflow-price-book-reader-${crypto.randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading the price book from ${topic} timed out`)),
        timeoutMs,
      );
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

/** Holds the book a price instance rates with, and refreshes it when a new one is published. */
export class PriceBookHolder {
  private book: PriceBook = atCostPriceBook();
  private fingerprint = 'at-cost';
  private lastCheck = 0;
  private lastEnd = -1n;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly logger: Logger,
    private readonly refreshMs = 30_000,
  ) {}

  get current(): PriceBook {
    return this.book;
  }

  async load(): Promise<void> {
    const published = await readPublishedBook(this.kafka, this.topic);
    if (!published) {
      this.logger.warn(
        'no price book published: rating every line at cost (markup 0); publish one with `meterflow pricebook publish`',
      );
      return;
    }
    if (published.fingerprint === this.fingerprint) return;
    this.book = parsePriceBook(published.yaml, published.source_name);
    this.fingerprint = published.fingerprint;
    this.logger.info({ version: this.book.version, fingerprint: published.fingerprint }, 'price book loaded');
  }

  /** Cheap check (the topic's end offset), at most every refreshMs. */
  async refreshIfChanged(): Promise<void> {
    if (Date.now() - this.lastCheck < this.refreshMs) return;
    this.lastCheck = Date.now();
    const admin = this.kafka.admin();
    await admin.connect();
    const [offsets] = await admin.fetchTopicOffsets(this.topic);
    await admin.disconnect();
    const end = BigInt(offsets.high);
    if (end !== this.lastEnd) {
      this.lastEnd = end;
      await this.load();
    }
  }
}
