package kv

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// PutV1 stores data as the secret at path of the KV version 1 layout of
// view, exactly as a write through NewV1(view) would, and runs fn (which
// may be nil) in the transaction that makes the secret visible: the caller's
// other writes are atomic with it. data may be as large as a v1 secret can
// be (it goes through seal.View.SetLarge). Errors: ErrInvalidPath for a bad
// or empty path, engine.ErrBadRequest for data too large to store, and
// fn's and the storage's errors unchanged.
//
// Response wrapping stores the wrapped response in the wrapping token's
// cubbyhole this way, so that `vault read cubbyhole/response` with that
// token reads it as Vault's does.
func PutV1(ctx context.Context, view *seal.View, path string, data map[string]any, fn func(tx *seal.Tx) error) error {
	raw, err := v1Record(path, data)
	if err != nil {
		return err
	}
	return view.SetLarge(ctx, entryKey(path), raw, func(tx *seal.Tx) error {
		if err := ensureFolders(tx, path); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(tx)
	})
}

// SetV1 is PutV1 inside the caller's transaction tx, which must be a
// transaction of the view (its keys relative to the view's prefix), for
// records small enough for one transaction.
func SetV1(tx *seal.Tx, path string, data map[string]any) error {
	raw, err := v1Record(path, data)
	if err != nil {
		return err
	}
	if err := tx.Set(entryKey(path), raw); err != nil {
		return err
	}
	return ensureFolders(tx, path)
}

// v1Record checks path and encodes data as a v1 write does.
func v1Record(path string, data map[string]any) ([]byte, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, badRequest("missing path")
	}
	return encodeData(data)
}

// GetV1 reads the secret at path of the KV version 1 layout inside tx (a
// transaction of the view) into v. A missing secret is engine.ErrNotFound.
func GetV1(tx *seal.ReadTx, path string, v any) error {
	if err := checkPath(path); err != nil {
		return err
	}
	raw, err := tx.Get(entryKey(path))
	if errors.Is(err, seal.ErrNotFound) {
		return engine.ErrNotFound
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errCorrupt("secret", err)
	}
	return nil
}
