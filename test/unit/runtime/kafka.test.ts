import { KafkaJSProtocolError, type Kafka } from 'kafkajs';
import { MeterflowConfigSchema } from '../../../runtime/config';
import { ensureTopics, fetchTopicOffsets, waitForLeaders } from '../../../runtime/kafka';

/**
 * A stand-in for the one kafkajs call fetchTopicOffsets makes: it answers with the protocol errors
 * a broker sends (built with kafkajs's own error class), so what is tested is our retry decision.
 */
function kafkaAnswering(answers: Array<Error | Array<{ partition: number; low: string; high: string }>>) {
  const admins: number[] = [];
  const kafka = {
    admin: () => {
      admins.push(admins.length);
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        fetchTopicOffsets: async () => {
          const next = answers.shift();
          if (!next) throw new Error('no more answers');
          if (next instanceof Error) throw next;
          return next;
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, admins };
}

/** A broker's error as kafkajs builds it from an error code (its typings only name `Error`). */
const protocolError = (type: string, code: number, retriable: boolean, message: string) =>
  new KafkaJSProtocolError({ type, code, retriable, message } as unknown as Error);

const notLeader = () =>
  protocolError(
    'NOT_LEADER_FOR_PARTITION',
    6,
    true,
    'This server is not the leader for that topic-partition',
  );

describe('fetchTopicOffsets', () => {
  it('retries a leader that is still being elected, each time with a new admin client', async () => {
    const offsets = [{ partition: 0, low: '0', high: '42' }];
    const { kafka, admins } = kafkaAnswering([notLeader(), notLeader(), offsets]);
    await expect(fetchTopicOffsets(kafka, 'm.deduped')).resolves.toEqual(offsets);
    expect(admins).toHaveLength(3);
  });

  it('does not retry a refusal', async () => {
    const denied = protocolError(
      'TOPIC_AUTHORIZATION_FAILED',
      29,
      false,
      'Not authorized to access topics: [Topic authorization failed]',
    );
    const { kafka, admins } = kafkaAnswering([denied, [{ partition: 0, low: '0', high: '1' }]]);
    await expect(fetchTopicOffsets(kafka, 'm.deduped')).rejects.toThrow('Not authorized');
    expect(admins).toHaveLength(1);
  });
});

describe('waitForLeaders', () => {
  type Metadata = {
    topics: Array<{ name: string; partitions: Array<{ partitionErrorCode: number; leader: number }> }>;
  };
  function metadataAnswering(answers: Array<Error | Metadata>) {
    let calls = 0;
    const kafka = {
      admin: () => ({
        connect: async () => undefined,
        disconnect: async () => undefined,
        fetchTopicMetadata: async () => {
          calls++;
          const next = answers.shift();
          if (!next) throw new Error('no more answers');
          if (next instanceof Error) throw next;
          return next;
        },
      }),
    } as unknown as Kafka;
    return { kafka, calls: () => calls };
  }
  const led = (leader: number, partitionErrorCode = 0): Metadata => ({
    topics: [
      {
        name: 'm.rated',
        partitions: [
          { partitionErrorCode: 0, leader: 1 },
          { partitionErrorCode, leader },
        ],
      },
    ],
  });
  const noSleep = { sleep: async () => undefined };
  const unknownTopic = () =>
    protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'This server does not host this topic-partition');

  it('waits while the topic is unknown or a partition has no leader, and returns once every partition has one', async () => {
    const { kafka, calls } = metadataAnswering([unknownTopic(), led(-1), led(1, 5), led(1)]);
    await expect(
      waitForLeaders(kafka, ['m.rated'], { ...noSleep, max_attempts: 10 }),
    ).resolves.toBeUndefined();
    expect(calls()).toBe(4);
  });

  it('gives up with the leaderless topics named once the budget is spent', async () => {
    const { kafka, calls } = metadataAnswering([led(-1), led(-1), led(-1)]);
    await expect(waitForLeaders(kafka, ['m.rated'], { ...noSleep, max_attempts: 3 })).rejects.toThrow(
      'kafka: no leader yet for m.rated',
    );
    expect(calls()).toBe(3);
  });
});

describe('ensureTopics', () => {
  /**
   * A broker that has accepted a CreateTopics but not yet loaded the topic: metadata answers
   * UNKNOWN_TOPIC_OR_PARTITION `unloadedFor` times. kafkajs's own `waitForLeaders` option retries
   * only LEADER_NOT_AVAILABLE, so a createTopics that waits for leaders itself fails here; that
   * failure is what stopped a component at start in CI.
   */
  function brokerLoadingTopics(unloadedFor: number) {
    const created: string[] = [];
    let metadataCalls = 0;
    const admin = () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => [...created],
      createTopics: async (args: { waitForLeaders?: boolean; topics: Array<{ topic: string }> }) => {
        created.push(...args.topics.map((t) => t.topic));
        if (args.waitForLeaders)
          throw protocolError(
            'UNKNOWN_TOPIC_OR_PARTITION',
            3,
            true,
            'This server does not host this topic-partition',
          );
        return true;
      },
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
        metadataCalls++;
        if (metadataCalls <= unloadedFor)
          throw protocolError(
            'UNKNOWN_TOPIC_OR_PARTITION',
            3,
            true,
            'This server does not host this topic-partition',
          );
        return {
          topics: topics.map((name) => ({ name, partitions: [{ partitionErrorCode: 0, leader: 1 }] })),
        };
      },
    });
    return { kafka: { admin } as unknown as Kafka, created, metadataCalls: () => metadataCalls };
  }
  const config = MeterflowConfigSchema.parse({});

  it('creates the missing topics and waits through a broker that has not loaded them yet', async () => {
    const broker = brokerLoadingTopics(2);
    await expect(ensureTopics(broker.kafka, config, [{ topic: 'm.rated' }])).resolves.toBeUndefined();
    expect(broker.created).toEqual(['m.rated']);
    expect(broker.metadataCalls()).toBe(3);
  });

  it('creates nothing for topics that exist', async () => {
    const broker = brokerLoadingTopics(0);
    await ensureTopics(broker.kafka, config, [{ topic: 'm.rated' }]);
    await ensureTopics(broker.kafka, config, [{ topic: 'm.rated' }, { topic: 'm.control' }]);
    expect(broker.created).toEqual(['m.rated', 'm.control']);
  });
});
