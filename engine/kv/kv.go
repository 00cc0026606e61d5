// Package kv is Strongroom's key-value secrets engine, version 1 (Vault's
// passthrough backend) and version 2 (Vault's versioned backend). It speaks
// the HTTP API of hashicorp/vault-plugin-secrets-kv (v0.26): the same paths,
// request fields, response fields and types, status codes and error
// messages, so that `vault kv` and every Vault client work unchanged. Each
// path's file names the Vault behaviour it matches.
//
// A mount's records live in its own seal.View, encrypted by the barrier.
// The layout (layout.go) keeps one record per secret under its folder,
// folder markers so that a listing reads only the keys of one folder's
// children, and, for version 2, one record per version of the data, so that
// a read loads one version and destroy or max_versions pruning deletes
// exactly that record. Version data up to 64 MiB less a margin goes through
// seal.View.SetLarge.
//
// Deliberate deviations from Vault, repeated where they apply:
//   - no attribution fields (created_by, deleted_by, last_updated_by): a
//     Request carries no identity;
//   - paths are validated: "..", "." and empty segments, a trailing slash
//     outside LIST, a NUL byte, invalid UTF-8 and more than MaxPathBytes
//     bytes are 400s (Vault's HTTP layer refuses ".." and rewrites most of
//     the others before the plugin sees them);
//   - a negative or too large max_versions is a 400 instead of wrapping to
//     a uint32;
//   - trailing data after the JSON body is a 400 (Vault ignores it);
//   - "data": null is stored as {};
//   - field validation messages do not show the value of data or
//     custom_metadata fields, which may be secret.
package kv

import (
	"errors"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/seal"
)

// Sentinel errors of the engine. Each is returned wrapped in an
// engine.Error of kind engine.ErrBadRequest, so errors.Is matches both the
// sentinel and engine.ErrBadRequest, and the message is Vault's.
var (
	// ErrCASMismatch: options.cas is not the secret's current version.
	ErrCASMismatch = errors.New("check-and-set parameter did not match the current version")
	// ErrCASRequired: the mount or the secret requires options.cas and the
	// request has none.
	ErrCASRequired = errors.New("check-and-set parameter required for this call")
	// ErrInvalidPath: the secret path is empty where one is required, has
	// "..", "." or empty segments, a trailing slash on a non-LIST request,
	// a NUL byte, invalid UTF-8, or is longer than MaxPathBytes.
	ErrInvalidPath = errors.New("invalid path")
)

// MaxPathBytes is the longest secret path (below the mount and below
// data/, metadata/, ...) the engine accepts. It keeps every storage key far
// under storage.MaxKeySize and bounds the folder markers one write creates.
const MaxPathBytes = 4096

// Options configures a backend.
type Options struct {
	// Now is the clock; nil means time.Now. Tests inject one to move
	// through delete_version_after.
	Now func() time.Time
	// DefaultLeaseTTL is the mount's default lease TTL, the refresh
	// interval KV v1 reads report (Vault's passthrough: the mount's
	// DefaultLeaseTTL); zero means the system default, 768h.
	DefaultLeaseTTL time.Duration
}

// systemDefaultLeaseTTL is Vault's default lease TTL.
const systemDefaultLeaseTTL = 768 * time.Hour

func (o Options) clock() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

// Factory builds the backend of a kv mount: version 2 when
// e.Options["version"] is "2", version 1 when it is "1" or empty (as Vault's
// kv.Factory). Any other version is an engine.ErrBadRequest. It does not
// write.
func Factory(e *mounts.Entry, view *seal.View) (engine.Backend, error) {
	if e == nil || view == nil {
		return nil, errors.New("kv: nil mount entry or view")
	}
	switch v := e.Options["version"]; v {
	case "", "1":
		return NewV1(view, Options{DefaultLeaseTTL: time.Duration(e.Config.DefaultLeaseTTL) * time.Second}), nil
	case "2":
		return NewV2(view, Options{}), nil
	default:
		return nil, engine.Errorf(engine.ErrBadRequest, "invalid kv version %q: must be 1 or 2", v)
	}
}

var _ mounts.Factory = Factory

// NewV1 returns the version 1 (unversioned) backend over view; of opts it
// uses DefaultLeaseTTL.
func NewV1(view *seal.View, opts Options) engine.Backend {
	ttl := opts.DefaultLeaseTTL
	if ttl <= 0 {
		ttl = systemDefaultLeaseTTL
	}
	return &v1Backend{st: sealStore{view}, defaultTTL: ttl}
}

// NewV2 returns the version 2 (versioned) backend over view.
func NewV2(view *seal.View, opts Options) engine.Backend {
	return &v2Backend{st: sealStore{view}, now: opts.clock()}
}

// badRequest returns an engine.ErrBadRequest with the formatted reason.
func badRequest(format string, args ...any) error {
	return engine.Errorf(engine.ErrBadRequest, format, args...)
}

// errCorrupt reports a stored record that does not decode: a bug or
// tampering the barrier did not catch. It is a server error (500).
func errCorrupt(what string, err error) error {
	return fmt.Errorf("kv: corrupt %s record: %w", what, err)
}
