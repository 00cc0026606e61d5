// Package mounts is a tenant's mount table and router: the secrets engines
// enabled at paths (Vault's sys/mounts), each with its own subspace of the
// tenant's records, and the longest-prefix routing of a request path to the
// engine that serves it.
package mounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Entry is one mount, stored in the tenant's mount table.
type Entry struct {
	Path        string            `json:"path"` // with a trailing slash
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Accessor    string            `json:"accessor"`
	UUID        string            `json:"uuid"`
	Options     map[string]string `json:"options"`
	Config      Config            `json:"config"`
	Local       bool              `json:"local"`
	SealWrap    bool              `json:"seal_wrap"`
}

// Config is a mount's tunable configuration (seconds, as Vault reports).
type Config struct {
	DefaultLeaseTTL int64 `json:"default_lease_ttl"`
	MaxLeaseTTL     int64 `json:"max_lease_ttl"`
	ForceNoCache    bool  `json:"force_no_cache"`
}

// Info is the entry as sys/mounts and sys/internal/ui/mounts report it
// (Vault's SystemBackend.mountInfo: "deprecation_status" is "supported"
// for every built-in engine, and a mount without options reports null).
func (e *Entry) Info() map[string]any {
	return map[string]any{
		"type":                    e.Type,
		"description":             e.Description,
		"accessor":                e.Accessor,
		"local":                   e.Local,
		"seal_wrap":               e.SealWrap,
		"external_entropy_access": false,
		"options":                 e.ReportedOptions(),
		"uuid":                    e.UUID,
		"deprecation_status":      "supported",
		"plugin_version":          "",
		"running_plugin_version":  "v0.1.0+builtin.strongroom",
		"running_sha256":          "",
		"config": map[string]any{
			"default_lease_ttl": e.Config.DefaultLeaseTTL,
			"max_lease_ttl":     e.Config.MaxLeaseTTL,
			"force_no_cache":    e.Config.ForceNoCache,
		},
	}
}

// ReportedOptions are the options as Vault reports them: nil (JSON null)
// when there are none, as for a mount enabled without options.
func (e *Entry) ReportedOptions() map[string]string {
	if len(e.Options) == 0 {
		return nil
	}
	return e.Options
}

// Factory builds the backend of a mount type over the mount's own view of
// the tenant's records. It is called at mount time and when the table is
// loaded; it must not write.
type Factory func(e *Entry, view *seal.View) (engine.Backend, error)

// Sentinel errors.
var (
	// ErrPathInUse: a mount exists at or around the path.
	ErrPathInUse = errors.New("path is already in use")
	// ErrUnknownType: no engine of that type.
	ErrUnknownType = errors.New("plugin not found in the catalog")
	// ErrReservedPath: the path belongs to the system (sys/, auth/, ...).
	ErrReservedPath = errors.New("cannot mount at a reserved path")
	// ErrNoMount: nothing is mounted at the path.
	ErrNoMount = errors.New("no matching mount")
)

// Table is a tenant's mount table and router. It is safe for concurrent
// use; routing takes a read lock on an immutable sorted slice.
type Table struct {
	barrier   *seal.Barrier
	factories map[string]Factory
	key       []byte   // where the table is stored
	reserved  []string // paths no mount may take
	kind      string   // "mount" or "auth", for data prefixes

	mu      sync.RWMutex
	loaded  bool
	entries []*mounted // sorted by path, longest first for routing
	stored  []byte     // the table's record as last read or written
}

type mounted struct {
	entry   *Entry
	backend engine.Backend
}

// New returns the mount table of the tenant behind barrier, with the engine
// types factories can build.
func New(barrier *seal.Barrier, factories map[string]Factory) *Table {
	return &Table{barrier: barrier, factories: factories, key: tuple.Pack("sys", "mounts"),
		reserved: []string{"sys/", "auth/", "cubbyhole/", "identity/"}, kind: "mount"}
}

// NewAuth returns the tenant's table of auth methods (Vault's sys/auth):
// the same mechanics, its own storage, paths relative to auth/, and
// token/ reserved for the token store.
func NewAuth(barrier *seal.Barrier, factories map[string]Factory) *Table {
	return &Table{barrier: barrier, factories: factories, key: tuple.Pack("sys", "auth"),
		reserved: []string{"token/"}, kind: "auth"}
}

// dataPrefix is the subspace of a mount's records: by UUID, so a path can
// be reused at once after a disable without meeting old data.
func (t *Table) dataPrefix(mountUUID string) []byte { return tuple.Pack(t.kind, mountUUID) }

// NormalizePath returns path with exactly one trailing slash and no leading
// one, or an error for an empty path or one with empty or dot segments.
func NormalizePath(path string) (string, error) {
	p := strings.Trim(path, "/")
	if p == "" {
		return "", engine.Errorf(engine.ErrBadRequest, "path cannot be empty")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", engine.Errorf(engine.ErrBadRequest, "invalid mount path %q", path)
		}
	}
	return p + "/", nil
}

// loadLocked reads the table from storage once per unseal. Callers hold mu.
func (t *Table) loadLocked(ctx context.Context) error {
	if t.loaded {
		return nil
	}
	return t.readLocked(ctx)
}

// readLocked reads the table from storage and rebuilds the router. A mount
// whose entry is unchanged keeps its backend (and what that caches); the
// backends of mounts that are gone or changed are closed. Callers hold mu.
func (t *Table) readLocked(ctx context.Context) error {
	var raw []byte
	err := t.barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		raw, err = tx.Get(t.key)
		if errors.Is(err, seal.ErrNotFound) {
			raw, err = nil, nil
		}
		return err
	})
	if err != nil {
		return err
	}
	var list []*Entry
	if raw != nil {
		if err := json.Unmarshal(raw, &list); err != nil {
			return seal.ErrCorrupt
		}
	}
	old := make(map[string]*mounted, len(t.entries))
	for _, m := range t.entries {
		old[m.entry.UUID] = m
	}
	entries := make([]*mounted, 0, len(list))
	for _, e := range list {
		if m, ok := old[e.UUID]; ok && sameEntry(m.entry, e) {
			delete(old, e.UUID)
			entries = append(entries, m)
			continue
		}
		m, err := t.build(e)
		if err != nil {
			return err
		}
		entries = append(entries, m)
	}
	for _, m := range old {
		closeBackend(m.backend)
	}
	t.entries, t.stored = sortMounts(entries), raw
	t.loaded = true
	return nil
}

// sameEntry reports whether two entries describe the same mount.
func sameEntry(a, b *Entry) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}

// Reload re-reads a loaded table from storage (another node changed it:
// seal.EpochMounts). Unchanged mounts keep their backends. A table not
// loaded yet is left to load on first use.
func (t *Table) Reload(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.loaded {
		return nil
	}
	return t.readLocked(ctx)
}

// Invalidate tells every mounted backend that caches records (an
// engine.Invalidator, such as transit's key cache) that another node may
// have changed them.
func (t *Table) Invalidate() {
	t.mu.RLock()
	entries := t.entries
	t.mu.RUnlock()
	for _, m := range entries {
		if inv, ok := m.backend.(engine.Invalidator); ok {
			inv.Invalidate("")
		}
	}
}

// errTableChanged: another node changed the table between this node's
// read and its write; nothing was written.
var errTableChanged = errors.New("mounts: the mount table changed during the request; retry it")

// Reset forgets the loaded table (at seal), closing every backend that
// holds key material (an io.Closer); the next use reloads it.
func (t *Table) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.entries {
		closeBackend(m.backend)
	}
	t.loaded, t.entries = false, nil
}

// closeBackend wipes what a backend caches, when it can.
func closeBackend(b engine.Backend) {
	if c, ok := b.(io.Closer); ok {
		_ = c.Close()
	}
}

// Periodic runs the periodic work of every mounted backend that has some
// (transit auto-rotation), and returns the first error.
func (t *Table) Periodic(ctx context.Context, now time.Time) error {
	t.mu.RLock()
	entries := t.entries
	t.mu.RUnlock()
	var first error
	for _, m := range entries {
		if p, ok := m.backend.(interface {
			Periodic(context.Context, time.Time) error
		}); ok {
			if err := p.Periodic(ctx, now); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func (t *Table) build(e *Entry) (*mounted, error) {
	f, ok := t.factories[e.Type]
	if !ok {
		return nil, engine.Errorf(ErrUnknownType, "plugin not found in the catalog: %s", e.Type)
	}
	b, err := f(e, t.barrier.Sub(t.dataPrefix(e.UUID)))
	if err != nil {
		return nil, err
	}
	return &mounted{entry: e, backend: b}, nil
}

func sortMounts(m []*mounted) []*mounted {
	sort.Slice(m, func(i, j int) bool {
		if len(m[i].entry.Path) != len(m[j].entry.Path) {
			return len(m[i].entry.Path) > len(m[j].entry.Path)
		}
		return m[i].entry.Path < m[j].entry.Path
	})
	return m
}

func (t *Table) saveLocked(tx *seal.Tx, entries []*mounted) error {
	list := make([]*Entry, len(entries))
	for i, m := range entries {
		list[i] = m.entry
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return err
	}
	// The change was computed from t.stored: refuse to overwrite a table
	// another node changed since (its change would be lost).
	cur, err := tx.Get(t.key)
	if errors.Is(err, seal.ErrNotFound) {
		cur, err = nil, nil
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, t.stored) {
		return errTableChanged
	}
	if err := tx.Set(t.key, raw); err != nil {
		return err
	}
	t.stored = raw
	return tx.BumpEpoch(seal.EpochMounts)
}

// List returns the mounts, sorted by path.
func (t *Table) List(ctx context.Context) ([]*Entry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.loadLocked(ctx); err != nil {
		return nil, err
	}
	out := make([]*Entry, len(t.entries))
	for i, m := range t.entries {
		c := *m.entry
		out[i] = &c
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// MountInput is the body of POST sys/mounts/<path>.
type MountInput struct {
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Config      ConfigInput       `json:"config"`
	Options     map[string]string `json:"options"`
	Local       engine.Bool       `json:"local"`
	SealWrap    engine.Bool       `json:"seal_wrap"`
}

// ConfigInput is the config object of a mount or tune request; durations
// are seconds or Go/Vault duration strings.
type ConfigInput struct {
	DefaultLeaseTTL engine.Duration `json:"default_lease_ttl"`
	MaxLeaseTTL     engine.Duration `json:"max_lease_ttl"`
	ForceNoCache    engine.Bool     `json:"force_no_cache"`
}

// Mount enables an engine at path. Vault's type alias "kv-v2" (and
// "kv-v1") is kv with options.version set. Errors: ErrPathInUse,
// ErrUnknownType, ErrReservedPath, engine.ErrBadRequest.
func (t *Table) Mount(ctx context.Context, path string, in MountInput) error {
	p, err := NormalizePath(path)
	if err != nil {
		return err
	}
	for _, r := range t.reserved {
		if strings.HasPrefix(p, r) || strings.HasPrefix(r, p) {
			return engine.Errorf(ErrReservedPath, "cannot mount at %q: it conflicts with the reserved path %q", p, r)
		}
	}
	typ := in.Type
	opts := map[string]string{}
	for k, v := range in.Options {
		opts[k] = v
	}
	switch typ {
	case "":
		return engine.Errorf(engine.ErrBadRequest, "backend type must be specified as a string")
	case "kv-v2":
		typ, opts["version"] = "kv", "2"
	case "kv-v1":
		typ, opts["version"] = "kv", "1"
	}
	// As Vault's handleMount: a plain kv mount keeps no version (it is
	// version 1), and only kv takes one.
	switch {
	case typ == "kv":
		switch opts["version"] {
		case "", "1", "2":
		default:
			return engine.Errorf(engine.ErrBadRequest, "invalid kv version %q: must be 1 or 2", opts["version"])
		}
	case opts["version"] != "":
		return engine.Errorf(engine.ErrBadRequest, "secrets engine %q does not allow setting a version", typ)
	}
	if in.Config.DefaultLeaseTTL < 0 || in.Config.MaxLeaseTTL < 0 {
		return engine.Errorf(engine.ErrBadRequest, "lease TTLs cannot be negative")
	}
	e := &Entry{
		Path: p, Type: typ, Description: in.Description, Options: opts,
		Accessor: t.accessor(typ), UUID: uuid.NewString(), Local: bool(in.Local), SealWrap: bool(in.SealWrap),
		Config: Config{DefaultLeaseTTL: int64(in.Config.DefaultLeaseTTL), MaxLeaseTTL: int64(in.Config.MaxLeaseTTL), ForceNoCache: bool(in.Config.ForceNoCache)},
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.readLocked(ctx); err != nil {
		return err
	}
	for _, m := range t.entries {
		if strings.HasPrefix(p, m.entry.Path) || strings.HasPrefix(m.entry.Path, p) {
			return engine.Errorf(ErrPathInUse, "path is already in use at %s", m.entry.Path)
		}
	}
	m, err := t.build(e)
	if err != nil {
		return err
	}
	next := sortMounts(append(append([]*mounted(nil), t.entries...), m))
	if err := t.barrier.Update(ctx, func(tx *seal.Tx) error { return t.saveLocked(tx, next) }); err != nil {
		return err
	}
	t.entries = next
	return nil
}

// Unmount disables the mount at path and removes all of its records, in the
// same transaction. Unmounting a path with no mount is not an error, as in
// Vault.
func (t *Table) Unmount(ctx context.Context, path string) error {
	p, err := NormalizePath(path)
	if err != nil {
		return err
	}
	// Vault's handleUnmount and disableCredential refuse the system's
	// own paths rather than report a success that did nothing.
	for _, r := range t.reserved {
		if strings.HasPrefix(p, r) {
			if t.kind == "auth" {
				return engine.Errorf(ErrReservedPath, "token credential backend cannot be disabled")
			}
			return engine.Errorf(ErrReservedPath, "cannot unmount %q", p)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.readLocked(ctx); err != nil {
		return err
	}
	var gone *mounted
	next := make([]*mounted, 0, len(t.entries))
	for _, m := range t.entries {
		if m.entry.Path == p {
			gone = m
			continue
		}
		next = append(next, m)
	}
	if gone == nil {
		return nil
	}
	err = t.barrier.Update(ctx, func(tx *seal.Tx) error {
		if err := tx.DeletePrefix(t.dataPrefix(gone.entry.UUID)); err != nil {
			return err
		}
		return t.saveLocked(tx, next)
	})
	if err != nil {
		return err
	}
	t.entries = next
	closeBackend(gone.backend)
	return nil
}

// TuneInput is the body of POST sys/mounts/<path>/tune (and of
// sys/auth/<path>/tune).
type TuneInput struct {
	DefaultLeaseTTL *TuneTTL          `json:"default_lease_ttl"`
	MaxLeaseTTL     *TuneTTL          `json:"max_lease_ttl"`
	Description     *string           `json:"description"`
	Options         map[string]string `json:"options"`
	// TokenType is an auth method's token type: only service tokens are
	// made, so "default-service" and "service" are accepted (and change
	// nothing); anything else is refused, as is the field on a secrets
	// engine (Vault's "'token_type' can only be modified on auth mounts").
	TokenType *string `json:"token_type"`
}

// TuneTTL is a TTL in a tune request, as Vault's handleTuneWriteCommon
// reads it: "" (what the CLI sends for a flag not given) keeps the
// mount's value, "system" resets it to the system's (0), and a number of
// seconds or a duration string sets it.
type TuneTTL struct {
	Keep    bool
	Seconds int64
}

// UnmarshalJSON reads "", "system", a number or a duration string.
func (d *TuneTTL) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch strings.TrimSpace(s) {
		case "":
			*d = TuneTTL{Keep: true}
			return nil
		case "system":
			*d = TuneTTL{}
			return nil
		}
	}
	var v engine.Duration
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	if v < 0 {
		return engine.Errorf(engine.ErrBadRequest, "invalid duration %s: must not be negative", b)
	}
	*d = TuneTTL{Seconds: int64(v)}
	return nil
}

// Apply returns the new value of a TTL now at cur (d may be nil: not in
// the request).
func (d *TuneTTL) Apply(cur int64) int64 {
	if d == nil || d.Keep {
		return cur
	}
	return d.Seconds
}

// CheckTune checks a mount's TTLs after a tune (seconds, 0: the system's)
// and its token_type, if the tune sets one, as Vault's tuneMountTTLs and
// handleTuneWriteCommon do; auth says whether the mount is an auth method.
// Errors are engine.ErrBadRequest.
func CheckTune(def, max int64, tokenType *string, auth bool) error {
	if def != 0 && max != 0 && max < def {
		return engine.Errorf(engine.ErrBadRequest, "backend max lease TTL of %d would be less than backend default lease TTL of %d", max, def)
	}
	if tokenType != nil {
		switch {
		case !auth:
			return engine.Errorf(engine.ErrBadRequest, "'token_type' can only be modified on auth mounts")
		case *tokenType != "default-service" && *tokenType != "service":
			return engine.Errorf(engine.ErrBadRequest, "token type %q is not supported: only service tokens are issued", *tokenType)
		}
	}
	return nil
}

// Tune changes a mount's configuration. A kv mount's version cannot
// change: 2 to 1 is refused as in Vault, and 1 to 2 (which Vault upgrades
// in place) is not supported.
func (t *Table) Tune(ctx context.Context, path string, in TuneInput) error {
	p, err := NormalizePath(path)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.readLocked(ctx); err != nil {
		return err
	}
	idx := t.indexLocked(p)
	if idx < 0 {
		return engine.Errorf(engine.ErrBadRequest, "cannot tune %q: no mount at this path", p)
	}
	e := *t.entries[idx].entry
	e.Options = map[string]string{}
	for k, v := range t.entries[idx].entry.Options {
		e.Options[k] = v
	}
	e.Config.DefaultLeaseTTL = in.DefaultLeaseTTL.Apply(e.Config.DefaultLeaseTTL)
	e.Config.MaxLeaseTTL = in.MaxLeaseTTL.Apply(e.Config.MaxLeaseTTL)
	if err := CheckTune(e.Config.DefaultLeaseTTL, e.Config.MaxLeaseTTL, in.TokenType, t.kind == "auth"); err != nil {
		return err
	}
	if in.Description != nil {
		e.Description = *in.Description
	}
	for k, v := range in.Options {
		if k == "version" && e.Type == "kv" {
			if v != "1" && v != "2" {
				return engine.Errorf(engine.ErrBadRequest, "invalid kv version %q: must be 1 or 2", v)
			}
			if v == "1" && e.Options["version"] == "2" {
				return engine.Errorf(engine.ErrBadRequest, "cannot downgrade mount from KV version 2 to 1")
			}
			if v == "2" && e.Options["version"] != "2" {
				return engine.Errorf(engine.ErrBadRequest, "upgrading a KV version 1 mount in place is not supported; copy the secrets to a new kv-v2 mount")
			}
		}
		e.Options[k] = v
	}
	return t.replaceLocked(ctx, idx, &e)
}

// Remount moves the mount at from to the path to, in one transaction
// (Vault's remountSecretsEngine and remountCredential). A mount's records
// are kept under its UUID, so nothing else moves; its backend is rebuilt
// for the new entry. Errors: ErrNoMount (no mount exactly at from),
// ErrReservedPath, ErrPathInUse (to overlaps a mount, from included),
// engine.ErrBadRequest for a malformed path.
func (t *Table) Remount(ctx context.Context, from, to string) error {
	src, err := NormalizePath(from)
	if err != nil {
		return err
	}
	dst, err := NormalizePath(to)
	if err != nil {
		return err
	}
	for _, r := range t.reserved {
		if strings.HasPrefix(dst, r) || strings.HasPrefix(r, dst) {
			return engine.Errorf(ErrReservedPath, "cannot remount to destination %q: it conflicts with the reserved path %q", dst, r)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.readLocked(ctx); err != nil {
		return err
	}
	for _, m := range t.entries {
		if strings.HasPrefix(dst, m.entry.Path) || strings.HasPrefix(m.entry.Path, dst) {
			return engine.Errorf(ErrPathInUse, "path already in use at %q", m.entry.Path)
		}
	}
	idx := t.indexLocked(src)
	if idx < 0 {
		return engine.Errorf(ErrNoMount, "no matching mount at %q", src)
	}
	e := *t.entries[idx].entry
	e.Path = dst
	return t.replaceLocked(ctx, idx, &e)
}

// indexLocked is the index in t.entries of the mount at exactly path p,
// or -1. t.mu must be held.
func (t *Table) indexLocked(p string) int {
	for i, m := range t.entries {
		if m.entry.Path == p {
			return i
		}
	}
	return -1
}

// replaceLocked rebuilds the mount at index idx from e and saves the table
// with it in one transaction; the old backend is closed once the new one
// is in place. t.mu must be held.
func (t *Table) replaceLocked(ctx context.Context, idx int, e *Entry) error {
	m, err := t.build(e)
	if err != nil {
		return err
	}
	next := append([]*mounted(nil), t.entries...)
	old := next[idx].backend
	next[idx] = m
	next = sortMounts(next)
	if err := t.barrier.Update(ctx, func(tx *seal.Tx) error { return t.saveLocked(tx, next) }); err != nil {
		closeBackend(m.backend)
		return err
	}
	t.entries = next
	closeBackend(old)
	return nil
}

// Route returns the mount serving path (longest prefix), and the path
// below it. ErrNoMount when none does.
func (t *Table) Route(ctx context.Context, path string) (*Entry, engine.Backend, string, error) {
	t.mu.RLock()
	loaded := t.loaded
	entries := t.entries
	t.mu.RUnlock()
	if !loaded {
		t.mu.Lock()
		err := t.loadLocked(ctx)
		entries = t.entries
		t.mu.Unlock()
		if err != nil {
			return nil, nil, "", err
		}
	}
	for _, m := range entries {
		if strings.HasPrefix(path, m.entry.Path) || path+"/" == m.entry.Path {
			rest := strings.TrimPrefix(path, m.entry.Path)
			if path+"/" == m.entry.Path {
				rest = ""
			}
			return m.entry, m.backend, rest, nil
		}
	}
	return nil, nil, "", ErrNoMount
}

// accessor makes a mount accessor as Vault does: type_8hex.
// accessor names a new mount as Vault does: "<type>_<8 hex>" for a secrets
// engine, "auth_<type>_<8 hex>" for an auth method.
func (t *Table) accessor(typ string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	if t.kind == "auth" {
		typ = "auth_" + typ
	}
	return typ + "_" + hex.EncodeToString(b[:])
}
