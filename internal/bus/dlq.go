package bus

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Headers of a dead-letter record on askonce.dlq.v1. The value is the
// original bytes, untouched (an outbox payload, a CSV line, a Kafka
// message value), and the key the original key, so a fixed record can be
// replayed as it was. Back-office teams and dashboards match on the code.
const (
	HeaderDLQCode       = "askonce.dlq.code"        // machine-readable reason: a validation code or a decode reason
	HeaderDLQMessage    = "askonce.dlq.message"     // human-readable reason
	HeaderDLQViolations = "askonce.dlq.violations"  // JSON array of every violation, when validation failed
	HeaderDLQSource     = "askonce.dlq.source"      // who rejected it: connector instance or consumer
	HeaderDLQPosition   = "askonce.dlq.position"    // where the original is: outbox seq, file:line, topic/partition/offset
	HeaderDLQTopic      = "askonce.dlq.topic"       // the record topic it was meant for
	HeaderDLQAgency     = "askonce.dlq.agency"      // the agency the record came from
	HeaderDLQDataCenter = "askonce.dlq.data_center" // its data center
	HeaderDLQTime       = "askonce.dlq.time"        // when it was rejected, RFC 3339
)

// Reject describes why a record goes to the dead-letter queue.
type Reject struct {
	Code       string
	Message    string
	Violations any    // marshalled to JSON when not nil
	RejectedBy string // the component or connector instance that rejected it (header askonce.dlq.source)
	Position   string
	Topic      string
	Agency     string
	DataCenter string
}

// DLQMessage builds the dead-letter record of an original key and value.
func DLQMessage(dlqTopic string, key, value []byte, r Reject, now time.Time) kafka.Message {
	h := []kafka.Header{
		{Key: HeaderDLQCode, Value: []byte(r.Code)},
		{Key: HeaderDLQMessage, Value: []byte(r.Message)},
		{Key: HeaderDLQSource, Value: []byte(r.RejectedBy)},
		{Key: HeaderDLQPosition, Value: []byte(r.Position)},
		{Key: HeaderDLQTopic, Value: []byte(r.Topic)},
		{Key: HeaderDLQAgency, Value: []byte(r.Agency)},
		{Key: HeaderDLQDataCenter, Value: []byte(r.DataCenter)},
		{Key: HeaderDLQTime, Value: []byte(now.UTC().Format(time.RFC3339Nano))},
	}
	if r.Violations != nil {
		if b, err := json.Marshal(r.Violations); err == nil {
			h = append(h, kafka.Header{Key: HeaderDLQViolations, Value: b})
		}
	}
	return kafka.Message{Topic: dlqTopic, Key: key, Value: value, Headers: h}
}

// Header returns the value of header k of m, or "".
func Header(m kafka.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// OffsetPosition formats a Kafka position for HeaderDLQPosition.
func OffsetPosition(topic string, partition int, offset int64) string {
	return topic + "/" + strconv.Itoa(partition) + "/" + strconv.FormatInt(offset, 10)
}
