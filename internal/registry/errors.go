package registry

import (
	"errors"
	"fmt"

	"github.com/askonce/askonce/internal/bus"
)

// Error is a Confluent Schema Registry error: an HTTP status and an error
// code (40401, 42201, 409, ...) with a message. The server answers with it;
// the client returns it.
type Error struct {
	Status  int    `json:"-"`
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("schema registry: %s (error %d)", e.Message, e.Code)
}

// Confluent's error codes.
const (
	CodeSubjectNotFound           = 40401
	CodeVersionNotFound           = 40402
	CodeSchemaNotFound            = 40403
	CodeSubjectSoftDeleted        = 40404
	CodeSubjectNotSoftDeleted     = 40405
	CodeVersionSoftDeleted        = 40406
	CodeVersionNotSoftDeleted     = 40407
	CodeSubjectLevelCompatMissing = 40408
	CodeIncompatible              = 409
	CodeInvalidSchema             = 42201
	CodeInvalidVersion            = 42202
	CodeInvalidCompatibility      = 42203
	CodeStore                     = 50001
	CodeUnauthorized              = 40101
)

func apiErr(status, code int, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errSubjectNotFound(s string) *Error {
	return apiErr(404, CodeSubjectNotFound, "Subject '%s' not found.", s)
}
func errVersionNotFound(v string) *Error {
	return apiErr(404, CodeVersionNotFound, "Version %s not found.", v)
}
func errSchemaNotFound() *Error { return apiErr(404, CodeSchemaNotFound, "Schema not found") }
func errInvalidVersion(v string) *Error {
	return apiErr(422, CodeInvalidVersion, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)
}
func errInvalidLevel() *Error {
	return apiErr(422, CodeInvalidCompatibility, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
}

// IsNotFound tells whether err is a registry answer that a subject,
// version or schema does not exist.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == 404
}

// IsPermanent tells whether err is a registry answer that retrying cannot
// change: a refused or invalid schema, or refused credentials. Outages
// (no answer, 5xx) are not permanent.
func IsPermanent(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == 401 || e.Status == 403 || e.Status == 409 || e.Status == 422
}

// Bus wraps a client for bus.Open.
func (c *Client) Bus() bus.Registry {
	return bus.Registry{Client: c, IsNotFound: IsNotFound, IsPermanent: IsPermanent}
}
