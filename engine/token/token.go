// Package token is the token store of one tenant (Vault's auth/token): it
// creates tokens, stores them only as keyed hashes, and looks them up.
//
// A token is "srs." followed by 32 base62 characters from crypto/rand. The
// store never holds a token: its entry is found under HMAC(token) with the
// tenant's hash key, and its accessor under HMAC(accessor); both records are
// encrypted by the tenant's barrier.
package token

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Prefix starts every service token, so that a leaked token is recognisable
// by secret scanners.
const Prefix = "srs."

// ErrInvalid is returned for a token that does not exist, has expired, or
// is malformed. Callers answer 403 "permission denied" without saying which.
var ErrInvalid = errors.New("token: invalid token")

// Entry is what the store keeps about one token. The token itself is not
// part of it.
type Entry struct {
	Accessor       string            `json:"accessor"`
	Policies       []string          `json:"policies"`
	Path           string            `json:"path"`
	DisplayName    string            `json:"display_name"`
	Meta           map[string]string `json:"meta,omitempty"`
	NumUses        int               `json:"num_uses"`
	Parent         []byte            `json:"parent,omitempty"` // keyed hash of the parent token
	CreationTime   int64             `json:"creation_time"`
	TTL            time.Duration     `json:"ttl"`
	ExplicitMaxTTL time.Duration     `json:"explicit_max_ttl"`
	Type           string            `json:"type"`
}

// IsRoot reports whether the token carries the root policy.
func (e *Entry) IsRoot() bool {
	for _, p := range e.Policies {
		if p == "root" {
			return true
		}
	}
	return false
}

// Expired reports whether a token with a TTL is past it at now.
func (e *Entry) Expired(now time.Time) bool {
	return e.TTL > 0 && now.After(time.Unix(e.CreationTime, 0).Add(e.TTL))
}

func idKey(hash []byte) []byte       { return tuple.Pack("token", "id", hash) }
func accessorKey(hash []byte) []byte { return tuple.Pack("token", "accessor", hash) }

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func random62(n int) (string, error) {
	var sb strings.Builder
	sb.Grow(n)
	max := big.NewInt(int64(len(base62)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("token: reading randomness: %w", err)
		}
		sb.WriteByte(base62[i.Int64()])
	}
	return sb.String(), nil
}

// CreateRoot creates a root token (policy "root", no TTL, orphan) inside tx,
// and returns the token. Init calls it in the transaction that initialises
// the tenant.
func CreateRoot(tx *seal.Tx, now time.Time) (string, error) {
	return Create(tx, &Entry{
		Policies:     []string{"root"},
		Path:         "auth/token/root",
		DisplayName:  "root",
		CreationTime: now.Unix(),
		Type:         "service",
	})
}

// Create stores a new token described by e (its Accessor is filled in) and
// returns the token.
func Create(tx *seal.Tx, e *Entry) (string, error) {
	body, err := random62(32)
	if err != nil {
		return "", err
	}
	tok := Prefix + body
	acc, err := random62(24)
	if err != nil {
		return "", err
	}
	e.Accessor = acc
	th, err := tx.MAC([]byte(tok))
	if err != nil {
		return "", err
	}
	ah, err := tx.MAC([]byte(acc))
	if err != nil {
		return "", err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	if err := tx.Set(idKey(th), raw); err != nil {
		return "", err
	}
	if err := tx.Set(accessorKey(ah), th); err != nil {
		return "", err
	}
	return tok, nil
}

// Lookup returns the entry of tok, or ErrInvalid for a token that is
// unknown, malformed or expired at now. The lookup goes through the keyed
// hash, so it compares no token bytes itself.
func Lookup(tx *seal.ReadTx, tok string, now time.Time) (*Entry, error) {
	if !strings.HasPrefix(tok, Prefix) || len(tok) > 256 {
		return nil, ErrInvalid
	}
	th, err := tx.MAC([]byte(tok))
	if err != nil {
		return nil, err
	}
	raw, err := tx.Get(idKey(th))
	if errors.Is(err, seal.ErrNotFound) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("token: stored entry is corrupt: %w", seal.ErrCorrupt)
	}
	if e.Expired(now) {
		return nil, ErrInvalid
	}
	return &e, nil
}
