package lookup

import "encoding/json"

// Document is the body of an issued document, as Service.issue signs it:
// the "document" of an issued answer and of GET /v1/attestations/{id}.
// Readers of the API's answers (the clerk console) decode it with this
// type; TestDocumentType keeps it and issue in step.
type Document struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Paper   string `json:"paper"`
	NIN     string `json:"nin"`
	Purpose string `json:"purpose"`
	// RequestedBy names the client, its agency and the clerk.
	RequestedBy map[string]any `json:"requested_by"`
	IssuedAt    string         `json:"issued_at"` // RFC 3339
	AsOf        string         `json:"as_of"`     // RFC 3339: the store held every record read as of then
	ValidUntil  *string        `json:"valid_until"`
	// Fields are the document's fields the purpose may see.
	Fields     map[string]any `json:"fields"`
	Provenance []Provenance   `json:"provenance"`
	Issuer     string         `json:"issuer"`
}

// Provenance is one source record a document rests on, as a document
// carries it (the record's schemas.Provenance without the operation).
type Provenance struct {
	Agency     string `json:"agency"`
	DataCenter string `json:"data_center"`
	SourceKey  string `json:"source_key"`
	// SourceVersion is a JSON number: decode with UseNumber to keep it exact.
	SourceVersion json.Number `json:"source_version"`
	EventTime     string      `json:"event_time"` // RFC 3339 with nanoseconds
}
