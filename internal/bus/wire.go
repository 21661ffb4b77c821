package bus

import (
	"encoding/binary"
	"fmt"
)

// The Confluent wire format: byte 0 is the magic byte 0, bytes 1-4 the
// schema id (big-endian), the rest the Avro binary encoding. Any Kafka
// client with a Confluent Avro deserializer reads it.
const (
	MagicByte  byte = 0
	HeaderSize int  = 5
)

// Reasons of a DecodeError: stable codes that DLQ records and metrics carry.
const (
	ReasonNotFramed     = "wire.not_framed"     // shorter than the header, or magic byte not 0
	ReasonUnknownSchema = "schema.unknown_id"   // the registry has no schema of that id
	ReasonIncompatible  = "schema.incompatible" // the writer schema cannot be read as the topic's schema
	ReasonMalformed     = "avro.malformed"      // the payload does not decode with its writer schema
)

// DecodeError is a message that can never decode: it belongs in the DLQ.
// Errors that are not DecodeErrors (registry unreachable, say) are
// transient and the message must be retried, not rejected.
type DecodeError struct {
	Reason   string
	SchemaID int
	Err      error
}

func (e *DecodeError) Error() string {
	if e.SchemaID > 0 {
		return fmt.Sprintf("decode (%s, schema id %d): %v", e.Reason, e.SchemaID, e.Err)
	}
	return fmt.Sprintf("decode (%s): %v", e.Reason, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// AppendFrame appends the wire-format header for schema id to dst.
func AppendFrame(dst []byte, id int) []byte {
	dst = append(dst, MagicByte, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(id))
	return dst
}

// Unframe splits a wire-format message into its schema id and Avro payload.
func Unframe(b []byte) (int, []byte, error) {
	if len(b) < HeaderSize {
		return 0, nil, &DecodeError{Reason: ReasonNotFramed, Err: fmt.Errorf("%d bytes, shorter than the %d-byte header", len(b), HeaderSize)}
	}
	if b[0] != MagicByte {
		return 0, nil, &DecodeError{Reason: ReasonNotFramed, Err: fmt.Errorf("magic byte is %#x, want 0", b[0])}
	}
	id := binary.BigEndian.Uint32(b[1:HeaderSize])
	if id == 0 || id > 1<<31-1 {
		return 0, nil, &DecodeError{Reason: ReasonUnknownSchema, Err: fmt.Errorf("schema id %d is out of range", id)}
	}
	return int(id), b[HeaderSize:], nil
}
