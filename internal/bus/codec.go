package bus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/askonce/askonce/schemas"
)

// SchemaRegistry is what the codec needs of a schema registry;
// *registry.Client implements it for any Confluent-API registry.
type SchemaRegistry interface {
	Register(ctx context.Context, subject, schema string) (int, error)
	Lookup(ctx context.Context, subject, schema string) (id, version int, err error)
	SchemaByID(ctx context.Context, id int) (string, error)
}

// Codec encodes values in the Confluent wire format with the topic's
// schema, and decodes messages written with any registered version of it
// (schema resolution: a v1 writer is read by a v2 reader and vice versa,
// as the compatibility level allows). It caches ids, writer schemas and
// resolved schemas, so the registry is asked once per schema id.
type Codec struct {
	reg          SchemaRegistry
	autoRegister bool
	isNotFound   func(error) bool
	api          avro.API

	mu       sync.RWMutex
	topics   map[string]topicSchema
	writers  map[int]avro.Schema
	resolved map[resolveKey]avro.Schema
	missing  map[int]time.Time // ids the registry did not know, until when
}

type topicSchema struct {
	id     int
	schema avro.Schema
}

type resolveKey struct {
	topic string
	id    int
}

// CodecOptions configure a codec.
type CodecOptions struct {
	// AutoRegister registers the topic's schema in Use; otherwise Use only
	// looks it up and fails when a release pipeline has not registered it.
	AutoRegister bool
	// IsNotFound tells a registry's "no such schema" answer from an outage
	// (registry.IsNotFound for askonce's client).
	IsNotFound func(error) bool
}

// NewCodec returns a codec over reg.
func NewCodec(reg SchemaRegistry, opt CodecOptions) *Codec {
	isNF := opt.IsNotFound
	if isNF == nil {
		isNF = func(error) bool { return false }
	}
	return &Codec{
		reg:          reg,
		autoRegister: opt.AutoRegister,
		isNotFound:   isNF,
		// Bounds protect decoders from length prefixes in hostile input.
		api:      avro.Config{MaxByteSliceSize: 1 << 20, MaxSliceAllocSize: 1 << 16}.Freeze(),
		topics:   map[string]topicSchema{},
		writers:  map[int]avro.Schema{},
		resolved: map[resolveKey]avro.Schema{},
		missing:  map[int]time.Time{},
	}
}

// Use makes schemaText the schema of topic (subject <topic>-value):
// registered (or looked up) now, so that Encode needs no round trip.
func (c *Codec) Use(ctx context.Context, topic, schemaText string) (int, error) {
	sch, err := schemas.Parse(schemaText)
	if err != nil {
		return 0, err
	}
	subject := schemas.Name(topic)
	var id int
	// Looked up first, registered only when absent: a registry that needs
	// a credential for writes (outside dev mode) serves every component
	// whose schema is already registered, credential or not.
	id, _, err = c.reg.Lookup(ctx, subject, schemaText)
	if err != nil && c.autoRegister && c.isNotFound(err) {
		id, err = c.reg.Register(ctx, subject, schemaText)
	}
	if err != nil {
		return 0, fmt.Errorf("bus: schema of %s: %w", subject, err)
	}
	c.mu.Lock()
	c.topics[topic] = topicSchema{id: id, schema: sch}
	c.writers[id] = sch
	c.mu.Unlock()
	return id, nil
}

// SchemaID is the id Use found for topic.
func (c *Codec) SchemaID(topic string) (int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.topics[topic]
	return t.id, ok
}

// Encode returns v in the wire format with topic's schema.
func (c *Codec) Encode(topic string, v any) ([]byte, error) {
	c.mu.RLock()
	t, ok := c.topics[topic]
	c.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("bus: no schema for topic %s (call Use first)", topic)
	}
	payload, err := c.api.Marshal(t.schema, v)
	if err != nil {
		return nil, fmt.Errorf("bus: encode for %s: %w", topic, err)
	}
	out := make([]byte, 0, HeaderSize+len(payload))
	return append(AppendFrame(out, t.id), payload...), nil
}

// Decode reads a wire-format message of topic into out (a pointer to the
// topic's Go type) and returns the writer's schema id. A *DecodeError means
// the message can never decode; any other error is transient.
func (c *Codec) Decode(ctx context.Context, topic string, data []byte, out any) (int, error) {
	id, payload, err := Unframe(data)
	if err != nil {
		return 0, err
	}
	reader, err := c.readerFor(ctx, topic, id)
	if err != nil {
		return id, err
	}
	if len(payload) == 0 {
		// hamba reads an empty body as the zero record without an error.
		return id, &DecodeError{Reason: ReasonMalformed, SchemaID: id, Err: fmt.Errorf("no Avro body after the header")}
	}
	if err := c.api.Unmarshal(reader, payload, out); err != nil {
		return id, &DecodeError{Reason: ReasonMalformed, SchemaID: id, Err: err}
	}
	return id, nil
}

// readerFor returns the schema that reads data of writer id as topic's schema.
func (c *Codec) readerFor(ctx context.Context, topic string, id int) (avro.Schema, error) {
	key := resolveKey{topic, id}
	c.mu.RLock()
	t, ok := c.topics[topic]
	res, resolved := c.resolved[key]
	until, miss := c.missing[id]
	c.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("bus: no schema for topic %s (call Use first)", topic)
	}
	if id == t.id {
		return t.schema, nil
	}
	if resolved {
		return res, nil
	}
	if miss && time.Now().Before(until) {
		return nil, &DecodeError{Reason: ReasonUnknownSchema, SchemaID: id, Err: fmt.Errorf("schema id %d is not in the registry", id)}
	}
	writer, err := c.writer(ctx, id)
	if err != nil {
		return nil, err
	}
	res, err = avro.NewSchemaCompatibility().Resolve(t.schema, writer)
	if err != nil {
		return nil, &DecodeError{Reason: ReasonIncompatible, SchemaID: id, Err: err}
	}
	c.mu.Lock()
	c.resolved[key] = res
	c.mu.Unlock()
	return res, nil
}

func (c *Codec) writer(ctx context.Context, id int) (avro.Schema, error) {
	c.mu.RLock()
	w, ok := c.writers[id]
	c.mu.RUnlock()
	if ok {
		return w, nil
	}
	text, err := c.reg.SchemaByID(ctx, id)
	if err != nil {
		if c.isNotFound(err) {
			// A flood of messages with a bogus id asks the registry once a minute.
			c.mu.Lock()
			c.missing[id] = time.Now().Add(time.Minute)
			c.mu.Unlock()
			return nil, &DecodeError{Reason: ReasonUnknownSchema, SchemaID: id, Err: err}
		}
		return nil, fmt.Errorf("bus: fetch schema %d: %w", id, err)
	}
	w, err = schemas.Parse(text)
	if err != nil {
		return nil, &DecodeError{Reason: ReasonIncompatible, SchemaID: id, Err: err}
	}
	c.mu.Lock()
	c.writers[id] = w
	c.mu.Unlock()
	return w, nil
}

// DecodeRecord decodes a message of one of the record topics of topics into
// its record type (*schemas.CivilStatusRecord, *schemas.EmploymentRecord,
// *schemas.ContributionRecord). A topic that is not a record topic is a
// *DecodeError (ReasonIncompatible) and a nil record; a record that does
// not decode comes back with the error, as far as it was decoded.
func (c *Codec) DecodeRecord(ctx context.Context, topics Topics, topic string, data []byte) (schemas.Record, error) {
	var r schemas.Record
	switch topic {
	case topics.CivilStatus:
		r = &schemas.CivilStatusRecord{}
	case topics.Employment:
		r = &schemas.EmploymentRecord{}
	case topics.Contribution:
		r = &schemas.ContributionRecord{}
	default:
		return nil, &DecodeError{Reason: ReasonIncompatible, Err: fmt.Errorf("topic %s is not a record topic", topic)}
	}
	_, err := c.Decode(ctx, topic, data, r)
	return r, err
}
