package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// Batch tokens (Vault's batch tokens, logical.TokenTypeBatch): the token is
// its own entry, sealed by the tenant's keyring (seal.ReadTx.SealBlob), so
// creating one writes nothing and looking one up reads only its parent's
// entry, if it has a parent. A batch token cannot be renewed or revoked,
// has no accessor, no use limit, no period, no explicit max TTL and no
// cubbyhole, cannot create tokens, and cannot carry the root policy; it
// stops working at its TTL or when its parent is revoked (Vault's
// lookupBatchToken). It is valid only in the tenant that made it, and
// after keyring rotations for as long as its term is kept.

// BatchPrefix starts every batch token.
const BatchPrefix = "srb."

// MaxBatchTokenLen bounds a batch token, both made and presented: its
// metadata must keep it under this size.
const MaxBatchTokenLen = 4096

// batchPurpose binds batch token blobs to this use (seal.ReadTx.SealBlob).
const batchPurpose = "batch-token"

// IsBatch reports whether tok is shaped as a batch token.
func IsBatch(tok string) bool { return strings.HasPrefix(tok, BatchPrefix) }

// batchEntry is what a batch token holds.
type batchEntry struct {
	Policies     []string          `json:"p"`
	Path         string            `json:"a"`
	DisplayName  string            `json:"d"`
	Meta         map[string]string `json:"m,omitempty"`
	Parent       []byte            `json:"r,omitempty"`
	CreationTime int64             `json:"c"`
	TTL          int64             `json:"t"` // seconds
	Role         string            `json:"o,omitempty"`
	BoundCIDRs   []string          `json:"b,omitempty"`
}

// Batch token refusals, Vault's texts.
var (
	ErrBatchNotRenewable = engine.Errorf(engine.ErrBadRequest, "batch tokens cannot be renewed")
	ErrBatchNotRevocable = engine.Errorf(engine.ErrBadRequest, "batch tokens cannot be revoked")
	ErrBatchNoChildren   = engine.Errorf(engine.ErrBadRequest, "batch tokens cannot create more tokens")
)

// CreateBatch returns a batch token holding e, which must have a TTL and
// none of what a batch token cannot have (see above): engine.ErrBadRequest
// otherwise, or if e's metadata makes the token longer than
// MaxBatchTokenLen. It writes nothing; tx is for the keyring.
func CreateBatch(tx *seal.ReadTx, e *Entry) (string, error) {
	switch {
	case e.IsRoot():
		return "", engine.Errorf(engine.ErrBadRequest, "batch tokens cannot be root tokens")
	case e.TTL <= 0:
		return "", engine.Errorf(engine.ErrBadRequest, "batch tokens must have a TTL")
	case e.NumUses != 0 || e.Period != 0 || e.ExplicitMaxTTL != 0 || e.Renewable:
		return "", engine.Errorf(engine.ErrBadRequest, "batch tokens cannot have num_uses, period, explicit_max_ttl or renewable set")
	}
	raw, err := json.Marshal(batchEntry{
		Policies: e.Policies, Path: e.Path, DisplayName: e.DisplayName, Meta: e.Meta, Parent: e.Parent,
		CreationTime: e.CreationTime, TTL: int64(e.TTL / time.Second), Role: e.Role, BoundCIDRs: e.BoundCIDRs,
	})
	if err != nil {
		return "", err
	}
	blob, err := tx.SealBlob(batchPurpose, raw)
	if err != nil {
		return "", err
	}
	tok := BatchPrefix + base64.RawURLEncoding.EncodeToString(blob)
	if len(tok) > MaxBatchTokenLen {
		return "", engine.Errorf(engine.ErrBadRequest, "batch token would be %d bytes long, over %d: too much metadata", len(tok), MaxBatchTokenLen)
	}
	e.Type, e.Accessor, e.AccessorHash = "batch", "", nil
	e.ExpireTime = e.CreationTime + int64(e.TTL/time.Second)
	return tok, nil
}

// lookupBatch opens the batch token tok: ErrInvalid unless this tenant made
// it and its parent, if any, is valid; ErrExpired past its TTL.
func lookupBatch(tx *seal.ReadTx, tok string, now time.Time) (*Entry, error) {
	e, err := parseBatch(tx, tok)
	if err != nil {
		return nil, err
	}
	if len(e.Parent) > 0 {
		p, err := LookupHash(tx, e.Parent, now)
		if errors.Is(err, ErrInvalid) || (err == nil && p.NumUses == RevocationPending) {
			return nil, ErrInvalid
		}
		if err != nil {
			return nil, err
		}
	}
	if e.Expired(now) {
		return e, ErrExpired
	}
	return e, nil
}

// parseBatch decodes and opens tok, without checking its parent or expiry.
func parseBatch(tx *seal.ReadTx, tok string) (*Entry, error) {
	if !IsBatch(tok) || len(tok) > MaxBatchTokenLen {
		return nil, ErrInvalid
	}
	blob, err := base64.RawURLEncoding.Strict().DecodeString(tok[len(BatchPrefix):])
	if err != nil {
		return nil, ErrInvalid
	}
	raw, err := tx.OpenBlob(batchPurpose, blob)
	if errors.Is(err, seal.ErrDecrypt) || errors.Is(err, seal.ErrCorrupt) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, err
	}
	var b batchEntry
	if err := json.Unmarshal(raw, &b); err != nil || b.TTL <= 0 {
		// Sealed by this tenant's keyring for this purpose, yet not a
		// batch entry: a bug, not an outside input.
		return nil, seal.ErrCorrupt
	}
	return &Entry{
		Policies: b.Policies, Path: b.Path, DisplayName: b.DisplayName, Meta: b.Meta, Parent: b.Parent,
		CreationTime: b.CreationTime, TTL: time.Duration(b.TTL) * time.Second, Role: b.Role, BoundCIDRs: b.BoundCIDRs,
		ExpireTime: b.CreationTime + b.TTL, Type: "batch",
	}, nil
}
