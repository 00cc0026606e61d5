package kv

// metadata/<path>: Vault's path_metadata.go.
//
//   - GET: {cas_required, created_time, current_version, custom_metadata,
//     delete_version_after (Go duration string, "0s" when unset),
//     max_versions, oldest_version, updated_time, versions: {"N":
//     {created_time, deletion_time, destroyed}}}; a missing secret is
//     engine.ErrNotFound.
//   - LIST (?exclude_deleted=true): {keys} of the folder's direct children,
//     sub-folders ending with "/", in key order; an empty or missing folder
//     is engine.ErrNotFound. exclude_deleted leaves out secrets whose
//     current version has a deletion_time, as Vault does.
//   - PUT/POST {max_versions, cas_required, delete_version_after,
//     custom_metadata}: sets the given fields, creating the metadata (with
//     no versions) when missing; no field given is a no-op (204). Setting
//     cas_required false on a mount that requires cas answers Vault's
//     warning.
//   - PATCH (application/merge-patch+json): merges the given fields into
//     existing metadata (ErrNotFound when missing); custom_metadata is
//     merged key by key, a null value removing a key, a null
//     custom_metadata removing all.
//   - DELETE: removes the metadata and every version's data (204, also when
//     missing).
//
// custom_metadata follows Vault's validation (at most 64 keys, keys 1..128
// and values 1..512 printable bytes) and messages. Deviations: no
// last_updated_by/created_by/deleted_by (a Request carries no identity); a
// negative or too large max_versions is refused instead of wrapping.

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/strongroom/strongroom/engine"
)

// metadataRequest is the body of a metadata write or patch.
type metadataRequest struct {
	MaxVersions        json.RawMessage `json:"max_versions"`
	CASRequired        json.RawMessage `json:"cas_required"`
	DeleteVersionAfter json.RawMessage `json:"delete_version_after"`
	CustomMetadata     json.RawMessage `json:"custom_metadata"`
}

// metadataResponse is the data of a metadata read.
type metadataResponse struct {
	CASRequired        bool                   `json:"cas_required"`
	CreatedTime        string                 `json:"created_time"`
	CurrentVersion     uint64                 `json:"current_version"`
	CustomMetadata     map[string]string      `json:"custom_metadata"`
	DeleteVersionAfter string                 `json:"delete_version_after"`
	MaxVersions        uint32                 `json:"max_versions"`
	OldestVersion      uint64                 `json:"oldest_version"`
	UpdatedTime        string                 `json:"updated_time"`
	Versions           map[string]versionInfo `json:"versions"`
}

// versionInfo is one entry of a metadata read's versions.
type versionInfo struct {
	CreatedTime  string `json:"created_time"`
	DeletionTime string `json:"deletion_time"`
	Destroyed    bool   `json:"destroyed"`
}

// metadataFields is a metadata write or patch, converted.
type metadataFields struct {
	maxVersions    *uint32
	casRequired    *bool
	deleteAfter    *time.Duration
	customMetadata map[string]string // with setCustom
	setCustom      bool
	customDeletes  []string // patch: keys to remove
	clearCustom    bool     // patch: custom_metadata null
}

func (b *v2Backend) handleMetadata(ctx context.Context, req *engine.Request, path string) (*engine.Response, error) {
	if req.Operation == engine.OpList {
		return b.listMetadata(ctx, path, req)
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	switch req.Operation {
	case engine.OpRead:
		return b.readMetadata(ctx, path)
	case engine.OpUpdate:
		return b.writeMetadata(ctx, path, req)
	case engine.OpPatch:
		return b.patchMetadata(ctx, path, req)
	case engine.OpDelete:
		return b.deleteMetadata(ctx, path)
	}
	return nil, engine.ErrUnsupportedOperation
}

func (b *v2Backend) readMetadata(ctx context.Context, path string) (*engine.Response, error) {
	if path == "" {
		return nil, engine.ErrNotFound
	}
	var s *secretRecord
	err := b.st.view(ctx, func(r reader) error {
		var err error
		s, err = loadSecret(r, path)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, engine.ErrNotFound
	}
	versions := make(map[string]versionInfo, len(s.Versions))
	first := s.first()
	for i, v := range s.Versions {
		versions[strconv.FormatUint(first+uint64(i), 10)] = versionInfo{
			CreatedTime:  formatTime(v.Created),
			DeletionTime: formatTime(v.Deletion),
			Destroyed:    v.Destroyed,
		}
	}
	return &engine.Response{Data: metadataResponse{
		CASRequired:        s.CASRequired,
		CreatedTime:        formatTime(s.Created),
		CurrentVersion:     s.Current,
		CustomMetadata:     s.CustomMetadata,
		DeleteVersionAfter: s.DeleteVersionAfter.String(),
		MaxVersions:        s.MaxVersions,
		OldestVersion:      s.Oldest,
		UpdatedTime:        formatTime(s.Updated),
		Versions:           versions,
	}}, nil
}

// parseMetadata converts a metadata write (forPatch false) or patch body.
func parseMetadata(body []byte, forPatch bool) (metadataFields, error) {
	var in metadataRequest
	var f metadataFields
	if err := decodeBody(body, &in); err != nil {
		return f, err
	}
	if present(in.MaxVersions) {
		n, err := intField("max_versions", in.MaxVersions)
		if err != nil {
			return f, err
		}
		if n < 0 || n > math.MaxUint32 {
			return f, fieldError("max_versions", strconv.FormatInt(n, 10), "max_versions must be between 0 and 4294967295")
		}
		m := uint32(n)
		f.maxVersions = &m
	}
	if present(in.CASRequired) {
		c, err := boolField("cas_required", in.CASRequired)
		if err != nil {
			return f, err
		}
		f.casRequired = &c
	}
	d, ok, err := durationField("delete_version_after", in.DeleteVersionAfter, false)
	if err != nil {
		return f, err
	}
	if ok {
		f.deleteAfter = &d
	}
	if present(in.CustomMetadata) {
		if forPatch && isNull(in.CustomMetadata) {
			f.clearCustom = true
		} else {
			cm, dels, err := customMetadataField(in.CustomMetadata, forPatch)
			if err != nil {
				return f, err
			}
			f.customMetadata, f.customDeletes, f.setCustom = cm, dels, true
		}
	}
	return f, nil
}

func (f *metadataFields) empty() bool {
	return f.maxVersions == nil && f.casRequired == nil && f.deleteAfter == nil && !f.setCustom && !f.clearCustom
}

// apply sets the fields on s: custom_metadata replaced (write) or merged
// (patch).
func (f *metadataFields) apply(s *secretRecord, forPatch bool) {
	if f.maxVersions != nil {
		s.MaxVersions = *f.maxVersions
	}
	if f.casRequired != nil {
		s.CASRequired = *f.casRequired
	}
	if f.deleteAfter != nil {
		s.DeleteVersionAfter = *f.deleteAfter
	}
	switch {
	case f.clearCustom:
		s.CustomMetadata = nil
	case f.setCustom && !forPatch:
		s.CustomMetadata = f.customMetadata
	case f.setCustom:
		if s.CustomMetadata == nil {
			s.CustomMetadata = map[string]string{}
		}
		for k, v := range f.customMetadata {
			s.CustomMetadata[k] = v
		}
		for _, k := range f.customDeletes {
			delete(s.CustomMetadata, k)
		}
	}
}

// warnings returns Vault's warning when cas_required is set false on a
// mount that requires cas.
func (f *metadataFields) warnings(cfg configRecord) []string {
	if f.casRequired != nil && !*f.casRequired && cfg.CASRequired {
		return []string{casWarning}
	}
	return nil
}

func (b *v2Backend) writeMetadata(ctx context.Context, path string, req *engine.Request) (*engine.Response, error) {
	f, err := parseMetadata(req.Body, false)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, badRequest("missing path")
	}
	if f.empty() {
		return nil, nil
	}
	var warnings []string
	err = b.st.update(ctx, func(w writer) error {
		cfg, err := loadConfig(w)
		if err != nil {
			return err
		}
		warnings = f.warnings(cfg)
		s, err := loadSecret(w, path)
		if err != nil {
			return err
		}
		if s == nil {
			now := b.now().UnixNano()
			s = &secretRecord{Created: now, Updated: now}
		}
		f.apply(s, false)
		return saveSecret(w, path, s)
	})
	return withWarnings(warnings, err)
}

func (b *v2Backend) patchMetadata(ctx context.Context, path string, req *engine.Request) (*engine.Response, error) {
	if err := checkPatchContentType(req.ContentType); err != nil {
		return nil, err
	}
	f, err := parseMetadata(req.Body, true)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, badRequest("missing path")
	}
	var warnings []string
	err = b.st.update(ctx, func(w writer) error {
		cfg, s, err := loadState(w, path)
		if err != nil {
			return err
		}
		if s == nil {
			return engine.ErrNotFoundNoBody // Vault's pathMetadataPatch: an empty 404
		}
		warnings = f.warnings(cfg)
		f.apply(s, true)
		return saveSecret(w, path, s)
	})
	return withWarnings(warnings, err)
}

// withWarnings answers 204, or the warnings alone (Vault answers 200 with
// them and no data).
func withWarnings(warnings []string, err error) (*engine.Response, error) {
	if err != nil {
		return nil, err
	}
	if len(warnings) == 0 {
		return nil, nil
	}
	return &engine.Response{Warnings: warnings}, nil
}

func (b *v2Backend) deleteMetadata(ctx context.Context, path string) (*engine.Response, error) {
	if path == "" {
		return nil, nil
	}
	err := b.st.update(ctx, func(w writer) error {
		ok, err := exists(w, entryKey(path))
		if err != nil || !ok {
			return err
		}
		if err := w.DeletePrefix(versionPrefix(path)); err != nil {
			return err
		}
		if err := w.Delete(entryKey(path)); err != nil {
			return err
		}
		return pruneFolders(w, path)
	})
	if err != nil {
		return nil, err
	}
	return nil, b.st.scrub(ctx)
}

func (b *v2Backend) listMetadata(ctx context.Context, path string, req *engine.Request) (*engine.Response, error) {
	folder, err := checkFolder(path)
	if err != nil {
		return nil, err
	}
	excludeDeleted, err := queryBool(req.Query, "exclude_deleted")
	if err != nil {
		return nil, err
	}
	var keys []string
	err = listFolder(ctx, b.st, folder, func(r reader, name string) error {
		if excludeDeleted && name[len(name)-1] != '/' {
			s, err := loadSecret(r, folder+name)
			if err == nil && s != nil {
				if v := s.version(s.Current); v != nil && v.Deletion != 0 {
					return nil
				}
			}
		}
		keys = append(keys, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, engine.ErrNotFound
	}
	return &engine.Response{Data: listResponse{Keys: keys}}, nil
}
