package tenant

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Errors of the registry. The front door translates them.
var (
	// ErrNotFound: no namespace has that name.
	ErrNotFound = errors.New("namespace not found")
	// ErrExists: the name is taken (rename).
	ErrExists = errors.New("namespace already exists")
)

// Seal types a namespace can be initialised with (sys/init's seal_type,
// and the default a namespace is created with).
const (
	// SealShamir: the tenant operator holds unseal key shares. With an
	// HSM the root key is wrapped by both the shares and the tenant's HSM
	// key (dual control), so neither the shares nor the cluster alone
	// open it.
	SealShamir = "shamir"
	// SealAuto: the tenant's root key is wrapped by its HSM key only, and
	// unseals when first used after the node starts; recovery key shares
	// authorise quorum operations.
	SealAuto = "auto"
)

// Entry is a namespace as the registry stores it (in the cluster's
// barrier, encrypted by the cluster keyring).
type Entry struct {
	TenantID       string            `json:"tenant_id"` // hex of the storage id
	UUID           string            `json:"uuid"`
	ShortID        string            `json:"id"` // Vault's 5-character namespace id
	Name           string            `json:"name"`
	SealType       string            `json:"seal_type"` // the default sys/init uses
	CustomMetadata map[string]string `json:"custom_metadata"`
	Created        time.Time         `json:"created"`
}

// Path is the namespace's path as Vault reports it: the name and a slash.
func (e *Entry) Path() string { return e.Name + "/" }

// id returns the storage id.
func (e *Entry) id() []byte {
	b, err := hex.DecodeString(e.TenantID)
	if err != nil {
		return nil
	}
	return b
}

// Data is the namespace as sys/namespaces answers it (Vault's and
// OpenBao's createNamespaceDataResponse, plus seal_type).
func (e *Entry) Data() map[string]any {
	md := e.CustomMetadata
	if md == nil {
		md = map[string]string{}
	}
	return map[string]any{
		"id": e.ShortID, "uuid": e.UUID, "path": e.Path(), "custom_metadata": md,
		"tainted": false, "locked": false, "seal_type": e.SealType,
	}
}

// purgeRecord marks a deleted tenant whose records are still being
// cleared, so a restart finishes the job. ClearedAt (Unix seconds) is set
// once the first pass cleared them; the record stays for the second pass,
// PurgeGrace later, which clears what requests already under way at the
// delete wrote afterwards. Holder (a manager's random id) has the lease on
// the purge until LeaseUntil (Unix nanoseconds) while it works on it; the
// other nodes keep off it until then (purge.go).
type purgeRecord struct {
	TenantID     string `json:"tenant_id"`
	HSMKeyLabel  string `json:"hsm_key_label,omitempty"`
	HSMDestroyed bool   `json:"hsm_destroyed"`
	ClearedAt    int64  `json:"cleared_at,omitempty"`
	Holder       string `json:"holder,omitempty"`
	LeaseUntil   int64  `json:"lease_until,omitempty"`
}

// Registry keys, in the root tenant's barrier.
func entryKey(name string) []byte  { return tuple.Pack("namespaces", "byname", name) }
func entryPrefix() []byte          { return tuple.Pack("namespaces", "byname") }
func purgeKey(idHex string) []byte { return tuple.Pack("namespaces", "purge", idHex) }
func purgePrefix() []byte          { return tuple.Pack("namespaces", "purge") }

// namePattern is a namespace name: one path segment. Nested namespaces
// are not supported.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// reservedNames are Vault's reserved namespace names, and the first
// segments of the root namespace's own routes.
var reservedNames = map[string]bool{"root": true, "sys": true, "audit": true, "auth": true, "cubbyhole": true, "identity": true}

// ParseName validates a namespace path from a request ("acme" or "acme/")
// and returns its name. Errors wrap engine.ErrBadRequest.
func ParseName(path string) (string, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/")
	switch {
	case name == "":
		return "", engine.Errorf(engine.ErrBadRequest, "namespace path must not be empty")
	case strings.Contains(name, "/"):
		return "", engine.Errorf(engine.ErrBadRequest, "nested namespaces are not supported: %q", name)
	case reservedNames[strings.ToLower(name)]:
		// Vault's and OpenBao's text quotes the path with its slash.
		return "", engine.Errorf(engine.ErrBadRequest, "%q is a reserved path and cannot be used as a namespace name", name+"/")
	case !namePattern.MatchString(name):
		return "", engine.Errorf(engine.ErrBadRequest, "invalid namespace name %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return name, nil
}

// ParseSealType validates a seal type ("" means SealShamir; "pkcs11" is
// taken for SealAuto, the name of the HSM seal in Vault).
func ParseSealType(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", SealShamir:
		return SealShamir, nil
	case SealAuto, "pkcs11":
		return SealAuto, nil
	}
	return "", engine.Errorf(engine.ErrBadRequest, "seal_type must be %q or %q", SealShamir, SealAuto)
}

// newEntry makes the registry entry of a new namespace with a fresh
// random storage id.
func newEntry(name, sealType string, md map[string]string, now time.Time) (*Entry, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	short, err := shortID()
	if err != nil {
		return nil, err
	}
	return &Entry{TenantID: hex.EncodeToString(id), UUID: uuid.NewString(), ShortID: short,
		Name: name, SealType: sealType, CustomMetadata: md, Created: now.UTC()}, nil
}

// shortID is a 5-character base62 id, the shape of Vault's namespace ids.
func shortID() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [5]byte
	out := make([]byte, 0, len(b))
	for len(out) < len(b) {
		if _, err := rand.Read(b[:1]); err != nil {
			return "", err
		}
		if int(b[0]) < 4*len(alphabet) { // unbiased: 248 = 4*62
			out = append(out, alphabet[int(b[0])%len(alphabet)])
		}
	}
	return string(out), nil
}
