package engine

import (
	"context"
	"net/url"
)

// Request is one logical request, routed to the mount that serves its path.
// The front door has authenticated it and checked that its token may make it.
type Request struct {
	ID          string
	Operation   Operation
	MountPath   string // the mount, e.g. "secret/"
	Path        string // below the mount, without a leading slash
	Body        []byte // the raw JSON body; engines decode it into typed structs
	ContentType string
	Query       url.Values
}

// Response is an engine's answer. The front door writes it in Vault's
// envelope.
type Response struct {
	// Data is the envelope's data. A nil Data with Status 0 answers 204.
	Data any
	// Warnings go to the envelope's warnings.
	Warnings []string
	// Status overrides the HTTP status: KV v2 answers 404 with the
	// metadata of a deleted version, as Vault does.
	Status int
}

// Backend serves the requests of one mount. Errors are the sentinels of
// this package (ErrBadRequest, ErrNotFound, ...) or wrap them.
type Backend interface {
	HandleRequest(ctx context.Context, req *Request) (*Response, error)
}
