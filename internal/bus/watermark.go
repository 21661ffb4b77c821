package bus

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/askonce/askonce/schemas"
)

// Watermarks. A connector that has published everything its data center
// had committed at its source before an instant T writes a watermark
// marker carrying T on EVERY partition of every record topic its agency
// writes, after those records (acks=all). A consumer that has applied a
// partition up to a marker has therefore applied every record of that data
// center on that partition committed before T; once it has applied markers
// of T' >= T on all of them, the data center's watermark is at least T.
// The watermark travels through the same topics and partitions as the
// records, so a dead connector, a lagging broker and a stopped or wedged
// consumer all show as an old watermark.
//
// A marker is a Kafka record with a null value (consumers using
// Confluent's deserializers receive null and skip it), the key
// "askonce.watermark/<data_center>" and these headers:
const (
	HeaderWatermark           = "askonce.watermark"             // T, RFC 3339 with nanoseconds, UTC
	HeaderWatermarkAgency     = "askonce.watermark.agency"      // the agency of the data center
	HeaderWatermarkDataCenter = "askonce.watermark.data_center" // the data center
	// HeaderWatermarkPartitions is how many partitions the topic had when
	// the round was written: a data center's watermark is known only once
	// markers of all of them are applied.
	HeaderWatermarkPartitions = "askonce.watermark.partitions"
	// HeaderWatermarkPartition is the partition the marker is meant for
	// (the writer's balancer places it there).
	HeaderWatermarkPartition = "askonce.watermark.partition"
)

// WatermarkKeyPrefix starts the key of every marker.
const WatermarkKeyPrefix = "askonce.watermark/"

// Watermark is one parsed marker.
type Watermark struct {
	Agency     string
	DataCenter string
	At         time.Time
	Partitions int
}

// WatermarkMessages are the markers of one round for topic: one per
// partition, in partition order.
func WatermarkMessages(topic string, partitions int, agency, dc string, at time.Time) []kafka.Message {
	ts := []byte(at.UTC().Format(time.RFC3339Nano))
	out := make([]kafka.Message, partitions)
	for p := range partitions {
		out[p] = kafka.Message{Topic: topic, Key: []byte(WatermarkKeyPrefix + dc), Headers: []kafka.Header{
			{Key: HeaderWatermark, Value: ts},
			{Key: HeaderWatermarkAgency, Value: []byte(agency)},
			{Key: HeaderWatermarkDataCenter, Value: []byte(dc)},
			{Key: HeaderWatermarkPartitions, Value: []byte(strconv.Itoa(partitions))},
			{Key: HeaderWatermarkPartition, Value: []byte(strconv.Itoa(p))},
		}}
	}
	return out
}

// IsWatermark reports whether m is a watermark marker (it has the header;
// whether it is a valid one is ParseWatermark's business).
func IsWatermark(m kafka.Message) bool {
	for _, h := range m.Headers {
		if h.Key == HeaderWatermark {
			return true
		}
	}
	return false
}

// Watermark rejection codes (DLQ).
const (
	CodeWatermarkInvalid = "watermark.invalid" // a header missing or unreadable, or a value set
	CodeWatermarkFuture  = "watermark.future"  // T after the consumer's clock (beyond the skew allowed)
	CodeWatermarkAgency  = "watermark.agency"  // the agency does not write this topic, or the data center is not the agency's
)

// WatermarkSkew is how far in the future a marker's T may lie (clock
// differences between data centers and the bus).
const WatermarkSkew = 5 * time.Minute

// WatermarkError is why a marker is refused.
type WatermarkError struct {
	Code, Reason string
}

func (e *WatermarkError) Error() string { return e.Code + ": " + e.Reason }

// ParseWatermark reads and checks a marker found on topic: its agency must
// be one that writes topic (agencies), its data center one of that
// agency's, and its T not after now + WatermarkSkew.
func ParseWatermark(m kafka.Message, agencies []string, now time.Time) (Watermark, error) {
	bad := func(code, f string, a ...any) (Watermark, error) {
		return Watermark{}, &WatermarkError{Code: code, Reason: fmt.Sprintf(f, a...)}
	}
	if len(m.Value) != 0 {
		return bad(CodeWatermarkInvalid, "a watermark marker has a null value, this one has %d bytes", len(m.Value))
	}
	w := Watermark{Agency: Header(m, HeaderWatermarkAgency), DataCenter: Header(m, HeaderWatermarkDataCenter)}
	at, err := time.Parse(time.RFC3339Nano, Header(m, HeaderWatermark))
	if err != nil {
		return bad(CodeWatermarkInvalid, "header %s is not an RFC 3339 time", HeaderWatermark)
	}
	w.At = at.UTC()
	if w.At.Year() < 2000 {
		return bad(CodeWatermarkInvalid, "watermark %s is before 2000", w.At.Format(time.RFC3339))
	}
	if w.At.After(now.Add(WatermarkSkew)) {
		return bad(CodeWatermarkFuture, "watermark %s is after now (%s) by more than %s", w.At.Format(time.RFC3339), now.UTC().Format(time.RFC3339), WatermarkSkew)
	}
	n, err := strconv.Atoi(Header(m, HeaderWatermarkPartitions))
	if err != nil || n < 1 || n > 10000 {
		return bad(CodeWatermarkInvalid, "header %s must be a partition count", HeaderWatermarkPartitions)
	}
	w.Partitions = n
	if m.Partition >= n || Header(m, HeaderWatermarkPartition) != strconv.Itoa(m.Partition) {
		return bad(CodeWatermarkInvalid, "marker meant for partition %q found on partition %d of a round over %d",
			Header(m, HeaderWatermarkPartition), m.Partition, n)
	}
	if !slices.Contains(agencies, w.Agency) {
		return bad(CodeWatermarkAgency, "agency %q does not write this topic", w.Agency)
	}
	if !schemas.DataCenterOf(w.Agency, w.DataCenter) || len(w.DataCenter) > 63 || !validName(w.DataCenter) {
		return bad(CodeWatermarkAgency, "data center %q is not one of agency %s's", w.DataCenter, w.Agency)
	}
	if string(m.Key) != WatermarkKeyPrefix+w.DataCenter {
		return bad(CodeWatermarkInvalid, "a marker's key is %s<data_center>", WatermarkKeyPrefix)
	}
	return w, nil
}

func validName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// RecordTopicsOf are the record topics agency writes (and writes markers on).
func (t Topics) RecordTopicsOf(agency string) []string {
	switch {
	case slices.Contains(schemas.CivilStatusAgencies(), agency):
		return []string{t.CivilStatus}
	case slices.Contains(schemas.FundAgencies(), agency):
		return []string{t.Employment, t.Contribution}
	}
	return nil
}

// WritersOf are the agencies that write record topic topic.
func (t Topics) WritersOf(topic string) []string {
	switch topic {
	case t.CivilStatus:
		return schemas.CivilStatusAgencies()
	case t.Employment, t.Contribution:
		return schemas.FundAgencies()
	}
	return nil
}

// PartitionBalancer places a message that names its partition (header
// askonce.watermark.partition) there, and every other by Kafka's murmur2
// hash of its key, as Writer's default does.
type PartitionBalancer struct{ hash kafka.Murmur2Balancer }

// Balance implements kafka.Balancer.
func (b *PartitionBalancer) Balance(msg kafka.Message, partitions ...int) int {
	if v := Header(msg, HeaderWatermarkPartition); v != "" {
		if p, err := strconv.Atoi(v); err == nil && slices.Contains(partitions, p) {
			return p
		}
	}
	return b.hash.Balance(msg, partitions...)
}
