package hookbook

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Error kinds. Each maps to one HTTP status at the edge.
const (
	EInvalid      = "invalid"      // 400 malformed request
	EUnauthorized = "unauthorized" // 401
	EForbidden    = "forbidden"    // 403
	ENotFound     = "not_found"    // 404
	EConflict     = "conflict"     // 409
	EPrecondition = "precondition" // 412 (If-Match names another version)
	ETooLarge     = "too_large"    // 413
	EValidation   = "validation"   // 422
	ETooMany      = "too_many"     // 429
	EInternal     = "internal"     // 500
)

// Error is an error a client can act on: Kind selects the HTTP status, Code is
// the stable snake_case code of the JSON answer, Details names the fields at fault.
type Error struct {
	Kind    string
	Code    string
	Message string
	Details map[string]string
	// RetryAfter, when set on a 429 or 503, tells the client when to try
	// again (the Retry-After header).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		parts = append(parts, k+": "+e.Details[k])
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Errorf returns an *Error of kind with code and a formatted message.
func Errorf(kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns the 404 error for a resource that does not exist or
// belongs to another organization.
func NotFound(what string) *Error {
	return Errorf(ENotFound, "not_found", "%s not found", what)
}

// Fields collects validation problems, one message per field.
type Fields map[string]string

// Add records msg for field unless the field already has a message.
func (f Fields) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err returns a 422 validation error naming the fields, or nil when there are none.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: EValidation, Code: "validation_failed", Message: "the request has invalid fields", Details: f}
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsKind reports whether err carries an *Error of the given kind.
func IsKind(err error, kind string) bool {
	e := AsError(err)
	return e != nil && e.Kind == kind
}

// StatusOf maps an error kind to its HTTP status.
func StatusOf(kind string) int {
	switch kind {
	case EInvalid:
		return http.StatusBadRequest
	case EUnauthorized:
		return http.StatusUnauthorized
	case EForbidden:
		return http.StatusForbidden
	case ENotFound:
		return http.StatusNotFound
	case EConflict:
		return http.StatusConflict
	case EPrecondition:
		return http.StatusPreconditionFailed
	case ETooLarge:
		return http.StatusRequestEntityTooLarge
	case EValidation:
		return http.StatusUnprocessableEntity
	case ETooMany:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// HTTPStatus is the status of err at the HTTP edge: its kind's status, or
// 500 for an error that is not an *Error.
func HTTPStatus(err error) int {
	if e := AsError(err); e != nil {
		return StatusOf(e.Kind)
	}
	return http.StatusInternalServerError
}

// Code is err's stable code: "" for nil, "internal_error" for an error
// that is not an *Error.
func Code(err error) string {
	if err == nil {
		return ""
	}
	if e := AsError(err); e != nil {
		return e.Code
	}
	return "internal_error"
}

// RenameFields returns err with the fields of its Details renamed by names
// (fields not in names keep their name), e.g. "slot_id" to "params.slot_id"
// when the same rules check a command's parameters.
func RenameFields(err error, names map[string]string) error {
	e := AsError(err)
	if e == nil || len(e.Details) == 0 {
		return err
	}
	d := make(map[string]string, len(e.Details))
	for k, v := range e.Details {
		if n, ok := names[k]; ok {
			k = n
		}
		d[k] = v
	}
	return &Error{Kind: e.Kind, Code: e.Code, Message: e.Message, Details: d}
}
