package kv

// KV version 2: the router of Vault's versioned backend (backend.go) and
// the helpers its paths share.
//
// Routing matches Vault's path patterns: "config"; "data/<path>";
// "metadata/<path>" (LIST included); "delete/", "undelete/", "destroy/",
// "subkeys/<path>". A path matched with an operation it does not serve is
// engine.ErrUnsupportedOperation (405). Any other path answers 404 with no
// data and Vault's warning ("Invalid path for a versioned K/V secrets
// engine. ... use 'vault kv get' ..." or, on data, metadata, delete,
// undelete or destroy themselves, "Non-listing operations on the root of a
// K/V v2 mount are not supported."), as pathInvalid does. A LIST path gets
// a trailing slash first, as Vault's HTTP layer adds one. Deviation: a
// trailing slash on a data path that is not a LIST is a 400 (checkPath),
// where Vault answers the invalid-path 404.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/storage"
)

// defaultMaxVersions is the versions kept when neither the mount nor the
// secret sets max_versions.
const defaultMaxVersions = 10

type v2Backend struct {
	st  store
	now func() time.Time
}

// Close drops the mount's decoded metadata from memory: the mounts table
// calls it when the tenant seals or unloads and when the mount goes.
func (b *v2Backend) Close() error {
	b.st.forget()
	return nil
}

// HandleRequest serves a v2 mount. Errors: engine.ErrBadRequest (wrapping
// ErrCASMismatch, ErrCASRequired or ErrInvalidPath where they apply),
// engine.ErrNotFound, engine.ErrUnsupportedOperation, and the storage and
// seal errors unchanged. A deleted or destroyed version is a Response with
// Status 404 and its metadata, not an error.
func (b *v2Backend) HandleRequest(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	p := req.Path
	if req.Operation == engine.OpList && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	switch {
	case p == "config":
		return b.handleConfig(ctx, req)
	case strings.HasPrefix(p, "data/") && p != "data/" && req.Operation != engine.OpList:
		return b.handleData(ctx, req, strings.TrimPrefix(p, "data/"))
	case strings.HasPrefix(p, "metadata/"):
		return b.handleMetadata(ctx, req, strings.TrimPrefix(p, "metadata/"))
	case strings.HasPrefix(p, "delete/"):
		return b.handleDelete(ctx, req, strings.TrimPrefix(p, "delete/"))
	case strings.HasPrefix(p, "undelete/"):
		return b.handleUndelete(ctx, req, strings.TrimPrefix(p, "undelete/"))
	case strings.HasPrefix(p, "destroy/"):
		return b.handleDestroy(ctx, req, strings.TrimPrefix(p, "destroy/"))
	case strings.HasPrefix(p, "subkeys/"):
		return b.handleSubkeys(ctx, req, strings.TrimPrefix(p, "subkeys/"))
	}
	return invalidPath2(p, req.Operation)
}

// invalidPath2 is Vault's pathInvalid: 404, no data, one warning.
func invalidPath2(p string, op engine.Operation) (*engine.Response, error) {
	switch p {
	case "metadata", "data", "delete", "undelete", "destroy":
		return &engine.Response{Status: http.StatusNotFound,
			Warnings: []string{"Non-listing operations on the root of a K/V v2 mount are not supported."}}, nil
	}
	var sub string
	switch op {
	case engine.OpUpdate:
		sub = "put"
	case engine.OpPatch:
		sub = "patch"
	case engine.OpRead:
		sub = "get"
	case engine.OpList:
		sub = "list"
	case engine.OpDelete:
		sub = "delete"
	default:
		return nil, engine.ErrUnsupportedOperation
	}
	return &engine.Response{Status: http.StatusNotFound, Warnings: []string{fmt.Sprintf(
		"Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv %s' for this operation.", sub)}}, nil
}

// versionMetadata is the metadata of one version as data reads, writes and
// patches answer it.
type versionMetadata struct {
	CreatedTime    string            `json:"created_time"`
	CustomMetadata map[string]string `json:"custom_metadata"`
	DeletionTime   string            `json:"deletion_time"`
	Destroyed      bool              `json:"destroyed"`
	Version        uint64            `json:"version"`
}

func describeVersion(s *secretRecord, n uint64, v *versionRecord) versionMetadata {
	return versionMetadata{
		CreatedTime:    formatTime(v.Created),
		CustomMetadata: s.CustomMetadata,
		DeletionTime:   formatTime(v.Deletion),
		Destroyed:      v.Destroyed,
		Version:        n,
	}
}

// formatTime formats Unix nanoseconds as Vault formats protobuf
// timestamps (RFC 3339 in UTC with nanoseconds); 0 is "".
func formatTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// deleted reports whether v reads as deleted at now: its deletion time is
// set and reached (set by a delete, or by delete_version_after at write
// time, as Vault does; Vault tests deletion_time before its clock, which
// has always moved on by the time it reads).
func deleted(v *versionRecord, now time.Time) bool {
	return v.Deletion != 0 && v.Deletion <= now.UnixNano()
}

// deletionTime is Vault's deletionTime: creation plus the shorter of the
// mount's and the secret's delete_version_after that are set, or false
// when neither is.
func deletionTime(creation time.Time, mount, secret time.Duration) (int64, bool) {
	if mount == 0 && secret == 0 {
		return 0, false
	}
	d := secret
	if mount != 0 && (mount < d || d == 0) {
		d = mount
	}
	return creation.Add(d).UnixNano(), true
}

// autoDeletion returns the deletion time a version created (or undeleted)
// at t gets from the configuration, or 0.
func autoDeletion(cfg configRecord, s *secretRecord, t time.Time) int64 {
	if cfg.DeleteVersionAfter < 0 {
		return 0 // disabled on the mount
	}
	dt, _ := deletionTime(t, cfg.DeleteVersionAfter, s.DeleteVersionAfter)
	return dt
}

// addVersion is Vault's KeyMetadata.AddVersion: it appends v as the next
// version and moves the window of max_versions (the larger of the
// secret's and the mount's, 10 when neither is set). It returns the
// versions that left the window, whose data must be deleted.
func (s *secretRecord) addVersion(v versionRecord, mountMax uint32) (pruned []uint64) {
	s.Current++
	s.Versions = append(s.Versions, v)
	s.Updated = v.Created
	if s.Created == 0 {
		s.Created = v.Created
	}
	keep := uint64(max(s.MaxVersions, mountMax))
	if keep == 0 {
		keep = defaultMaxVersions
	}
	if s.Current-s.Oldest >= keep {
		last := s.Current - keep // the newest version to delete
		first := s.first()
		if last >= first {
			n := last - first + 1
			for i := range n {
				pruned = append(pruned, first+i)
			}
			s.Versions = append([]versionRecord(nil), s.Versions[n:]...)
		}
		s.Oldest = last + 1
	}
	return pruned
}

// earlyResponse carries a non-error answer (a 404 with metadata) out of a
// transaction function, which then writes nothing.
type earlyResponse struct{ resp *engine.Response }

func (e *earlyResponse) Error() string { return "kv: early response" }

// answer turns an earlyResponse back into the response.
func answer(resp *engine.Response, err error) (*engine.Response, error) {
	var er *earlyResponse
	if errors.As(err, &er) {
		return er.resp, nil
	}
	return resp, err
}

// errStale: the secret changed between the two phases of commitVersion.
var errStale = errors.New("kv: secret changed during the write")

// maxWriteAttempts bounds commitVersion's retries under concurrent writes
// to one secret.
const maxWriteAttempts = 16

// oneTxData bounds the data commitVersion writes in the same transaction
// that reads the metadata; larger data is staged first (SetLarge).
const oneTxData = 1 << 20

// errStage: the new version's data is larger than oneTxData; nothing was
// written and commitVersion stages it instead.
var errStage = errors.New("kv: data to stage")

// commitVersion writes a new version of the secret at path. prepare
// validates the request against the configuration and the secret's
// metadata (nil for a new secret) and returns the data of the new version.
//
// Data up to oneTxData — nearly every write — is written in one
// transaction that runs prepare (final false) on the metadata as it is
// there, stores the data under the next version number and saves the
// metadata: concurrent writers are serialised by the store (or retried on
// a conflict) and none is refused. Larger data goes through
// commitStaged; prepare has then run once in vain (cheap for a write,
// whose data is encoded beforehand; a patch merges twice).
func (b *v2Backend) commitVersion(ctx context.Context, path string,
	prepare func(r reader, cfg configRecord, s *secretRecord, final bool) ([]byte, error)) (*engine.Response, error) {
	var resp *engine.Response
	err := b.st.update(ctx, func(w writer) error {
		cfg, s, err := loadState(w, path)
		if err != nil {
			return err
		}
		data, err := prepare(w, cfg, s, false)
		if err != nil {
			return err
		}
		if len(data) > oneTxData {
			return errStage
		}
		next := uint64(1)
		if s != nil {
			next = s.Current + 1
		}
		if err := w.Set(versionKey(path, next), data); err != nil {
			return err
		}
		resp, err = b.appendVersion(w, path, cfg, s)
		return err
	})
	if errors.Is(err, errStage) {
		return b.commitStaged(ctx, path, prepare)
	}
	return answer(resp, err)
}

// commitStaged writes a version whose data is too large for one
// transaction. prepare runs in a read transaction (final false) for the
// data, which seal.View.SetLarge stores under the next version number; its
// last transaction runs prepare again with final true (result ignored)
// against the metadata as it is then. If another write took that number
// meanwhile, it starts over, at most maxWriteAttempts times.
func (b *v2Backend) commitStaged(ctx context.Context, path string,
	prepare func(r reader, cfg configRecord, s *secretRecord, final bool) ([]byte, error)) (*engine.Response, error) {
	for range maxWriteAttempts {
		var (
			data []byte
			cur  uint64
			had  bool
		)
		err := b.st.view(ctx, func(r reader) error {
			cfg, s, err := loadState(r, path)
			if err != nil {
				return err
			}
			if data, err = prepare(r, cfg, s, false); err != nil {
				return err
			}
			if had = s != nil; had {
				cur = s.Current
			}
			return nil
		})
		if err != nil {
			return answer(nil, err)
		}
		var resp *engine.Response
		err = b.st.setLarge(ctx, versionKey(path, cur+1), data, func(w writer) error {
			cfg, s, err := loadState(w, path)
			if err != nil {
				return err
			}
			if (s != nil) != had || (s != nil && s.Current != cur) {
				return errStale
			}
			if _, err := prepare(w, cfg, s, true); err != nil {
				return err
			}
			resp, err = b.appendVersion(w, path, cfg, s)
			return err
		})
		if errors.Is(err, errStale) {
			continue
		}
		return answer(resp, err)
	}
	return nil, fmt.Errorf("kv: %d concurrent writes to one secret in a row: %w", maxWriteAttempts, storage.ErrConflict)
}

// appendVersion records, in w, the version just stored under the next
// number of s (nil for a new secret): it adds it to the metadata, deletes
// the versions that leave the max_versions window, saves the metadata and
// returns the write's response.
func (b *v2Backend) appendVersion(w writer, path string, cfg configRecord, s *secretRecord) (*engine.Response, error) {
	if s == nil {
		s = &secretRecord{}
	}
	now := b.now()
	v := versionRecord{Created: now.UnixNano(), Deletion: autoDeletion(cfg, s, now)}
	for _, n := range s.addVersion(v, cfg.MaxVersions) {
		if err := w.Delete(versionKey(path, n)); err != nil {
			return nil, err
		}
	}
	if err := saveSecret(w, path, s); err != nil {
		return nil, err
	}
	return &engine.Response{Data: describeVersion(s, s.Current, &v)}, nil
}

// casOption reads options.cas of a data write or patch: nil when absent.
// As in Vault, a null cas is 0, and a value that is not an integer is
// "error parsing check-and-set parameter".
func casOption(options json.RawMessage) (*int64, error) {
	if !present(options) || isNull(options) {
		return nil, nil
	}
	if kindOf(options) != "map" {
		return nil, fieldError("options", "", fmt.Sprintf("'' expected a map, got '%s'", kindOf(options)))
	}
	var o struct {
		CAS json.RawMessage `json:"cas"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fieldError("options", "", "malformed object")
	}
	if !present(o.CAS) {
		return nil, nil
	}
	n, err := intField("cas", o.CAS)
	if err != nil {
		return nil, badRequest("error parsing check-and-set parameter")
	}
	return &n, nil
}

// checkCAS is Vault's validateCheckAndSetOption: a given cas must equal
// the current version (0 for a secret without versions); without one, the
// write is refused when the mount or the secret requires cas.
func checkCAS(cfg configRecord, s *secretRecord, cas *int64) error {
	var current uint64
	var required bool
	if s != nil {
		current, required = s.Current, s.CASRequired
	}
	if cas != nil {
		if *cas < 0 || uint64(*cas) != current {
			return badRequest("%w", ErrCASMismatch)
		}
		return nil
	}
	if cfg.CASRequired || required {
		return badRequest("%w", ErrCASRequired)
	}
	return nil
}

// checkPatchContentType refuses a PATCH whose Content-Type is set and is
// not a JSON merge patch, with Vault's message. (Vault's HTTP layer
// answers 415; the front door is expected to do so before the engine.)
func checkPatchContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return badRequest("%v", err)
	}
	if mt != "application/merge-patch+json" {
		return badRequest("PATCH requires Content-Type of application/merge-patch+json, got %q", mt)
	}
	return nil
}

// casWarning is Vault's warning when a secret's cas_required is set to
// false on a mount that requires cas.
const casWarning = `"cas_required" set to false, but is mandated by backend config. This value will be ignored.`
