// Package engine is Strongroom's request model: the typed request and
// response every engine speaks, the sentinel errors the HTTP front door
// translates into Vault's status codes, and the operations of Vault's
// logical API.
package engine

import (
	"errors"
	"fmt"
)

// Operation is what a request asks of a path, as in Vault's logical API.
type Operation int

// The operations. The zero value is not an operation.
const (
	OpUnknown Operation = iota
	OpRead
	OpUpdate // PUT and POST: Vault's create and update
	OpDelete
	OpList
	OpPatch
)

// String names the operation as Vault's audit log does.
func (o Operation) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	case OpList:
		return "list"
	case OpPatch:
		return "patch"
	}
	return "unknown"
}

// Sentinel errors of the request path. The front door maps each to one HTTP
// status and never matches error text.
var (
	// ErrPermissionDenied: no valid token, or no policy allows the request (403).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnsupportedPath: no handler for the path (404).
	ErrUnsupportedPath = errors.New("unsupported path")
	// ErrUnsupportedOperation: the path exists but not for this method (405).
	ErrUnsupportedOperation = errors.New("unsupported operation")
	// ErrBadRequest wraps every refusal of malformed input (400).
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound: the secret does not exist (404 with an empty error list).
	ErrNotFound = errors.New("not found")
	// ErrNotFoundNoBody: 404 with an empty body, Vault's answer through
	// logical.RespondWithStatusCode(nil, req, 404) (a KV v2 patch of a
	// secret that does not exist).
	ErrNotFoundNoBody = errors.New("not found, no body")
)

// Error is an error that matches a sentinel kind (ErrBadRequest, ...) with
// errors.Is, and whose message is only the reason, as the client sees it.
type Error struct {
	Kind   error
	Reason string
	cause  error
}

func (e *Error) Error() string { return e.Reason }

// Unwrap exposes the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Kind, e.cause}
	}
	return []error{e.Kind}
}

// Errorf returns an *Error of kind with the formatted reason. A %w verb in
// format keeps the wrapped error reachable by errors.Is.
func Errorf(kind error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Reason: err.Error(), cause: errors.Unwrap(err)}
}
