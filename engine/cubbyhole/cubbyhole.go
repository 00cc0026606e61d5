// Package cubbyhole is Vault's cubbyhole secrets engine: every token has a
// private key-value store that no other token, root included, can read,
// and that is deleted with the token.
//
// The engine matches OpenBao's internal/vault/logical_cubbyhole.go (Vault's
// builtin/logical/cubbyhole): read, write (the whole body object, 204),
// delete and list of one path pattern, an existence check so that a first
// write needs the create capability, no lease on reads, "missing data
// fields" for an empty write. The records use the KV version 1 layout
// (engine/kv) under the token's own subspace, token.CubbyholePrefix of the
// token's keyed hash, so they are encrypted by the tenant's barrier like
// every record, and token revocation (token.RevokeTree, expiry included)
// deletes the range in the revoking transaction.
//
// Deviations: errors Vault answers with 500 (a write without data, an
// empty path) are 400s; paths are validated as KV's (kv.ErrInvalidPath).
package cubbyhole

import (
	"context"
	"errors"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/kv"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
)

// MountPath is where every namespace has its cubbyhole, as in Vault: it
// cannot be disabled, moved or mounted elsewhere.
const MountPath = "cubbyhole/"

// ResponsePath is the record in a wrapping token's cubbyhole that holds
// the wrapped response; reading it directly is deprecated in Vault.
const ResponsePath = "response"

// deprecatedResponseRead is Vault's warning on a read of cubbyhole/response
// (request_handling.go).
const deprecatedResponseRead = "Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to unwrap responses, as it provides additional security checks and other benefits."

// Backend serves cubbyhole/ of one tenant. The front door has checked the
// caller's token and its policies; the backend only uses the token to find
// its subspace.
type Backend struct {
	Barrier *seal.Barrier
}

// View returns the subspace of the cubbyhole of the token whose keyed hash
// is th.
func View(b *seal.Barrier, th []byte) *seal.View { return b.Sub(token.CubbyholePrefix(th)) }

// In is View inside a read transaction of the tenant tx.
func In(tx *seal.ReadTx, th []byte) *seal.ReadTx { return tx.Sub(token.CubbyholePrefix(th)) }

// store returns the KV version 1 backend over the caller's cubbyhole.
// Errors: engine.ErrBadRequest without a token, engine.ErrPermissionDenied
// for a malformed one (the front door has already refused unknown ones).
func (b *Backend) store(ctx context.Context, tok string) (engine.Backend, error) {
	if tok == "" {
		return nil, engine.Errorf(engine.ErrBadRequest, "client token empty")
	}
	if token.IsBatch(tok) {
		// Vault's router: a batch token has no storage of its own.
		return nil, engine.Errorf(engine.ErrBadRequest, "cubbyhole operations are only supported by 'service' type tokens")
	}
	var th []byte
	err := b.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		th, err = token.Hash(tx, tok)
		return err
	})
	if errors.Is(err, token.ErrInvalid) {
		return nil, engine.ErrPermissionDenied
	}
	if err != nil {
		return nil, err
	}
	return kv.NewV1(View(b.Barrier, th), kv.Options{}), nil
}

// HandleRequest serves read, write, delete and list of the caller's
// cubbyhole. Errors are KV version 1's (engine.ErrBadRequest,
// engine.ErrNotFound, engine.ErrUnsupportedOperation for PATCH) and the
// storage's.
func (b *Backend) HandleRequest(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	st, err := b.store(ctx, req.ClientToken)
	if err != nil {
		return nil, err
	}
	resp, err := st.HandleRequest(ctx, req)
	if resp != nil {
		// Vault's cubbyhole read carries no lease, whatever the data says.
		resp.LeaseDuration = 0
		if req.Operation == engine.OpRead && req.Path == ResponsePath {
			resp.Warnings = append(resp.Warnings, deprecatedResponseRead)
		}
	}
	return resp, err
}

// Exists implements engine.ExistenceChecker: a write to a path that holds
// nothing yet needs the create capability (Vault's handleExistenceCheck).
func (b *Backend) Exists(ctx context.Context, req *engine.Request) (bool, error) {
	st, err := b.store(ctx, req.ClientToken)
	if err != nil {
		return false, err
	}
	return st.(engine.ExistenceChecker).Exists(ctx, req)
}

var (
	_ engine.Backend          = (*Backend)(nil)
	_ engine.ExistenceChecker = (*Backend)(nil)
)
