// Package token is the token store of one tenant (Vault's auth/token): it
// creates tokens, stores them only as keyed hashes, looks them up, renews
// and revokes them (with their children), and serves auth/token/*.
//
// A token is "srs." followed by 32 base62 characters from crypto/rand. The
// store never holds a token: its entry is found under HMAC(token) with the
// tenant's hash key, and its accessor under HMAC(accessor); every record is
// encrypted by the tenant's barrier. Batch tokens ("srb.", batch.go) are
// not stored at all: each is its entry, sealed by the tenant's keyring.
package token

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/strongroom/strongroom/engine/cidr"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Prefix starts every service token, so that a leaked token is recognisable
// by secret scanners.
const Prefix = "srs."

// SystemMaxTTL is the default and maximum TTL of a token, as Vault's
// default system max lease TTL (768h).
const SystemMaxTTL = 768 * time.Hour

// Sentinel errors.
var (
	// ErrInvalid is returned for a token that does not exist, has expired,
	// or is malformed. Callers answer 403 "permission denied" without saying
	// which.
	ErrInvalid = errors.New("token: invalid token")
	// ErrExpired matches ErrInvalid too; the caller should revoke the token.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalid)
)

// Entry is what the store keeps about one token. The token itself is not
// part of it.
type Entry struct {
	// Accessor is derived from the token (see accessorOf) and never
	// stored; AccessorHash, its keyed hash, is.
	Accessor       string            `json:"-"`
	AccessorHash   []byte            `json:"accessor_hash"`
	Policies       []string          `json:"policies"`
	Path           string            `json:"path"`
	DisplayName    string            `json:"display_name"`
	Meta           map[string]string `json:"meta,omitempty"`
	NumUses        int               `json:"num_uses"`
	Parent         []byte            `json:"parent,omitempty"` // keyed hash of the parent token
	CreationTime   int64             `json:"creation_time"`
	TTL            time.Duration     `json:"ttl"`         // at creation (creation_ttl)
	ExpireTime     int64             `json:"expire_time"` // unix seconds; 0 = never
	IssueTime      int64             `json:"issue_time"`  // of the last renewal
	ExplicitMaxTTL time.Duration     `json:"explicit_max_ttl"`
	Period         time.Duration     `json:"period,omitempty"`
	Renewable      bool              `json:"renewable"`
	Role           string            `json:"role,omitempty"`
	Type           string            `json:"type"`
	// BoundCIDRs, when set, are the only client addresses the token may be
	// used from (Vault's token_bound_cidrs; cidr.List strings); see
	// UsableFrom.
	BoundCIDRs []string `json:"bound_cidrs,omitempty"`
}

// UsableFrom reports whether the token may be used by a client at remote
// (http.Request.RemoteAddr): true unless the token is bound to address
// blocks that do not hold it. As Vault's CheckToken, a non-expiring root
// token is never bound. A binding that does not parse allows nobody.
func (e *Entry) UsableFrom(remote string) bool {
	if len(e.BoundCIDRs) == 0 || (e.TTL == 0 && e.IsRoot()) {
		return true
	}
	l, err := cidr.Parse(e.BoundCIDRs, true)
	return err == nil && l.Allows(remote)
}

// IsRoot reports whether the token carries the root policy.
func (e *Entry) IsRoot() bool { return slices.Contains(e.Policies, "root") }

// Expired reports whether the token is past its expiry at now.
func (e *Entry) Expired(now time.Time) bool {
	return e.ExpireTime != 0 && now.Unix() >= e.ExpireTime
}

func idKey(hash []byte) []byte          { return tuple.Pack("token", "id", hash) }
func accessorKey(hash []byte) []byte    { return tuple.Pack("token", "accessor", hash) }
func childrenPrefix(hash []byte) []byte { return tuple.Pack("token", "parent", hash) }
func childKey(parent, child []byte) []byte {
	return tuple.Pack("token", "parent", parent, child)
}
func expiryKey(at int64, hash []byte) []byte { return tuple.Pack("token", "expiry", at, hash) }

// CubbyholePrefix is the subspace of the token's cubbyhole (engine/cubbyhole):
// its private records, under the token's keyed hash th. Revoking the token
// deletes the range in the same transaction.
func CubbyholePrefix(th []byte) []byte { return tuple.Pack("cubbyhole", th) }

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

// Hash returns the keyed hash under which tok's entry is stored.
func Hash(tx *seal.ReadTx, tok string) ([]byte, error) {
	if !strings.HasPrefix(tok, Prefix) || len(tok) > 256 {
		return nil, ErrInvalid
	}
	return tx.MAC([]byte(tok))
}

// rootPath is the path of the root token of initialisation.
const rootPath = "auth/token/root"

// CreateRoot creates a root token (policy "root", no TTL, orphan) inside tx,
// and returns the token. Init and generate-root call it.
func CreateRoot(tx *seal.Tx, now time.Time) (string, error) {
	return Create(tx, &Entry{
		Policies:     []string{"root"},
		Path:         rootPath,
		DisplayName:  "root",
		CreationTime: now.Unix(),
		Type:         "service",
	})
}

// Create stores a new token described by e (its Accessor is filled in) and
// returns the token. It writes the accessor index, the parent's child index
// and the expiry index. Neither the token nor its accessor is stored: only
// their keyed hashes.
//
// A policy only response wrapping may give (ResponseWrappingPolicy) is an
// engine.ErrBadRequest, Vault's "cannot assign policy": whoever could make
// such a token could pass off a response of their own as wrapped by the
// server.
func Create(tx *seal.Tx, e *Entry) (string, error) {
	if slices.Contains(e.Policies, ResponseWrappingPolicy) {
		return "", engine.Errorf(engine.ErrBadRequest, "cannot assign policy %q", ResponseWrappingPolicy)
	}
	tok, err := New()
	if err != nil {
		return "", err
	}
	if err := CreateWith(tx, tok, e); err != nil {
		return "", err
	}
	return tok, nil
}

// New returns a fresh token, not yet stored: "srs." and 32 base62
// characters from crypto/rand. A caller that must know the token's hash
// before its entry is written (response wrapping stores the wrapped
// response under it) creates it with New and stores it with CreateWith.
func New() (string, error) {
	body, err := random62(32)
	if err != nil {
		return "", err
	}
	return Prefix + body, nil
}

// ResponseWrappingPolicy is the one policy of a response-wrapping token
// (policy.ResponseWrappingPolicyName).
const ResponseWrappingPolicy = "response-wrapping"

// IsWrapping reports whether e is a response-wrapping token: its only
// policy is ResponseWrappingPolicy (Vault's IsWrappingToken).
func (e *Entry) IsWrapping() bool {
	return len(e.Policies) == 1 && e.Policies[0] == ResponseWrappingPolicy
}

// CreateWith stores tok, made by New, as Create does, without Create's
// check of the policies: response wrapping makes its tokens with it.
func CreateWith(tx *seal.Tx, tok string, e *Entry) error {
	th, err := Hash(&tx.ReadTx, tok)
	if err != nil {
		return err
	}
	acc, err := accessorOf(&tx.ReadTx, tok)
	if err != nil {
		return err
	}
	ah, err := tx.MAC([]byte(acc))
	if err != nil {
		return err
	}
	e.Accessor, e.AccessorHash = acc, ah
	if err := save(tx, th, e); err != nil {
		return err
	}
	if err := tx.Set(accessorKey(ah), th); err != nil {
		return err
	}
	if len(e.Parent) > 0 {
		if err := tx.Set(childKey(e.Parent, th), []byte{}); err != nil {
			return err
		}
	}
	if e.ExpireTime != 0 {
		if err := tx.Set(expiryKey(e.ExpireTime, th), []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// accessorOf derives a token's accessor: 24 base62 characters of a keyed
// hash of the token under the tenant's hash key. It reveals nothing of the
// token, and needs not be stored.
func accessorOf(tx *seal.ReadTx, tok string) (string, error) {
	m, err := tx.MAC([]byte("accessor\x00" + tok))
	if err != nil {
		return "", err
	}
	out := make([]byte, 24)
	for i := range out {
		out[i] = base62[int(m[i])%len(base62)]
	}
	return string(out), nil
}

func save(tx *seal.Tx, hash []byte, e *Entry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Set(idKey(hash), raw)
}

// Lookup returns the entry of tok, a service or batch token: ErrInvalid
// for a token that is unknown or malformed (or a batch token whose parent
// is gone), ErrExpired (which matches ErrInvalid) for one past its expiry
// at now. The lookup goes through the keyed hash, so it compares no
// token bytes itself.
func Lookup(tx *seal.ReadTx, tok string, now time.Time) (*Entry, error) {
	if IsBatch(tok) {
		return lookupBatch(tx, tok, now)
	}
	th, err := Hash(tx, tok)
	if err != nil {
		return nil, err
	}
	e, err := LookupHash(tx, th, now)
	if e != nil {
		if acc, aerr := accessorOf(tx, tok); aerr == nil {
			e.Accessor = acc
		}
	}
	return e, err
}

// LookupHash is Lookup by keyed hash. The entry's Accessor is empty: only
// the token, or the caller who named the accessor, knows it.
func LookupHash(tx *seal.ReadTx, th []byte, now time.Time) (*Entry, error) {
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
		return &e, ErrExpired
	}
	return &e, nil
}

// LookupAccessor returns the keyed hash of the token with accessor acc.
func LookupAccessor(tx *seal.ReadTx, acc string) ([]byte, error) {
	if acc == "" || len(acc) > 256 {
		return nil, ErrInvalid
	}
	ah, err := tx.MAC([]byte(acc))
	if err != nil {
		return nil, err
	}
	th, err := tx.Get(accessorKey(ah))
	if errors.Is(err, seal.ErrNotFound) {
		return nil, ErrInvalid
	}
	return th, err
}

// maxRevokeDepth bounds the recursion of a revocation tree.
const maxRevokeDepth = 64

// RevokeTree revokes the token th and, recursively, every token it created.
// A missing token is not an error.
func RevokeTree(tx *seal.Tx, th []byte) error { return revokeTree(tx, th, 0) }

func revokeTree(tx *seal.Tx, th []byte, depth int) error {
	if depth > maxRevokeDepth {
		return fmt.Errorf("token: revocation tree deeper than %d", maxRevokeDepth)
	}
	children, err := tx.List(childrenPrefix(th), nil, 0)
	if err != nil {
		return err
	}
	base := len(childrenPrefix(th))
	for _, k := range children {
		elems, err := tuple.Unpack(k[base:])
		if err != nil || len(elems) != 1 {
			return seal.ErrCorrupt
		}
		child, _ := elems[0].([]byte)
		if err := revokeTree(tx, child, depth+1); err != nil {
			return err
		}
	}
	return revokeOne(tx, th)
}

// RevokeOrphan revokes th alone; its children become orphans.
func RevokeOrphan(tx *seal.Tx, th []byte) error {
	children, err := tx.List(childrenPrefix(th), nil, 0)
	if err != nil {
		return err
	}
	base := len(childrenPrefix(th))
	for _, k := range children {
		elems, err := tuple.Unpack(k[base:])
		if err != nil || len(elems) != 1 {
			return seal.ErrCorrupt
		}
		child, _ := elems[0].([]byte)
		ce, err := LookupHash(&tx.ReadTx, child, time.Unix(0, 0))
		if errors.Is(err, ErrInvalid) {
			continue
		}
		if err != nil {
			return err
		}
		ce.Parent = nil
		if err := save(tx, child, ce); err != nil {
			return err
		}
	}
	return revokeOne(tx, th)
}

// revokeOne deletes a token's entry and indexes.
func revokeOne(tx *seal.Tx, th []byte) error {
	e, err := LookupHash(&tx.ReadTx, th, time.Unix(0, 0))
	if errors.Is(err, ErrInvalid) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range [][]byte{idKey(th), accessorKey(e.AccessorHash)} {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	if len(e.Parent) > 0 {
		if err := tx.Delete(childKey(e.Parent, th)); err != nil {
			return err
		}
	}
	if e.ExpireTime != 0 {
		if err := tx.Delete(expiryKey(e.ExpireTime, th)); err != nil {
			return err
		}
	}
	// Every node's lookup cache drops the token (seal.WatchEpochs). A
	// token with a use limit (a wrapping token among them) is in no cache
	// (Cache.Put), so its revocation bumps nothing: unwrapping does not
	// empty every node's cache, nor make concurrent unwraps conflict on
	// the epoch record.
	if e.NumUses == 0 {
		if err := tx.BumpEpoch(seal.EpochTokens); err != nil {
			return err
		}
	}
	// The cubbyhole goes with its token (Vault's cubbyhole revoke).
	if err := tx.DeletePrefix(CubbyholePrefix(th)); err != nil {
		return err
	}
	return tx.DeletePrefix(childrenPrefix(th))
}

// RevocationPending is the NumUses of a token whose last use is in
// progress: it authenticates no new request, and is revoked once that
// request completes (Vault's tokenRevocationPending).
const RevocationPending = -1

// Use records one use of a token with num_uses: it decrements the count.
// On the last use it marks the token RevocationPending and reports last;
// the caller revokes it (RevokeTree) once the request completes. Tokens
// without a use limit are left alone.
func Use(tx *seal.Tx, th []byte, now time.Time) (last bool, err error) {
	e, err := LookupHash(&tx.ReadTx, th, now)
	if err != nil {
		return false, err
	}
	switch {
	case e.NumUses == RevocationPending:
		return false, ErrInvalid
	case e.NumUses == 0:
		return false, nil
	case e.NumUses == 1:
		e.NumUses = RevocationPending
		return true, save(tx, th, e)
	}
	e.NumUses--
	return false, save(tx, th, e)
}

// Renew extends a renewable token from now by increment (0 means its
// original TTL, or its period for a periodic token), capped by its explicit
// max TTL and the system max TTL counted from creation; a cap gives Vault's
// warning (framework.CalculateTTL).
func Renew(tx *seal.Tx, th []byte, increment time.Duration, now time.Time) (*Entry, []string, error) {
	e, err := LookupHash(&tx.ReadTx, th, now)
	if err != nil {
		return nil, nil, err
	}
	if !e.Renewable || e.ExpireTime == 0 {
		return nil, nil, ErrNotRenewable
	}
	ttl := increment
	switch {
	case e.Period > 0:
		ttl = e.Period
	case ttl <= 0:
		ttl = e.TTL
	}
	created := time.Unix(e.CreationTime, 0)
	sysMax := SystemMaxTTL
	if strings.HasPrefix(e.Path, "auth/token/") {
		// The token store's own tokens renew up to its tuned max TTL.
		cfg, err := ReadConfig(&tx.ReadTx)
		if err != nil {
			return nil, nil, err
		}
		sysMax = cfg.maxTTL()
	}
	maxExpire := created.Add(sysMax)
	if e.ExplicitMaxTTL > 0 && created.Add(e.ExplicitMaxTTL).Before(maxExpire) {
		maxExpire = created.Add(e.ExplicitMaxTTL)
	}
	if e.Period > 0 && e.ExplicitMaxTTL == 0 {
		maxExpire = now.Add(ttl) // periodic tokens renew indefinitely
	}
	expire := now.Add(ttl)
	var warnings []string
	if expire.After(maxExpire) {
		warnings = append(warnings, fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly",
			humanDuration(ttl), humanDuration(maxExpire.Sub(now.Truncate(time.Second)))))
		expire = maxExpire
	}
	if err := tx.Delete(expiryKey(e.ExpireTime, th)); err != nil {
		return nil, nil, err
	}
	e.ExpireTime, e.IssueTime = expire.Unix(), now.Unix()
	if err := tx.Set(expiryKey(e.ExpireTime, th), []byte{}); err != nil {
		return nil, nil, err
	}
	// Other nodes' lookup caches hold the old expiry.
	if err := tx.BumpEpoch(seal.EpochTokens); err != nil {
		return nil, nil, err
	}
	return e, warnings, save(tx, th, e)
}

// ErrNotRenewable is returned by Renew for a token that cannot be renewed.
var ErrNotRenewable = errors.New("lease is not renewable")

// Expired names one entry of the expiry index.
type Expired struct {
	At   int64
	Hash []byte
}

// ExpiredBefore returns up to limit entries of the expiry index that are
// due at now, oldest first, for the tidy loop to revoke.
func ExpiredBefore(tx *seal.ReadTx, now time.Time, limit int) ([]Expired, error) {
	prefix := tuple.Pack("token", "expiry")
	keys, err := tx.List(prefix, nil, limit)
	if err != nil {
		return nil, err
	}
	var out []Expired
	for _, k := range keys {
		elems, err := tuple.Unpack(k[len(prefix):])
		if err != nil || len(elems) != 2 {
			return nil, seal.ErrCorrupt
		}
		at, _ := elems[0].(int64)
		if at > now.Unix() {
			break
		}
		h, _ := elems[1].([]byte)
		out = append(out, Expired{At: at, Hash: h})
	}
	return out, nil
}
