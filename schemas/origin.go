package schemas

// Origin is the agency data center a record comes from: the first two
// fields of its Provenance. A connector instance publishes for one Origin,
// the store keeps a watermark per Origin, and reconciliation compares one
// Origin's outbox with the store.
type Origin struct {
	Agency     string
	DataCenter string
}
