package connector

// Record is one source record on its way to a topic: mapped (Value), or
// not mappable (MapErr), with the original bytes kept for the DLQ.
type Record struct {
	// Topic is the full name of the record topic it belongs to.
	Topic string
	// Key is the Kafka key: the citizen's NIN (an employer id for employer
	// contributions), so one citizen's records stay ordered on one partition.
	Key []byte
	// Value is *schemas.CivilStatusRecord, *schemas.EmploymentRecord or
	// *schemas.ContributionRecord; nil when MapErr is set.
	Value any
	// Raw is the original bytes (outbox payload, CSV line) for the DLQ.
	Raw []byte
	// Position says where the original is (outbox seq, file:line).
	Position string
	// MapErr is why the source could not map it.
	MapErr *MapError
}

// MapError is a record the source could not turn into its Avro type.
type MapError struct {
	Code    string // stable, e.g. payload.invalid, entity.unknown
	Message string
}

func (e *MapError) Error() string { return e.Code + ": " + e.Message }

// Mapping failure codes, beside the validation codes of schemas.
const (
	CodePayloadInvalid = "payload.invalid" // not JSON, or a field of the wrong type
	CodeEntityUnknown  = "entity.unknown"  // an outbox entity or CSV kind askonce does not publish
	CodeOpUnknown      = "op.unknown"      // an outbox op other than upsert, delete, correction
	CodeCSVMalformed   = "csv.malformed"   // a line that is not valid CSV for its header
	CodeCSVEncoding    = "csv.encoding"    // a line that is not UTF-8
	CodeFieldTooLong   = "field.too_long"  // a field longer than the format allows
	CodeLineTooLong    = "line.too_long"   // a CSV line (record) longer than its format allows
	CodeAvroEncode     = "avro.encode"     // valid by the rules, not by its Avro type
)

// Counts are what one batch did.
type Counts struct {
	Published int
	Rejected  int
}

// Instance names one connector instance: a source kind at an agency data center.
type Instance struct {
	Kind       string // pgoutbox, csvdrop
	Agency     string
	DataCenter string
}

// Name is kind:data_center, the instance's label in metrics, logs and checkpoints.
func (i Instance) Name() string { return i.Kind + ":" + i.DataCenter }
