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
	// ClientToken is the caller's token (auth/token uses it as the parent
	// of a new token, and for the *-self paths).
	ClientToken string
	// Sudo reports that the caller's policies grant sudo on the request
	// path (root tokens always have it): some operations need it.
	Sudo bool
	// RemoteAddr is the client's address as its connection gives it
	// (http.Request.RemoteAddr, "host:port"; never a forwarding header):
	// what AppRole's CIDR bindings are checked against.
	RemoteAddr string
	// Ignored lists the body's parameters the engine did not read (see
	// NoteIgnored), for the front door's warning.
	Ignored []string
	// Replaced lists the request's parameters that the path captures
	// (see PathCapturer), which the front door sets after the engine has
	// answered, for Vault's "replaced" warning.
	Replaced []string
	noted    bool
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
	// Auth is the envelope's auth block, set by token creation and logins.
	Auth *Auth
	// LeaseDuration is the envelope's lease_duration in seconds: a KV v1
	// read's refresh interval. No lease ID is ever issued.
	LeaseDuration int64
}

// Auth is the auth block of Vault's response envelope (api.SecretAuth).
type Auth struct {
	ClientToken   string            `json:"client_token"`
	Accessor      string            `json:"accessor"`
	Policies      []string          `json:"policies"`
	TokenPolicies []string          `json:"token_policies"`
	Metadata      map[string]string `json:"metadata"`
	LeaseDuration int64             `json:"lease_duration"`
	Renewable     bool              `json:"renewable"`
	EntityID      string            `json:"entity_id"`
	TokenType     string            `json:"token_type"`
	Orphan        bool              `json:"orphan"`
	NumUses       int               `json:"num_uses"`
}

// Backend serves the requests of one mount. Errors are the sentinels of
// this package (ErrBadRequest, ErrNotFound, ...) or wrap them.
type Backend interface {
	HandleRequest(ctx context.Context, req *Request) (*Response, error)
}

// ExistenceChecker is implemented by backends that can tell whether an
// update would create its target, so the ACL demands the create capability
// for a new target and update for an existing one (Vault's ExistenceCheck).
// Backends without it have every write checked as an update.
type ExistenceChecker interface {
	Exists(ctx context.Context, req *Request) (bool, error)
}

// Invalidator is implemented by backends that cache records of their
// mount (Vault's Backend.InvalidateKey). Invalidate drops what they cache
// of key, or everything for "", because another node may have changed it
// (seal.EpochTransit); the next request reads storage again. It must be
// safe to call concurrently with requests.
type Invalidator interface {
	Invalidate(key string)
}
