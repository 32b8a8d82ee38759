package main

// A subset of Redpanda Connect's `aws_s3` input, written for meterflow's peer benchmark with the
// public plugin API: it lists every object under `prefix` once (no SQS mode), streams each object
// through the configured core scanner (for a CUR export: `decompress: {algorithm: gzip, into:
// {csv: {}}}`, one message per row keyed by the header) and ends the input when the last object is
// consumed, so `benthos` exits once everything is delivered. Metadata as Connect sets it:
// s3_key, s3_bucket, s3_last_modified_unix, s3_content_type.

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func s3InputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Summary("Downloads every object under a prefix of an S3 bucket and consumes it with a scanner (subset of Redpanda Connect's aws_s3 input).").
		Fields(
			service.NewStringField("bucket"),
			service.NewStringField("prefix").Default(""),
			service.NewStringField("region").Default("us-east-1"),
			service.NewStringField("endpoint").Default(""),
			service.NewBoolField("force_path_style_urls").Default(false),
			service.NewObjectField("credentials",
				service.NewStringField("id").Default(""),
				service.NewStringField("secret").Default("").Secret(),
				service.NewStringField("token").Default("").Secret(),
			).Description("Static credentials; the AWS default chain when id is empty."),
			service.NewScannerField("scanner"),
			service.NewAutoRetryNacksToggleField(),
		)
}

func init() {
	service.MustRegisterBatchInput("aws_s3", s3InputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			in, err := newS3Input(conf, mgr)
			if err != nil {
				return nil, err
			}
			return service.AutoRetryNacksBatchedToggled(conf, in)
		})
}

type s3Input struct {
	bucket, prefix, region, endpoint string
	pathStyle                        bool
	id, secret, token                string
	scanner                          *service.OwnedScannerCreator
	log                              *service.Logger

	mu      sync.Mutex
	client  *s3.Client
	pending []s3Object
	current *s3Reading
}

type s3Object struct {
	key          string
	lastModified int64
}

type s3Reading struct {
	obj         s3Object
	contentType string
	scanner     *service.OwnedScanner
}

func newS3Input(conf *service.ParsedConfig, mgr *service.Resources) (*s3Input, error) {
	in := &s3Input{log: mgr.Logger()}
	var err error
	for _, f := range []struct {
		dst  *string
		path []string
	}{
		{&in.bucket, []string{"bucket"}},
		{&in.prefix, []string{"prefix"}},
		{&in.region, []string{"region"}},
		{&in.endpoint, []string{"endpoint"}},
		{&in.id, []string{"credentials", "id"}},
		{&in.secret, []string{"credentials", "secret"}},
		{&in.token, []string{"credentials", "token"}},
	} {
		if *f.dst, err = conf.FieldString(f.path...); err != nil {
			return nil, err
		}
	}
	if in.pathStyle, err = conf.FieldBool("force_path_style_urls"); err != nil {
		return nil, err
	}
	if in.scanner, err = conf.FieldScanner("scanner"); err != nil {
		return nil, err
	}
	return in, nil
}

func (in *s3Input) Connect(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.client != nil {
		return nil
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(in.region)}
	if in.id != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(in.id, in.secret, in.token)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if in.endpoint != "" {
			o.BaseEndpoint = aws.String(in.endpoint)
		}
		o.UsePathStyle = in.pathStyle
	})
	// List once, like Connect's aws_s3 input without SQS: the object set is fixed at start.
	var objects []s3Object
	pager := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &in.bucket, Prefix: &in.prefix})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if o.Key == nil || strings.HasSuffix(*o.Key, "/") {
				continue
			}
			var lm int64
			if o.LastModified != nil {
				lm = o.LastModified.Unix()
			}
			objects = append(objects, s3Object{key: *o.Key, lastModified: lm})
		}
	}
	in.client = client
	in.pending = objects
	return nil
}

func (in *s3Input) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.client == nil {
		return nil, nil, service.ErrNotConnected
	}
	for {
		if in.current == nil {
			if len(in.pending) == 0 {
				return nil, nil, service.ErrEndOfInput
			}
			obj := in.pending[0]
			out, err := in.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &in.bucket, Key: &obj.key})
			if err != nil {
				return nil, nil, err
			}
			details := service.NewScannerSourceDetails()
			details.SetName(obj.key)
			// The scanner calls this once every message of the object is delivered (Connect uses it
			// for delete_objects; nothing to do here).
			scanner, err := in.scanner.Create(out.Body, func(context.Context, error) error { return nil }, details)
			if err != nil {
				_ = out.Body.Close()
				return nil, nil, err
			}
			in.pending = in.pending[1:]
			in.current = &s3Reading{obj: obj, contentType: aws.ToString(out.ContentType), scanner: scanner}
		}
		batch, ack, err := in.current.scanner.NextBatch(ctx)
		if errors.Is(err, io.EOF) {
			_ = in.current.scanner.Close(ctx)
			in.current = nil
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		for _, m := range batch {
			m.MetaSetMut("s3_key", in.current.obj.key)
			m.MetaSetMut("s3_bucket", in.bucket)
			m.MetaSetMut("s3_last_modified_unix", in.current.obj.lastModified)
			m.MetaSetMut("s3_content_type", in.current.contentType)
		}
		return batch, ack, nil
	}
}

func (in *s3Input) Close(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.current != nil {
		_ = in.current.scanner.Close(ctx)
		in.current = nil
	}
	return in.scanner.Close(ctx)
}
