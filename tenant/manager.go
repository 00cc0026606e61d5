package tenant

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
)

// NamedHSM is the HSM as tenants use it: one key per tenant, found by
// label, inside the token. Deleting a tenant destroys its key, so its root
// key cannot be unwrapped from any copy of the store, backups included.
type NamedHSM interface {
	// CreateNamedKey creates a key labelled label, a label never used before.
	CreateNamedKey(ctx context.Context, label string) error
	WrapNamed(ctx context.Context, label string, plaintext, aad []byte) ([]byte, error)
	UnwrapNamed(ctx context.Context, label string, blob, aad []byte) ([]byte, error)
	// DestroyNamedKey destroys the key; nil when there is none.
	DestroyNamedKey(ctx context.Context, label string) error
}

// Defaults of Config.
const (
	DefaultIdleTimeout   = 10 * time.Minute
	DefaultMaxLoaded     = 1000
	DefaultSweepInterval = 10 * time.Second
	DefaultPurgeBatch    = 1000
	// tenantTokenCache bounds each tenant's token lookup cache; the
	// cluster's own is larger (see cmd/strongroom).
	tenantTokenCache = 1000
)

// Config configures a Manager.
type Config struct {
	Store storage.Store
	// Root is the cluster's own tenant; its barrier holds the registry.
	Root *Tenant
	// Parts builds each tenant (ModeFor and StreamsOnly are set by the
	// manager).
	Parts Parts
	// HSM, if set, holds a key per tenant labelled
	// "<HSMLabelPrefix>/tenant/<id>". Without it tenants are shamir only,
	// and a deleted tenant is unreadable in the live store but not in
	// copies made before the delete (whoever holds its shares).
	HSM            NamedHSM
	HSMLabelPrefix string
	// IdleTimeout: a tenant whose keys can be reloaded without its
	// operators (sealed, uninitialised, or auto-unsealed) is unloaded from
	// memory after this long without a request.
	IdleTimeout time.Duration
	// MaxLoaded bounds the tenants held in memory; past it, the least
	// recently used unloadable tenant is unloaded. Unsealed shamir tenants
	// are never unloaded (their keys would need the shares again), so
	// they can exceed it.
	MaxLoaded     int
	SweepInterval time.Duration
	PurgeBatch    int
	// PurgeGrace is how long after a deleted tenant's records were cleared
	// they are cleared again, for what requests under way at the delete
	// wrote after it (under keys the delete shredded, so unreadable, but
	// not to be left behind). It must exceed the longest request
	// (max_request_duration, 90 s by default) plus the coherence window.
	// Zero means DefaultPurgeGrace.
	PurgeGrace time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// Manager is the registry of namespaces and the tenants this node has
// loaded. It is safe for concurrent use.
type Manager struct {
	cfg  Config
	life context.Context // the node's lifetime: watchers and purges

	mu     sync.RWMutex
	loaded map[string]*Tenant // by name

	idxMu     sync.RWMutex
	idx       map[string]*Entry // every namespace by name, once loaded
	idxLoaded bool
	// While a refresh reads the registry, the changes this node commits
	// are also logged here, to be applied on top of what it read.
	refreshing bool
	idxLog     []indexUpdate
	refreshMu  sync.Mutex // one refresh at a time

	holder  string // this manager's id in purge leases
	purgeMu sync.Mutex
	purging map[string]bool       // purges running on this node
	retry   map[string]purgeRetry // failed purges, by tenant id

	decoded *seal.DecodedCache // registry entries, by key and ciphertext

	refreshPending atomic.Bool
	refreshes      atomic.Int64 // refresh runs, for tests
}

// DefaultPurgeGrace is Config.PurgeGrace's default.
const DefaultPurgeGrace = 10 * time.Minute

// refreshDelay coalesces the registry changes seen through the epoch:
// one refresh (a read of the whole registry) covers every change of the
// last refreshDelay, so a burst of namespace creations on another node
// costs a few refreshes a second, not one per creation. It is well inside
// the one-second coherence window.
const refreshDelay = 100 * time.Millisecond

// scheduleRefresh runs refresh once, refreshDelay from now, unless one is
// already scheduled; a change seen while a refresh runs schedules another.
func (m *Manager) scheduleRefresh(ctx context.Context) {
	if m.refreshPending.Swap(true) {
		return
	}
	time.AfterFunc(refreshDelay, func() {
		m.refreshPending.Store(false)
		if ctx.Err() == nil {
			m.refresh(ctx)
		}
	})
}

// NewManager returns the manager; Run does its background work.
func NewManager(ctx context.Context, cfg Config) *Manager {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxLoaded <= 0 {
		cfg.MaxLoaded = DefaultMaxLoaded
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.PurgeBatch <= 0 {
		cfg.PurgeBatch = DefaultPurgeBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{cfg: cfg, life: ctx, loaded: map[string]*Tenant{},
		holder: rand.Text(), purging: map[string]bool{}, retry: map[string]purgeRetry{},
		decoded: seal.NewDecodedCache(registryCacheMax, 4096)}
	cfg.Root.Sys.OnSeal = append(cfg.Root.Sys.OnSeal, m.unloadAll)
	cfg.Root.Barrier.WatchEpochKinds(ctx, []string{seal.EpochNamespaces}, func(string) { m.scheduleRefresh(ctx) })
	return m
}

// Root returns the cluster's own tenant.
func (m *Manager) Root() *Tenant { return m.cfg.Root }

// HasHSM reports whether tenants get HSM keys (and can be auto-unsealed).
func (m *Manager) HasHSM() bool { return m.cfg.HSM != nil }

// modeFor maps a seal type to the seal mode of a tenant on this node.
func (m *Manager) modeFor(sealType string) (seal.Mode, error) {
	st, err := ParseSealType(sealType)
	if err != nil {
		return seal.ModeUnknown, err
	}
	switch {
	case st == SealAuto && m.cfg.HSM == nil:
		return seal.ModeUnknown, engine.Errorf(engine.ErrBadRequest, "seal_type %q needs the cluster's pkcs11 seal (an HSM)", SealAuto)
	case st == SealAuto:
		return seal.ModeAuto, nil
	case m.cfg.HSM != nil:
		return seal.ModeDual, nil
	}
	return seal.ModeShamir, nil
}

// entries returns the index of namespaces, loading it from the registry
// if needed. The cluster must be unsealed (seal.ErrSealed otherwise).
func (m *Manager) entries(ctx context.Context) (map[string]*Entry, error) {
	m.idxMu.RLock()
	if m.idxLoaded {
		defer m.idxMu.RUnlock()
		return m.idx, nil
	}
	m.idxMu.RUnlock()
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	if m.idxLoaded {
		return m.idx, nil
	}
	idx, err := m.readIndex(ctx)
	if err != nil {
		return nil, err
	}
	m.idx, m.idxLoaded = idx, true
	return idx, nil
}

func (m *Manager) readIndex(ctx context.Context) (map[string]*Entry, error) {
	var idx map[string]*Entry
	err := m.cfg.Root.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		idx, err = m.readRegistry(tx)
		return err
	})
	return idx, err
}

// readRegistry reads every registry entry in tx, by name. Entries are
// shared with the decoded cache: callers must not modify them.
func (m *Manager) readRegistry(tx *seal.ReadTx) (map[string]*Entry, error) {
	names, err := tx.ListNames(entryPrefix())
	if err != nil {
		return nil, err
	}
	idx := make(map[string]*Entry, len(names))
	for _, n := range names {
		e, err := m.entryIn(tx, n)
		if err != nil {
			return nil, err
		}
		if e != nil {
			idx[n] = e
		}
	}
	return idx, nil
}

// entryIn returns the registry entry of name in tx (nil when there is
// none), through the decoded cache: callers must not modify it.
func (m *Manager) entryIn(tx *seal.ReadTx, name string) (*Entry, error) {
	v, err := tx.GetDecoded(m.decoded, entryKey(name), seal.DecodeJSON[Entry])
	if errors.Is(err, seal.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v.(*Entry), nil
}

// registryCacheMax bounds the decoded registry entries kept (with their
// ciphertexts, ~0.5 KB each): the index holds every entry anyway, and a
// refresh after another node's change then opens only what changed.
const registryCacheMax = 100_000

// registered is the seal guard of a namespace's tenant
// (seal.Options.Guard): in the transaction that would write the tenant's
// seal records, it reads the registry entry of the tenant, under the name
// the tenant was loaded with or, after a rename, under any name. No entry
// is an error wrapping seal.ErrGone: the namespace was deleted, and its
// purge may be over, so nothing would remove what the write left.
func (m *Manager) registered(raw storage.ReadTx, name, idHex string) error {
	tx := m.cfg.Root.Barrier.ReadIn(raw)
	e, err := m.entryIn(tx, name)
	if err != nil {
		return err
	}
	if e != nil && e.TenantID == idHex {
		return nil
	}
	idx, err := m.readRegistry(tx)
	if err != nil {
		return err
	}
	for _, e := range idx {
		if e.TenantID == idHex {
			return nil
		}
	}
	return fmt.Errorf("namespace %q not found: %w", name, seal.ErrGone)
}

// Has reports whether name is a namespace, without loading it. The front
// door asks it of a path's first segment (path-prefix namespaces); it is
// false while the cluster is sealed.
func (m *Manager) Has(ctx context.Context, name string) bool {
	if m.cfg.Root.Barrier.Sealed() {
		return false
	}
	idx, err := m.entries(ctx)
	if err != nil {
		return false
	}
	m.idxMu.RLock()
	defer m.idxMu.RUnlock()
	_, ok := idx[name]
	return ok
}

// Lookup returns the tenant of namespace name, loading it if needed and
// auto-unsealing it on first use if its seal allows (an auto tenant that
// its operator sealed stays sealed until unsealed with its recovery keys:
// seal.Barrier.Held). Errors: ErrNotFound,
// seal.ErrSealed while the cluster is sealed, storage errors.
func (m *Manager) Lookup(ctx context.Context, name string) (*Tenant, error) {
	now := m.cfg.Now()
	m.mu.RLock()
	t := m.loaded[name]
	m.mu.RUnlock()
	if t == nil {
		idx, err := m.entries(ctx)
		if err != nil {
			return nil, err
		}
		m.idxMu.RLock()
		e := idx[name]
		m.idxMu.RUnlock()
		if e == nil {
			return nil, ErrNotFound
		}
		nt, err := m.build(ctx, e)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		if !m.stillNamed(ctx, name, e) {
			// Deleted or renamed while it was being built.
			m.mu.Unlock()
			return nil, ErrNotFound
		}
		if t = m.loaded[name]; t == nil {
			t = nt
			t.Watch(m.life, m.cfg.Logger)
			m.loaded[name] = t
			t.touch(now)
			m.shrinkLocked()
		}
		m.mu.Unlock()
	}
	t.touch(now)
	if t.Barrier.Sealed() && t.Barrier.Mode() == seal.ModeAuto {
		if held, err := t.Barrier.Held(ctx); err != nil || held {
			return t, err
		}
		start := time.Now()
		if ok, err := t.Barrier.AutoUnseal(ctx); err != nil {
			m.cfg.Logger.Warn("namespace auto-unseal failed", "namespace", name, "error", err.Error())
		} else if ok {
			m.cfg.Logger.Debug("namespace unsealed through the HSM", "namespace", name, "duration", time.Since(start).String())
		}
	}
	return t, nil
}

// stillNamed reports whether the index still maps name to e's tenant.
func (m *Manager) stillNamed(ctx context.Context, name string, e *Entry) bool {
	idx, err := m.entries(ctx)
	if err != nil {
		return false
	}
	m.idxMu.RLock()
	defer m.idxMu.RUnlock()
	cur := idx[name]
	return cur != nil && cur.TenantID == e.TenantID
}

// build makes the parts of a namespace, in the mode its stored seal says
// (or the namespace's default seal type before init).
func (m *Manager) build(ctx context.Context, e *Entry) (*Tenant, error) {
	id := e.id()
	if id == nil {
		return nil, seal.ErrCorrupt
	}
	stored, err := seal.New(m.cfg.Store, id, seal.Options{}).Config(ctx)
	if err != nil {
		return nil, err
	}
	mode := seal.ModeShamir
	if stored != nil {
		mode = stored.Mode()
	} else if md, err := m.modeFor(e.SealType); err == nil {
		mode = md
	}
	name, idHex := e.Name, e.TenantID
	opts := seal.Options{Mode: mode, Guard: func(tx storage.ReadTx) error { return m.registered(tx, name, idHex) }}
	if m.cfg.HSM != nil {
		w := &keyWrapper{h: m.cfg.HSM, prefix: tenantKeyPrefix(m.cfg.HSMLabelPrefix, e.TenantID)}
		opts.HSM, opts.PrepareHSM, opts.AbandonHSM = w, w.prepare, w.abandon
	}
	p := m.cfg.Parts
	p.StreamsOnly, p.ModeFor = true, m.modeFor
	p.TokenCacheSize = tenantTokenCache
	t := New(m.cfg.Store, id, e.Name, opts, p)
	t.Sys.SealEverywhere = true
	t.watch = append(append([]string(nil), seal.EpochKinds...), seal.EpochSeal)
	return t, nil
}

// shrinkLocked unloads the least recently used unloadable tenants while
// more than MaxLoaded are loaded.
func (m *Manager) shrinkLocked() {
	for len(m.loaded) > m.cfg.MaxLoaded {
		var victim *Tenant
		for _, t := range m.loaded {
			if unloadable(t) && (victim == nil || t.lastUse.Load() < victim.lastUse.Load()) {
				victim = t
			}
		}
		if victim == nil {
			return
		}
		m.unloadLocked(victim)
	}
}

// unloadable reports whether t's keys can come back without its
// operators: it is sealed, uninitialised or auto-unsealed.
func unloadable(t *Tenant) bool { return t.Barrier.Sealed() || t.Barrier.Mode() == seal.ModeAuto }

func (m *Manager) unloadLocked(t *Tenant) {
	for name, lt := range m.loaded {
		if lt == t {
			delete(m.loaded, name)
		}
	}
	t.Stop()
}

// unloadAll unloads every tenant (the cluster was sealed) and forgets the
// index, which the cluster keyring encrypts.
func (m *Manager) unloadAll() {
	m.mu.Lock()
	for _, t := range m.loaded {
		m.unloadLocked(t)
	}
	m.mu.Unlock()
	m.idxMu.Lock()
	m.idx, m.idxLoaded = nil, false
	m.idxMu.Unlock()
	m.decoded.Clear()
}

// EachLoaded calls fn with the current name of each tenant loaded on
// this node, under the manager's lock: fn must be quick and must not call
// the manager.
func (m *Manager) EachLoaded(fn func(name string, t *Tenant)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, t := range m.loaded {
		fn(name, t)
	}
}

// Loaded returns how many tenants this node holds in memory.
func (m *Manager) Loaded() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.loaded)
}

// indexUpdate is a change of the index this node made (setIndex): the
// entry now at name, nil for none.
type indexUpdate struct {
	name string
	e    *Entry
}

// refresh runs after the registry changed through another node (or
// through several changes at once): it reads the registry, then installs
// it as the index and re-keys or unloads the loaded tenants whose name no
// longer names them, in one step. The changes this node committed while
// the registry was read are applied on top of what was read (one
// committed before the read is applied twice, to the same effect), so none
// is lost; and a lookup never sees a renamed namespace's new name before
// its loaded tenant was moved to it (it would load a second, sealed,
// tenant, and the one in use would then be unloaded).
func (m *Manager) refresh(ctx context.Context) {
	if m.cfg.Root.Barrier.Sealed() {
		return
	}
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	m.refreshes.Add(1)
	m.idxMu.Lock()
	m.refreshing, m.idxLog = true, nil
	m.idxMu.Unlock()
	idx, err := m.readIndex(ctx)
	if err != nil {
		// Read again on the next use; the loaded tenants are checked at
		// the next change.
		m.idxMu.Lock()
		m.idx, m.idxLoaded = nil, false
		m.refreshing, m.idxLog = false, nil
		m.idxMu.Unlock()
		return
	}
	// Lock order: mu, then idxMu, as in Lookup.
	m.mu.Lock()
	defer m.mu.Unlock()
	m.idxMu.Lock()
	for _, u := range m.idxLog {
		if u.e == nil {
			delete(idx, u.name)
		} else {
			idx[u.name] = u.e
		}
	}
	m.idx, m.idxLoaded = idx, true
	m.refreshing, m.idxLog = false, nil
	// The names by tenant id, read while setIndex cannot write the map.
	byID := make(map[string]string, len(idx))
	for name, e := range idx {
		byID[e.TenantID] = name
	}
	m.idxMu.Unlock()
	for name, t := range m.loaded {
		if byID[hex.EncodeToString(t.ID)] == name {
			continue
		}
		// Renamed: the same tenant under its new name, keys kept.
		if to, ok := byID[hex.EncodeToString(t.ID)]; ok && m.loaded[to] == nil {
			delete(m.loaded, name)
			m.loaded[to] = t
			continue
		}
		m.unloadLocked(t)
	}
}

// CreateInput is the body of PUT sys/namespaces/<name>.
type CreateInput struct {
	// SealType is the seal sys/init uses by default in the namespace.
	SealType string
	// CustomMetadata replaces the namespace's metadata when HasMetadata.
	CustomMetadata map[string]string
	HasMetadata    bool
}

// Create creates namespace name, or updates the custom metadata of an
// existing one (Vault's PUT sys/namespaces/<path>). An existing
// namespace's seal type cannot change. Errors wrap engine.ErrBadRequest
// for bad input; seal.ErrSealed while the cluster is sealed.
func (m *Manager) Create(ctx context.Context, name string, in CreateInput) (*Entry, error) {
	name, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	st := ""
	if in.SealType != "" {
		if st, err = ParseSealType(in.SealType); err != nil {
			return nil, err
		}
		if _, err := m.modeFor(st); err != nil {
			return nil, err
		}
	}
	for k := range in.CustomMetadata {
		if k == "" {
			return nil, engine.Errorf(engine.ErrBadRequest, "custom_metadata keys must not be empty")
		}
	}
	var out *Entry
	err = m.cfg.Root.Barrier.Update(ctx, func(tx *seal.Tx) error {
		e, err := seal.GetJSON[Entry](&tx.ReadTx, entryKey(name))
		if err != nil {
			return err
		}
		if e != nil {
			if st != "" && st != e.SealType {
				return engine.Errorf(engine.ErrBadRequest, "the seal_type of an existing namespace cannot change")
			}
		} else {
			if st == "" {
				st = SealShamir
			}
			if e, err = newEntry(name, st, nil, m.cfg.Now()); err != nil {
				return err
			}
		}
		if in.HasMetadata {
			e.CustomMetadata = in.CustomMetadata
		}
		out = e
		return putEntry(tx, e)
	})
	if err != nil {
		return nil, err
	}
	m.setIndex(name, out)
	return out, nil
}

// putPurge stores purge record p, in tx.
func putPurge(tx *seal.Tx, p *purgeRecord) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return tx.Set(purgeKey(p.TenantID), raw)
}

// putEntry stores e under its name in the registry and bumps the
// registry epoch, in tx.
func putEntry(tx *seal.Tx, e *Entry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := tx.Set(entryKey(e.Name), raw); err != nil {
		return err
	}
	return tx.BumpEpoch(seal.EpochNamespaces)
}

// setIndex records e under name in a loaded index (nil e removes name).
func (m *Manager) setIndex(name string, e *Entry) {
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	if m.refreshing {
		m.idxLog = append(m.idxLog, indexUpdate{name: name, e: e})
	}
	if !m.idxLoaded {
		return
	}
	if e == nil {
		delete(m.idx, name)
	} else {
		m.idx[name] = e
	}
}

// Get returns namespace name: nil, nil when there is none.
func (m *Manager) Get(ctx context.Context, name string) (*Entry, error) {
	idx, err := m.entries(ctx)
	if err != nil {
		return nil, err
	}
	m.idxMu.RLock()
	defer m.idxMu.RUnlock()
	e := idx[name]
	if e == nil {
		return nil, nil
	}
	c := *e
	return &c, nil
}

// List returns every namespace, sorted by name.
func (m *Manager) List(ctx context.Context) ([]Entry, error) {
	idx, err := m.entries(ctx)
	if err != nil {
		return nil, err
	}
	m.idxMu.RLock()
	out := make([]Entry, 0, len(idx))
	for _, e := range idx {
		out = append(out, *e)
	}
	m.idxMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Rename gives namespace from the name to. The tenant's id, and so its
// data, tokens and keys, do not change. Errors: ErrNotFound, ErrExists,
// engine.ErrBadRequest for a bad name.
func (m *Manager) Rename(ctx context.Context, from, to string) (*Entry, error) {
	from, err := ParseName(from)
	if err != nil {
		return nil, err
	}
	if to, err = ParseName(to); err != nil {
		return nil, err
	}
	var out *Entry
	err = m.cfg.Root.Barrier.Update(ctx, func(tx *seal.Tx) error {
		e, err := seal.GetJSON[Entry](&tx.ReadTx, entryKey(from))
		if err != nil {
			return err
		}
		if e == nil {
			return ErrNotFound
		}
		if taken, err := seal.GetJSON[Entry](&tx.ReadTx, entryKey(to)); err != nil {
			return err
		} else if taken != nil {
			return ErrExists
		}
		if err := tx.Delete(entryKey(from)); err != nil {
			return err
		}
		e.Name = to
		out = e
		return putEntry(tx, e)
	})
	if err != nil {
		return nil, err
	}
	m.setIndex(from, nil)
	m.setIndex(to, out)
	// The loaded tenant keeps its keys under its new name.
	m.mu.Lock()
	if t := m.loaded[from]; t != nil {
		delete(m.loaded, from)
		if m.loaded[to] == nil {
			m.loaded[to] = t
		} else {
			t.Stop()
		}
	}
	m.mu.Unlock()
	return out, nil
}

// DeleteStatus is how far a Delete went.
type DeleteStatus string

// Delete outcomes.
const (
	DeleteNone       DeleteStatus = ""            // no such namespace
	DeleteDone       DeleteStatus = "deleted"     // shredded and every record cleared
	DeleteInProgress DeleteStatus = "in-progress" // shredded; records are being cleared
)

// purgeInline is how long Delete clears records before leaving the rest
// to the background.
const purgeInline = 2 * time.Second

// Delete deletes namespace name. In one transaction it removes the
// registry entry and the tenant's wrapped root key and keyring, so the
// tenant's records are unreadable once it commits; it then destroys the
// tenant's HSM key, so they stay unreadable in copies of the store made
// before, and clears the records in bounded transactions: for up to two
// seconds before it returns, then in the background; once more
// PurgeGrace later (FinishPurges).
func (m *Manager) Delete(ctx context.Context, name string) (DeleteStatus, error) {
	name, err := ParseName(name)
	if err != nil {
		return DeleteNone, err
	}
	var e *Entry
	now := m.cfg.Now()
	err = m.cfg.Root.Barrier.Update(ctx, func(tx *seal.Tx) error {
		var err error
		if e, err = seal.GetJSON[Entry](&tx.ReadTx, entryKey(name)); err != nil || e == nil {
			return err
		}
		id := e.id()
		if id == nil {
			return seal.ErrCorrupt
		}
		if err := tx.Delete(entryKey(name)); err != nil {
			return err
		}
		blob, err := tx.ShredTenant(id)
		if err != nil {
			return err
		}
		p := purgeRecord{TenantID: e.TenantID, HSMDestroyed: blob == nil}
		p.lease(m.holder, now) // this node purges
		if blob != nil {
			if p.HSMKeyLabel, err = tenantKeyLabel(m.cfg.HSMLabelPrefix, e.TenantID, blob); err != nil {
				return err
			}
		}
		if err := putPurge(tx, &p); err != nil {
			return err
		}
		return tx.BumpEpoch(seal.EpochNamespaces)
	})
	if err != nil || e == nil {
		return DeleteNone, err
	}
	m.setIndex(name, nil)
	m.mu.Lock()
	if t := m.loaded[name]; t != nil && bytes.Equal(t.ID, e.id()) {
		m.unloadLocked(t)
	}
	m.mu.Unlock()
	// The HSM key now, so that a copy of the store is unreadable once the
	// request returns; a failure is retried with the purge.
	if err := m.destroyKey(ctx, e.TenantID); err != nil {
		m.cfg.Logger.Warn("namespace HSM key not destroyed yet; retrying in the background", "namespace", name, "error", err.Error())
		m.startPurge(e.TenantID)
		return DeleteInProgress, nil
	}
	pctx, cancel := context.WithTimeout(ctx, purgeInline)
	defer cancel()
	if err := m.purge(pctx, e.TenantID); err != nil {
		m.startPurge(e.TenantID)
		return DeleteInProgress, nil
	}
	return DeleteDone, nil
}

// Run does the background work until ctx ends: every SweepInterval it
// revokes expired tokens of the loaded tenants (and runs their engines'
// periodic work every minute), unloads tenants idle for IdleTimeout, and
// resumes purges left by a restart or due for their second pass.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.SweepInterval)
	defer t.Stop()
	var lastPeriodic time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.cfg.Root.Barrier.Sealed() {
			continue
		}
		now := m.cfg.Now()
		if err := m.FinishPurges(ctx, now); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Debug("listing namespace purges failed", "error", err.Error())
		}
		periodic := now.Sub(lastPeriodic) >= time.Minute
		if periodic {
			lastPeriodic = now
		}
		m.sweep(ctx, now, periodic)
	}
}

// sweep unloads idle tenants and housekeeps the others.
func (m *Manager) sweep(ctx context.Context, now time.Time, periodic bool) {
	m.mu.Lock()
	var live []*Tenant
	for _, t := range m.loaded {
		if now.Sub(time.Unix(0, t.lastUse.Load())) >= m.cfg.IdleTimeout && unloadable(t) {
			m.unloadLocked(t)
			continue
		}
		live = append(live, t)
	}
	m.mu.Unlock()
	for _, t := range live {
		t.Housekeep(ctx, now, periodic, m.cfg.Logger)
	}
}
