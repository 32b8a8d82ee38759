package main

// A subset of Redpanda Connect's `kafka_franz` output, written for meterflow's peer benchmark with
// the public plugin API and franz-go: each Benthos batch is produced with ProduceSync (franz-go
// splits it into per-partition record batches), acks=all and idempotent writes (franz-go's
// defaults, as in Connect), key and topic interpolated per message, the default (murmur2,
// Java-compatible) key partitioner.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func franzOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Summary("Writes a batch of messages to Kafka with franz-go (subset of Redpanda Connect's kafka_franz output).").
		Fields(
			service.NewStringListField("seed_brokers"),
			service.NewInterpolatedStringField("topic"),
			service.NewInterpolatedStringField("key").Default(""),
			service.NewStringEnumField("compression", "", "none", "snappy", "lz4", "gzip", "zstd").
				Description("Empty: franz-go's default (snappy, falling back to none).").Default(""),
			service.NewIntField("max_message_bytes").Default(1024*1024),
			service.NewDurationField("timeout").Default("10s"),
			service.NewOutputMaxInFlightField().Default(10),
			service.NewBatchPolicyField("batching"),
		)
}

func init() {
	service.MustRegisterBatchOutput("kafka_franz", franzOutputSpec(),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			var pol service.BatchPolicy
			maxInFlight, err := conf.FieldMaxInFlight()
			if err != nil {
				return nil, pol, 0, err
			}
			if pol, err = conf.FieldBatchPolicy("batching"); err != nil {
				return nil, pol, 0, err
			}
			out, err := newFranzOutput(conf)
			return out, pol, maxInFlight, err
		})
}

type franzOutput struct {
	opts    []kgo.Opt
	topic   *service.InterpolatedString
	key     *service.InterpolatedString
	hasKey  bool
	timeout time.Duration

	mu     sync.Mutex
	client *kgo.Client
}

func newFranzOutput(conf *service.ParsedConfig) (*franzOutput, error) {
	brokers, err := conf.FieldStringList("seed_brokers")
	if err != nil {
		return nil, err
	}
	out := &franzOutput{}
	if out.topic, err = conf.FieldInterpolatedString("topic"); err != nil {
		return nil, err
	}
	if out.key, err = conf.FieldInterpolatedString("key"); err != nil {
		return nil, err
	}
	keyText, _ := conf.FieldString("key")
	out.hasKey = keyText != ""
	if out.timeout, err = conf.FieldDuration("timeout"); err != nil {
		return nil, err
	}
	maxBytes, err := conf.FieldInt("max_message_bytes")
	if err != nil {
		return nil, err
	}
	compression, err := conf.FieldString("compression")
	if err != nil {
		return nil, err
	}
	out.opts = []kgo.Opt{
		kgo.SeedBrokers(splitList(brokers)...),
		kgo.ProducerBatchMaxBytes(int32(maxBytes)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	if compression != "" {
		codec := map[string]kgo.CompressionCodec{
			"none":   kgo.NoCompression(),
			"snappy": kgo.SnappyCompression(),
			"lz4":    kgo.Lz4Compression(),
			"gzip":   kgo.GzipCompression(),
			"zstd":   kgo.ZstdCompression(),
		}[compression]
		out.opts = append(out.opts, kgo.ProducerBatchCompression(codec))
	}
	return out, nil
}

// splitList accepts both list entries and comma-separated entries, as Connect does.
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (o *franzOutput) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		return nil
	}
	client, err := kgo.NewClient(o.opts...)
	if err != nil {
		return err
	}
	if err := client.Ping(ctx); err != nil {
		client.Close()
		return err
	}
	o.client = client
	return nil
}

func (o *franzOutput) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.Lock()
	client := o.client
	o.mu.Unlock()
	if client == nil {
		return service.ErrNotConnected
	}
	records := make([]*kgo.Record, 0, len(batch))
	for i, m := range batch {
		value, err := m.AsBytes()
		if err != nil {
			return err
		}
		topic, err := batch.TryInterpolatedString(i, o.topic)
		if err != nil {
			return fmt.Errorf("topic: %w", err)
		}
		r := &kgo.Record{Topic: topic, Value: value}
		if o.hasKey {
			key, err := batch.TryInterpolatedBytes(i, o.key)
			if err != nil {
				return fmt.Errorf("key: %w", err)
			}
			r.Key = key
		}
		records = append(records, r)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return client.ProduceSync(ctx, records...).FirstErr()
}

func (o *franzOutput) Close(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		o.client.Close()
		o.client = nil
	}
	return nil
}
