package registry

import (
	"bytes"
	"encoding/json"
)

// avroPrimitives are Avro's primitive type names.
var avroPrimitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

// schemaReserved are the attributes Avro reserves for schema definitions
// (Java Avro's Schema.SCHEMA_RESERVED). On a primitive they mean nothing:
// Avro's parser drops them, so {"type":"int","name":"X"} is the schema
// "int" and Confluent stores, finds and numbers it as "int". Other
// attributes of a primitive (logicalType, connect.name, ...) are
// properties and stay.
var schemaReserved = []string{"doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "aliases"}

// dropPrimitiveReserved returns text with the reserved attributes of every
// primitive schema in it removed, or text itself when it has none (or is
// not JSON: the parser then says what is wrong with it).
func dropPrimitiveReserved(text string) string {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return text
	}
	if !stripSchema(v) {
		return text
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return text
	}
	return string(bytes.TrimSpace(buf.Bytes()))
}

// stripSchema removes reserved attributes from the primitives in the
// decoded schema v, in place; it tells whether it removed any.
func stripSchema(v any) bool {
	changed := false
	switch s := v.(type) {
	case []any: // a union
		for _, branch := range s {
			changed = stripSchema(branch) || changed
		}
	case map[string]any:
		switch t := s["type"].(type) {
		case string:
			switch {
			case avroPrimitives[t]:
				for _, k := range schemaReserved {
					if _, ok := s[k]; ok {
						delete(s, k)
						changed = true
					}
				}
			case t == "record" || t == "error":
				fields, _ := s["fields"].([]any)
				for _, f := range fields {
					if fm, ok := f.(map[string]any); ok {
						changed = stripSchema(fm["type"]) || changed
					}
				}
			case t == "array":
				changed = stripSchema(s["items"]) || changed
			case t == "map":
				changed = stripSchema(s["values"]) || changed
			}
		case map[string]any, []any:
			changed = stripSchema(t) || changed
		}
	}
	return changed
}
