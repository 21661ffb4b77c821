package lookup

import _ "embed"

// openAPI is the API's OpenAPI 3.1 description, served at /openapi.yaml and
// checked against real responses by the tests.
//
//go:embed openapi.yaml
var openAPI []byte
