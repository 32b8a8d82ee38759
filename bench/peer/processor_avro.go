package main

// A subset of Redpanda Connect's `avro` processor: `operator: to_json` with `encoding: binary`
// and a schema from `schema_path` (or inline `schema`). Written for this benchmark: Benthos core
// has no Avro support and no Avro library is available to this build, so the decoder below is a
// small schema-driven Avro binary decoder (the Avro 1.11 specification, "Binary Encoding").
//
// The decoded value is set as the message's structured content. Unions are unwrapped to the
// plain value (null or the branch's value), which is what meterflow's avsc decode gives and what a
// Bloblang mapping wants; Connect's goavro-based processor would instead emit Avro-JSON unions
// ({"string": "x"}). Record field order is not kept (Go maps); maps keep no order either.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func avroProcSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Summary("Decodes Avro binary messages (no registry framing) into structured JSON values. A subset of Redpanda Connect's avro processor, written for meterflow's peer benchmark.").
		Fields(
			service.NewStringEnumField("operator", "to_json").Default("to_json"),
			service.NewStringEnumField("encoding", "binary").Default("binary"),
			service.NewStringField("schema").Default(""),
			service.NewStringField("schema_path").Description("file:// URL or path of an .avsc file.").Default(""),
		)
}

func init() {
	service.MustRegisterProcessor("avro", avroProcSpec(),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.Processor, error) {
			text, err := conf.FieldString("schema")
			if err != nil {
				return nil, err
			}
			path, err := conf.FieldString("schema_path")
			if err != nil {
				return nil, err
			}
			if path != "" {
				b, err := os.ReadFile(strings.TrimPrefix(path, "file://"))
				if err != nil {
					return nil, err
				}
				text = string(b)
			}
			if text == "" {
				return nil, errors.New("avro: one of schema or schema_path is required")
			}
			var schema any
			if err := json.Unmarshal([]byte(text), &schema); err != nil {
				return nil, fmt.Errorf("avro: schema: %w", err)
			}
			dec, err := compileAvro(schema, "", map[string]*avroDecoder{})
			if err != nil {
				return nil, err
			}
			return &avroProc{dec: dec}, nil
		})
}

type avroProc struct{ dec *avroDecoder }

func (p *avroProc) Process(_ context.Context, msg *service.Message) (service.MessageBatch, error) {
	b, err := msg.AsBytes()
	if err != nil {
		return nil, err
	}
	r := &avroReader{b: b}
	v := p.dec.fn(r)
	if r.err == nil && r.pos != len(b) {
		r.err = fmt.Errorf("avro: %d trailing bytes", len(b)-r.pos)
	}
	if r.err != nil {
		return nil, r.err
	}
	msg.SetStructuredMut(v)
	return service.MessageBatch{msg}, nil
}

func (p *avroProc) Close(context.Context) error { return nil }

// ---- decoder ----

type avroReader struct {
	b   []byte
	pos int
	err error
}

func (r *avroReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("avro: "+format, args...)
	}
}

func (r *avroReader) long() int64 {
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		r.fail("bad varint at %d", r.pos)
		return 0
	}
	r.pos += n
	return int64(v>>1) ^ -int64(v&1) // zig-zag
}

func (r *avroReader) bytes() []byte {
	n := r.long()
	if r.err != nil {
		return nil
	}
	if n < 0 || r.pos+int(n) > len(r.b) {
		r.fail("length %d out of range at %d", n, r.pos)
		return nil
	}
	out := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return out
}

func (r *avroReader) fixed(n int) []byte {
	if r.pos+n > len(r.b) {
		r.fail("short read at %d", r.pos)
		return nil
	}
	out := r.b[r.pos : r.pos+n]
	r.pos += n
	return out
}

type avroDecoder struct {
	fn func(*avroReader) any
}

// compileAvro turns a parsed schema into a decoder; named types are registered in `named` so later
// references by name resolve (including recursive ones, through the pointer).
func compileAvro(schema any, namespace string, named map[string]*avroDecoder) (*avroDecoder, error) {
	switch s := schema.(type) {
	case string:
		return primitive(s, namespace, named)
	case []any:
		branches := make([]*avroDecoder, len(s))
		for i, b := range s {
			d, err := compileAvro(b, namespace, named)
			if err != nil {
				return nil, err
			}
			branches[i] = d
		}
		return &avroDecoder{fn: func(r *avroReader) any {
			i := r.long()
			if r.err != nil {
				return nil
			}
			if i < 0 || int(i) >= len(branches) {
				r.fail("union branch %d out of range", i)
				return nil
			}
			return branches[i].fn(r)
		}}, nil
	case map[string]any:
		t, _ := s["type"].(string)
		if t == "" {
			return compileAvro(s["type"], namespace, named)
		}
		ns := namespace
		if v, ok := s["namespace"].(string); ok {
			ns = v
		}
		fullName := func() string {
			n, _ := s["name"].(string)
			if strings.Contains(n, ".") || ns == "" {
				return n
			}
			return ns + "." + n
		}
		switch t {
		case "record", "error":
			d := &avroDecoder{}
			named[fullName()] = d
			fields, _ := s["fields"].([]any)
			names := make([]string, len(fields))
			decs := make([]*avroDecoder, len(fields))
			for i, f := range fields {
				fm, _ := f.(map[string]any)
				names[i], _ = fm["name"].(string)
				fd, err := compileAvro(fm["type"], ns, named)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", names[i], err)
				}
				decs[i] = fd
			}
			d.fn = func(r *avroReader) any {
				out := make(map[string]any, len(names))
				for i, n := range names {
					out[n] = decs[i].fn(r)
					if r.err != nil {
						return nil
					}
				}
				return out
			}
			return d, nil
		case "enum":
			symbols, _ := s["symbols"].([]any)
			d := &avroDecoder{fn: func(r *avroReader) any {
				i := r.long()
				if i < 0 || int(i) >= len(symbols) {
					r.fail("enum index %d out of range", i)
					return nil
				}
				return symbols[i]
			}}
			named[fullName()] = d
			return d, nil
		case "fixed":
			size, _ := s["size"].(float64)
			d := &avroDecoder{fn: func(r *avroReader) any { return string(r.fixed(int(size))) }}
			named[fullName()] = d
			return d, nil
		case "array":
			items, err := compileAvro(s["items"], ns, named)
			if err != nil {
				return nil, err
			}
			return &avroDecoder{fn: func(r *avroReader) any {
				out := []any{}
				for {
					n := blockCount(r)
					if n == 0 || r.err != nil {
						return out
					}
					for ; n > 0; n-- {
						out = append(out, items.fn(r))
					}
				}
			}}, nil
		case "map":
			values, err := compileAvro(s["values"], ns, named)
			if err != nil {
				return nil, err
			}
			return &avroDecoder{fn: func(r *avroReader) any {
				out := map[string]any{}
				for {
					n := blockCount(r)
					if n == 0 || r.err != nil {
						return out
					}
					for ; n > 0; n-- {
						k := string(r.bytes())
						out[k] = values.fn(r)
					}
				}
			}}, nil
		default:
			return primitive(t, ns, named) // {"type": "string", "logicalType": ...}
		}
	}
	return nil, fmt.Errorf("avro: unsupported schema %v", schema)
}

// blockCount reads an array/map block header; a negative count is followed by the block's size.
func blockCount(r *avroReader) int64 {
	n := r.long()
	if n < 0 {
		n = -n
		_ = r.long()
	}
	return n
}

func primitive(t, namespace string, named map[string]*avroDecoder) (*avroDecoder, error) {
	switch t {
	case "null":
		return &avroDecoder{fn: func(*avroReader) any { return nil }}, nil
	case "boolean":
		return &avroDecoder{fn: func(r *avroReader) any { b := r.fixed(1); return b != nil && b[0] != 0 }}, nil
	case "int", "long":
		return &avroDecoder{fn: func(r *avroReader) any { return r.long() }}, nil
	case "float":
		return &avroDecoder{fn: func(r *avroReader) any {
			b := r.fixed(4)
			if b == nil {
				return nil
			}
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}}, nil
	case "double":
		return &avroDecoder{fn: func(r *avroReader) any {
			b := r.fixed(8)
			if b == nil {
				return nil
			}
			return math.Float64frombits(binary.LittleEndian.Uint64(b))
		}}, nil
	case "bytes":
		return &avroDecoder{fn: func(r *avroReader) any { return string(r.bytes()) }}, nil
	case "string":
		return &avroDecoder{fn: func(r *avroReader) any { return string(r.bytes()) }}, nil
	}
	if d, ok := named[t]; ok {
		return d, nil
	}
	if d, ok := named[namespace+"."+t]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("avro: unknown type %q", t)
}
