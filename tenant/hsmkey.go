package tenant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
)

// A tenant's HSM key is labelled "<master key label>/tenant/<tenant id>/<nonce>",
// with a fresh random nonce each time a key is made for the tenant (at its
// init, or a migration onto the HSM). The label is therefore new every
// time, so making a key never has to search the token for a duplicate
// (a search costs a pass over every object on some HSMs), and two nodes
// initialising the same tenant at once cannot make two keys under one
// label. The nonce travels in front of the wrapped blob the seal stores:
//
//	len(nonce) ‖ nonce ‖ HSM blob

// errNoTenantKey: the wrapper was asked to wrap before any key was made
// or read for the tenant.
var errNoTenantKey = errors.New("tenant: no HSM key chosen for this tenant")

// errBadTenantBlob: a stored blob does not start with a nonce.
var errBadTenantBlob = errors.New("tenant: malformed HSM blob")

// keyWrapper is the seal's HSM (seal.Wrapper) for one tenant: its own key.
type keyWrapper struct {
	h      NamedHSM
	prefix string // "<master key label>/tenant/<tenant id>"

	mu    sync.Mutex
	nonce string // of the key in use: set by prepare or by Unwrap
	// prev and fresh are the key in use before the last prepare and the
	// key it made, until abandon.
	prev, fresh string
}

// prepare makes a new key for the tenant (seal.Options.PrepareHSM).
func (w *keyWrapper) prepare(ctx context.Context) error {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	nonce := hex.EncodeToString(b[:])
	if err := w.h.CreateNamedKey(ctx, w.prefix+"/"+nonce); err != nil {
		return err
	}
	w.mu.Lock()
	w.prev, w.nonce, w.fresh = w.nonce, nonce, nonce
	w.mu.Unlock()
	return nil
}

// abandon destroys the key the last prepare made, after the init or
// migration that needed it failed with nothing written
// (seal.Options.AbandonHSM). A failure to destroy it leaves an unused key
// on the token.
func (w *keyWrapper) abandon(ctx context.Context) {
	w.mu.Lock()
	fresh := w.fresh
	if fresh != "" && w.nonce == fresh {
		w.nonce = w.prev
	}
	w.fresh = ""
	w.mu.Unlock()
	if fresh != "" {
		_ = w.h.DestroyNamedKey(ctx, w.prefix+"/"+fresh)
	}
}

// Wrap wraps under the tenant's current key and prefixes the nonce.
func (w *keyWrapper) Wrap(ctx context.Context, pt, aad []byte) ([]byte, error) {
	w.mu.Lock()
	nonce := w.nonce
	w.mu.Unlock()
	if nonce == "" {
		return nil, errNoTenantKey
	}
	blob, err := w.h.WrapNamed(ctx, w.prefix+"/"+nonce, pt, aad)
	if err != nil {
		return nil, err
	}
	return append(append([]byte{byte(len(nonce))}, nonce...), blob...), nil
}

// Unwrap opens a blob of Wrap with the key its nonce names, which becomes
// the key in use.
func (w *keyWrapper) Unwrap(ctx context.Context, blob, aad []byte) ([]byte, error) {
	nonce, rest, err := splitTenantBlob(blob)
	if err != nil {
		return nil, err
	}
	pt, err := w.h.UnwrapNamed(ctx, w.prefix+"/"+nonce, rest, aad)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.nonce = nonce
	w.mu.Unlock()
	return pt, nil
}

// splitTenantBlob separates the nonce from the HSM blob.
func splitTenantBlob(blob []byte) (string, []byte, error) {
	if len(blob) < 1 || int(blob[0]) == 0 || len(blob) < 1+int(blob[0]) {
		return "", nil, errBadTenantBlob
	}
	nonce := string(blob[1 : 1+int(blob[0])])
	if strings.ContainsAny(nonce, "/") {
		return "", nil, errBadTenantBlob
	}
	return nonce, blob[1+int(blob[0]):], nil
}

// tenantKeyLabel is the label of the HSM key a stored blob was wrapped
// under, for the tenant with storage id idHex.
func tenantKeyLabel(masterLabel, idHex string, blob []byte) (string, error) {
	nonce, _, err := splitTenantBlob(blob)
	if err != nil {
		return "", err
	}
	return tenantKeyPrefix(masterLabel, idHex) + "/" + nonce, nil
}

// tenantKeyPrefix is the part of the labels of a tenant's keys before the
// nonce; TenantKeysPrefix the part common to every tenant.
func tenantKeyPrefix(masterLabel, idHex string) string { return TenantKeysPrefix(masterLabel) + idHex }

// TenantKeysPrefix is the label prefix of every tenant's HSM key.
func TenantKeysPrefix(masterLabel string) string { return masterLabel + "/tenant/" }
