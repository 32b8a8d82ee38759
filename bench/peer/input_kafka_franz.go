package main

// A subset of Redpanda Connect's `kafka_franz` input, written for meterflow's peer benchmark with
// the public plugin API and franz-go: a consumer group over `topics`, records of one partition
// grouped into batches by the `batching` policy (a batch never mixes partitions), and offsets
// committed only up to the highest contiguous batch that was acknowledged (a per-partition
// checkpoint, so batches finished out of order by parallel pipeline threads never commit past an
// unfinished one), every `commit_period` and on close. Nacked batches are redelivered
// (auto_replay_nacks). Metadata: kafka_key, kafka_topic, kafka_partition, kafka_offset,
// kafka_timestamp_unix. Not implemented: regex topics, explicit partitions, TLS, SASL, rack
// awareness; a rebalance does not drop batches already read from revoked partitions.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func franzInputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Summary("Consumes topics as a consumer group with franz-go (subset of Redpanda Connect's kafka_franz input).").
		Fields(
			service.NewStringListField("seed_brokers"),
			service.NewStringListField("topics"),
			service.NewStringField("consumer_group"),
			service.NewBoolField("start_from_oldest").Default(true),
			service.NewStringEnumField("isolation_level", "read_uncommitted", "read_committed").
				Description("read_committed skips records of aborted transactions (what meterflow's consumers use).").
				Default("read_uncommitted"),
			service.NewDurationField("commit_period").Default("5s"),
			service.NewBatchPolicyField("batching"),
			service.NewAutoRetryNacksToggleField(),
		)
}

func init() {
	service.MustRegisterBatchInput("kafka_franz", franzInputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			in, err := newFranzInput(conf, mgr)
			if err != nil {
				return nil, err
			}
			return service.AutoRetryNacksBatchedToggled(conf, in)
		})
}

type topicPartition struct {
	topic     string
	partition int32
}

type partState struct {
	batcher *service.Batcher // nil: no batching policy, a partition's fetch is one batch
	msgs    service.MessageBatch
	count   int
	last    *kgo.Record
	cp      []*cpEntry // batches handed out and not yet committable, in offset order
}

type cpEntry struct {
	last *kgo.Record
	done bool
}

type readyBatch struct {
	batch service.MessageBatch
	st    *partState
	last  *kgo.Record
}

type franzInput struct {
	opts []kgo.Opt
	pol  service.BatchPolicy
	res  *service.Resources
	log  *service.Logger

	client *kgo.Client
	parts  map[topicPartition]*partState
	ready  []readyBatch
	cpMu   sync.Mutex // guards partState.cp (acks arrive from pipeline goroutines)
}

func newFranzInput(conf *service.ParsedConfig, mgr *service.Resources) (*franzInput, error) {
	brokers, err := conf.FieldStringList("seed_brokers")
	if err != nil {
		return nil, err
	}
	topics, err := conf.FieldStringList("topics")
	if err != nil {
		return nil, err
	}
	group, err := conf.FieldString("consumer_group")
	if err != nil {
		return nil, err
	}
	oldest, err := conf.FieldBool("start_from_oldest")
	if err != nil {
		return nil, err
	}
	isolation, err := conf.FieldString("isolation_level")
	if err != nil {
		return nil, err
	}
	commitPeriod, err := conf.FieldDuration("commit_period")
	if err != nil {
		return nil, err
	}
	in := &franzInput{res: mgr, log: mgr.Logger(), parts: map[topicPartition]*partState{}}
	if in.pol, err = conf.FieldBatchPolicy("batching"); err != nil {
		return nil, err
	}
	reset := kgo.NewOffset().AtEnd()
	if oldest {
		reset = kgo.NewOffset().AtStart()
	}
	in.opts = []kgo.Opt{
		kgo.SeedBrokers(splitList(brokers)...),
		kgo.ConsumeTopics(splitList(topics)...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(reset),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(commitPeriod),
		kgo.OnPartitionsRevoked(func(ctx context.Context, c *kgo.Client, _ map[string][]int32) {
			if err := c.CommitMarkedOffsets(ctx); err != nil {
				in.log.Errorf("commit on revoke: %v", err)
			}
		}),
	}
	if isolation == "read_committed" {
		in.opts = append(in.opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	return in, nil
}

func (in *franzInput) Connect(ctx context.Context) error {
	if in.client != nil {
		return nil
	}
	client, err := kgo.NewClient(in.opts...)
	if err != nil {
		return err
	}
	if err := client.Ping(ctx); err != nil {
		client.Close()
		return err
	}
	in.client = client
	return nil
}

func (in *franzInput) state(topic string, partition int32) (*partState, error) {
	tp := topicPartition{topic, partition}
	st := in.parts[tp]
	if st == nil {
		st = &partState{}
		if !in.pol.IsNoop() {
			b, err := in.pol.NewBatcher(in.res)
			if err != nil {
				return nil, err
			}
			st.batcher = b
		}
		in.parts[tp] = st
	}
	return st, nil
}

func (in *franzInput) flush(ctx context.Context, st *partState) error {
	if st.count == 0 {
		return nil
	}
	batch := st.msgs
	if st.batcher != nil {
		var err error
		if batch, err = st.batcher.Flush(ctx); err != nil {
			return err
		}
	}
	in.ready = append(in.ready, readyBatch{batch: batch, st: st, last: st.last})
	st.msgs, st.count, st.last = nil, 0, nil
	return nil
}

// nextDeadline is how long a poll may wait before a partially filled batch is due.
func (in *franzInput) nextDeadline() (time.Duration, bool) {
	var best time.Duration
	found := false
	for _, st := range in.parts {
		if st.batcher == nil || st.count == 0 {
			continue
		}
		if d, ok := st.batcher.UntilNext(); ok && (!found || d < best) {
			best, found = d, true
		}
	}
	return best, found
}

func (in *franzInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if in.client == nil {
		return nil, nil, service.ErrNotConnected
	}
	for {
		if len(in.ready) > 0 {
			rb := in.ready[0]
			in.ready = in.ready[1:]
			entry := &cpEntry{last: rb.last}
			in.cpMu.Lock()
			rb.st.cp = append(rb.st.cp, entry)
			in.cpMu.Unlock()
			return rb.batch, func(_ context.Context, err error) error {
				if err != nil {
					return nil // redelivered by auto_replay_nacks; never committed past
				}
				in.ack(rb.st, entry)
				return nil
			}, nil
		}

		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if d, ok := in.nextDeadline(); ok {
			if d < time.Millisecond {
				d = time.Millisecond
			}
			pollCtx, cancel = context.WithTimeout(ctx, d)
		}
		fetches := in.client.PollFetches(pollCtx)
		cancel()
		if fetches.IsClientClosed() {
			return nil, nil, service.ErrNotConnected
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				in.log.Errorf("fetch %s/%d: %v", topic, partition, err)
			}
		})
		var ferr error
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 || ferr != nil {
				return
			}
			st, err := in.state(p.Topic, p.Partition)
			if err != nil {
				ferr = err
				return
			}
			for _, r := range p.Records {
				m := service.NewMessage(r.Value)
				m.MetaSetMut("kafka_key", string(r.Key))
				m.MetaSetMut("kafka_topic", r.Topic)
				m.MetaSetMut("kafka_partition", int(r.Partition))
				m.MetaSetMut("kafka_offset", int(r.Offset))
				m.MetaSetMut("kafka_timestamp_unix", r.Timestamp.Unix())
				st.count++
				st.last = r
				if st.batcher == nil {
					st.msgs = append(st.msgs, m)
				} else if st.batcher.Add(m) {
					if ferr = in.flush(ctx, st); ferr != nil {
						return
					}
				}
			}
			if st.batcher == nil {
				ferr = in.flush(ctx, st)
			}
		})
		if ferr != nil {
			return nil, nil, ferr
		}
		for _, st := range in.parts {
			if st.batcher == nil || st.count == 0 {
				continue
			}
			// A due period reads as 1ns (Benthos never returns 0 here): a millisecond or less is due.
			if d, ok := st.batcher.UntilNext(); ok && d <= time.Millisecond {
				if err := in.flush(ctx, st); err != nil {
					return nil, nil, err
				}
			}
		}
	}
}

// ack marks a batch done and marks for commit the end of the longest finished prefix.
func (in *franzInput) ack(st *partState, entry *cpEntry) {
	in.cpMu.Lock()
	defer in.cpMu.Unlock()
	entry.done = true
	var commit *kgo.Record
	for len(st.cp) > 0 && st.cp[0].done {
		commit = st.cp[0].last
		st.cp = st.cp[1:]
	}
	if commit != nil && in.client != nil {
		in.client.MarkCommitRecords(commit)
	}
}

func (in *franzInput) Close(ctx context.Context) error {
	if in.client == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := in.client.CommitMarkedOffsets(cctx); err != nil {
		in.log.Warnf("final commit: %v", err)
	}
	in.client.Close()
	in.cpMu.Lock()
	in.client = nil
	in.cpMu.Unlock()
	for _, st := range in.parts {
		if st.batcher != nil {
			_ = st.batcher.Close(ctx)
		}
	}
	return nil
}
