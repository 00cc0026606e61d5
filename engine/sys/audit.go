package sys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Audits is a tenant's audit table (Vault's sys/audit): the enabled
// devices, stored through the barrier with their HMAC salts, and the broker
// that writes to them. The table is loaded on first use after an unseal;
// if a device cannot be opened then, every audited request fails (fail
// closed) until it can.
type Audits struct {
	Barrier *seal.Barrier
	Broker  audit.Broker
	// StreamsOnly confines the table to devices that write to the
	// process's standard output or nowhere (file_path "stdout" or
	// "discard"): a tenant's operator must not make the node write files.
	StreamsOnly bool

	mu      sync.Mutex
	loaded  bool
	entries []auditEntry
	stored  []byte // the table's record as last read or written

	// ready and devices mirror loaded and len(entries) for the request
	// path, which reads them without the lock.
	ready   atomic.Bool
	devices atomic.Int32
}

// auditEntry is one enabled device as stored.
type auditEntry struct {
	Path        string            `json:"path"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Options     map[string]string `json:"options"`
	Local       bool              `json:"local"`
	Salt        []byte            `json:"salt"`
}

// AuditInput is the body of PUT sys/audit/<path>.
type AuditInput struct {
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Options     map[string]string `json:"options"`
	Local       engine.Bool       `json:"local"`
}

var auditKey = tuple.Pack("sys", "audit")

func normalizeAuditPath(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" || strings.Contains(p, "//") || strings.Contains(p, "..") {
		return "", engine.Errorf(engine.ErrBadRequest, "invalid audit path %q", p)
	}
	return p + "/", nil
}

// Load opens the stored devices once per unseal. It is called before
// every audited request; a failure fails the request.
func (a *Audits) Load(ctx context.Context) error {
	if a.ready.Load() {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.loadLocked(ctx)
}

func (a *Audits) loadLocked(ctx context.Context) error {
	if a.loaded {
		return nil
	}
	raw, err := a.readStored(ctx)
	if err != nil {
		return err
	}
	var entries []auditEntry
	if raw != nil {
		if err := json.Unmarshal(raw, &entries); err != nil {
			return seal.ErrCorrupt
		}
	}
	for _, e := range entries {
		d, err := newDevice(e)
		if err != nil {
			a.closeAllLocked()
			return err
		}
		if err := a.Broker.Add(d); err != nil {
			a.closeAllLocked()
			return err
		}
	}
	a.setEntries(entries)
	a.stored = raw
	a.loaded = true
	a.ready.Store(true)
	return nil
}

// readStored returns the table's record (nil when none is stored).
func (a *Audits) readStored(ctx context.Context) ([]byte, error) {
	var raw []byte
	err := a.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		raw, err = tx.Get(auditKey)
		if errors.Is(err, seal.ErrNotFound) {
			raw, err = nil, nil
		}
		return err
	})
	return raw, err
}

// syncLocked makes the loaded table the stored one: when another node
// changed it (seal.EpochAudit), the devices are closed and the table is
// opened again. Callers hold mu.
func (a *Audits) syncLocked(ctx context.Context) error {
	if !a.loaded {
		return a.loadLocked(ctx)
	}
	raw, err := a.readStored(ctx)
	if err != nil {
		return err
	}
	if bytes.Equal(raw, a.stored) {
		return nil
	}
	a.closeAllLocked()
	a.ready.Store(false)
	a.loaded = false
	a.setEntries(nil)
	return a.loadLocked(ctx)
}

// Reload re-reads a loaded table after another node changed it; a table
// not loaded yet loads on first use.
func (a *Audits) Reload(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.loaded {
		return nil
	}
	return a.syncLocked(ctx)
}

// errAuditChanged: another node changed the audit table between this
// node's read and its write; nothing was written.
var errAuditChanged = errors.New("sys: the audit table changed during the request; retry it")

// setEntries replaces the table; callers hold mu.
func (a *Audits) setEntries(entries []auditEntry) {
	a.entries = entries
	a.devices.Store(int32(len(entries)))
}

func newDevice(e auditEntry) (*audit.Device, error) {
	if e.Type != "file" {
		return nil, engine.Errorf(engine.ErrBadRequest, "unknown audit backend type: %s", e.Type)
	}
	cfg, err := audit.ParseOptions(e.Options)
	if err != nil {
		return nil, engine.Errorf(engine.ErrBadRequest, "%w", err)
	}
	cfg.Name, cfg.Salt = e.Path, e.Salt
	d, err := audit.NewFileDevice(cfg)
	if err != nil {
		return nil, engine.Errorf(engine.ErrBadRequest, "%w", err)
	}
	return d, nil
}

func (a *Audits) closeAllLocked() {
	for _, name := range a.Broker.Names() {
		if d, err := a.Broker.Remove(name); err == nil {
			_ = d.Close()
		}
	}
}

// Reset closes every device (at seal); the next use reloads the table.
func (a *Audits) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeAllLocked()
	a.ready.Store(false)
	a.loaded = false
	a.setEntries(nil)
}

func (a *Audits) save(ctx context.Context, entries []auditEntry) error {
	raw, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	return a.Barrier.Update(ctx, func(tx *seal.Tx) error {
		// Never overwrite a table another node changed since this one
		// read it: a device it enabled would silently stop.
		cur, err := tx.Get(auditKey)
		if errors.Is(err, seal.ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(cur, a.stored) {
			return errAuditChanged
		}
		if err := tx.Set(auditKey, raw); err != nil {
			return err
		}
		a.stored = raw
		return tx.BumpEpoch(seal.EpochAudit)
	})
}

// Enable opens a device and adds it to the table.
func (a *Audits) Enable(ctx context.Context, path string, in AuditInput) error {
	p, err := normalizeAuditPath(path)
	if err != nil {
		return err
	}
	if a.StreamsOnly {
		fp, ok := in.Options["file_path"]
		if !ok {
			fp = in.Options["path"]
		}
		if fp != audit.Stdout && fp != audit.Discard {
			return engine.Errorf(engine.ErrBadRequest, "audit devices in a namespace write to %q or %q only; files are enabled in the root namespace", audit.Stdout, audit.Discard)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.syncLocked(ctx); err != nil {
		return err
	}
	for _, e := range a.entries {
		if e.Path == p {
			return engine.Errorf(engine.ErrBadRequest, "path already in use")
		}
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	e := auditEntry{Path: p, Type: in.Type, Description: in.Description, Options: in.Options, Local: bool(in.Local), Salt: salt}
	d, err := newDevice(e)
	if err != nil {
		return err
	}
	next := append(append([]auditEntry(nil), a.entries...), e)
	if err := a.save(ctx, next); err != nil {
		d.Close()
		return err
	}
	if err := a.Broker.Add(d); err != nil {
		d.Close()
		return err
	}
	a.setEntries(next)
	return nil
}

// Disable removes a device; disabling a missing one is not an error.
func (a *Audits) Disable(ctx context.Context, path string) error {
	p, err := normalizeAuditPath(path)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.syncLocked(ctx); err != nil {
		return err
	}
	var next []auditEntry
	for _, e := range a.entries {
		if e.Path != p {
			next = append(next, e)
		}
	}
	if len(next) == len(a.entries) {
		return nil
	}
	if err := a.save(ctx, next); err != nil {
		return err
	}
	if d, err := a.Broker.Remove(p); err == nil {
		_ = d.Close()
	}
	a.setEntries(next)
	return nil
}

// List answers GET sys/audit (the salt is not shown).
func (a *Audits) List(ctx context.Context) (map[string]any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.loadLocked(ctx); err != nil {
		return nil, err
	}
	out := map[string]any{}
	sort.Slice(a.entries, func(i, j int) bool { return a.entries[i].Path < a.entries[j].Path })
	for _, e := range a.entries {
		opts := e.Options
		if opts == nil {
			opts = map[string]string{}
		}
		out[e.Path] = map[string]any{"type": e.Type, "description": e.Description, "options": opts, "path": e.Path, "local": e.Local}
	}
	return out, nil
}

// Hash answers sys/audit-hash/<path>: the HMAC the device writes for input.
func (a *Audits) Hash(ctx context.Context, path, input string) (string, error) {
	p, err := normalizeAuditPath(path)
	if err != nil {
		return "", err
	}
	if err := a.Load(ctx); err != nil {
		return "", err
	}
	d, err := a.Broker.Device(p)
	if err != nil {
		return "", engine.Errorf(engine.ErrBadRequest, "unknown audit backend %s", p)
	}
	return d.Hash(input), nil
}

// Enabled reports whether any device is enabled (after Load).
func (a *Audits) Enabled() bool { return a.devices.Load() > 0 }
