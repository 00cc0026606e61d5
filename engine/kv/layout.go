package kv

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Storage layout of a mount, in its seal.View (tuple-encoded keys; frozen by
// testdata/layout.golden):
//
//	("config")                    v2 mount configuration: configRecord (JSON)
//	("m", folder, name)           a secret directly in folder ("" for the
//	                              root, else "a/b/"): v1 its JSON object,
//	                              v2 its secretRecord (JSON)
//	("m", folder, "child/")       folder marker: empty value, present while
//	                              folder+"child/" holds any entry
//	("v", path, version)          v2 data of one version: the JSON object
//
// A folder's entries and sub-folder markers are the keys of one prefix,
// ("m", folder), so a listing reads keys only and costs O(children).
// Markers are created and removed in the transaction that adds or removes
// the entries below them. Version records are separate from the secret
// record, so a read loads one version, and destroy or max_versions pruning
// deletes exactly that version's record; versions of a 32 MiB secret are
// written with seal.View.SetLarge. Paths contain no NUL byte, so
// ("v", path) is a prefix of that path's version records only.
var configKey = tuple.Pack("config")

// splitPath returns the folder ("" or ending with "/") and the name of a
// secret path.
func splitPath(path string) (folder, name string) {
	i := strings.LastIndexByte(path, '/')
	return path[:i+1], path[i+1:]
}

// entryKey is the key of the secret at path (v1 data, v2 metadata).
func entryKey(path string) []byte {
	folder, name := splitPath(path)
	return tuple.Pack("m", folder, name)
}

// folderPrefix is the prefix of the entries and markers directly in
// folder ("" or ending with "/").
func folderPrefix(folder string) []byte { return tuple.Pack("m", folder) }

// versionKey is the key of one version's data.
func versionKey(path string, version uint64) []byte {
	return tuple.Pack("v", path, int64(version))
}

// versionPrefix is the prefix of every version record of path.
func versionPrefix(path string) []byte { return tuple.Pack("v", path) }

// configRecord is the stored v2 mount configuration (Vault's
// Configuration). DeleteVersionAfter is 0 when unset and negative (-1s) when
// disabled.
type configRecord struct {
	MaxVersions        uint32        `json:"max_versions,omitempty"`
	CASRequired        bool          `json:"cas_required,omitempty"`
	DeleteVersionAfter time.Duration `json:"delete_version_after,omitempty"`
}

// dvaDisabled is Vault's marker for a disabled delete_version_after.
const dvaDisabled = -time.Second

func loadConfig(r reader) (configRecord, error) {
	var c configRecord
	raw, err := r.Get(configKey)
	if errors.Is(err, seal.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errCorrupt("config", err)
	}
	return c, nil
}

// secretRecord is the stored metadata of a v2 secret (Vault's
// KeyMetadata). Times are Unix nanoseconds, 0 meaning unset. Versions holds
// the versions Current-len(Versions)+1 .. Current, oldest first: versions
// are only added at the end and pruned from the front, so the versions
// Vault keeps in its map are always contiguous.
type secretRecord struct {
	Current            uint64            `json:"current_version"`
	Oldest             uint64            `json:"oldest_version"`
	Created            int64             `json:"created_time"`
	Updated            int64             `json:"updated_time"`
	MaxVersions        uint32            `json:"max_versions,omitempty"`
	CASRequired        bool              `json:"cas_required,omitempty"`
	DeleteVersionAfter time.Duration     `json:"delete_version_after,omitempty"`
	CustomMetadata     map[string]string `json:"custom_metadata,omitempty"`
	Versions           []versionRecord   `json:"versions"`
}

// versionRecord is the metadata of one version (Vault's VersionMetadata).
// It is stored as the compact array [created, deletion, destroyed(0|1)], so
// that the metadata of 1,000 versions stays near 30 KB.
type versionRecord struct {
	Created   int64
	Deletion  int64
	Destroyed bool
}

func (v versionRecord) MarshalJSON() ([]byte, error) {
	d := 0
	if v.Destroyed {
		d = 1
	}
	return fmt.Appendf(nil, "[%d,%d,%d]", v.Created, v.Deletion, d), nil
}

func (v *versionRecord) UnmarshalJSON(b []byte) error {
	var a [3]int64
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*v = versionRecord{Created: a[0], Deletion: a[1], Destroyed: a[2] != 0}
	return nil
}

// first returns the number of the oldest version kept in the record.
func (s *secretRecord) first() uint64 { return s.Current - uint64(len(s.Versions)) + 1 }

// version returns the metadata of version n, or nil when the record does
// not keep it (never written, or pruned).
func (s *secretRecord) version(n uint64) *versionRecord {
	if n == 0 || n > s.Current || n < s.first() {
		return nil
	}
	return &s.Versions[n-s.first()]
}

// loadState returns the mount's configuration and the record of the v2
// secret at path (nil when there is none), read in r.
func loadState(r reader, path string) (configRecord, *secretRecord, error) {
	cfg, err := loadConfig(r)
	if err != nil {
		return cfg, nil, err
	}
	s, err := loadSecret(r, path)
	return cfg, s, err
}

// loadSecret returns the record of the v2 secret at path, or nil when
// there is none.
func loadSecret(r reader, path string) (*secretRecord, error) {
	raw, err := r.Get(entryKey(path))
	if err != nil {
		return noSecret(err)
	}
	return decodeSecret(raw)
}

// noSecret turns a failed read of a secret's record into loadSecret's
// answer: no secret, or the error.
func noSecret(err error) (*secretRecord, error) {
	if errors.Is(err, seal.ErrNotFound) {
		return nil, nil
	}
	return nil, err
}

func decodeSecret(raw []byte) (*secretRecord, error) {
	var s secretRecord
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errCorrupt("secret metadata", err)
	}
	if uint64(len(s.Versions)) > s.Current {
		return nil, errCorrupt("secret metadata", errors.New("more versions than the current version"))
	}
	return &s, nil
}

// saveSecret writes the record of the secret at path and the folder
// markers above it.
func saveSecret(w writer, path string, s *secretRecord) error {
	if len(s.CustomMetadata) == 0 {
		s.CustomMetadata = nil // as Vault's proto round trip: {} reads back as null
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := w.Set(entryKey(path), raw); err != nil {
		return err
	}
	return ensureFolders(w, path)
}
