// Package tenant holds Strongroom's tenants (Vault namespaces): the
// registry of namespaces, kept in the cluster's own barrier, and the set of
// parts that serve one tenant — its barrier, mount and auth tables, token
// store, policies and audit table — which the front door picks per
// request. The root namespace is the cluster itself and is built the same
// way.
//
// A tenant's records live under its random id (seal.TenantPrefix), never
// under its name, so a namespace can be renamed, and a name reused after a
// delete, without moving data. Its keyring is wrapped by its own root key;
// with an HSM, that root key is wrapped under a per-tenant key inside the
// HSM (see Manager), which deleting the tenant destroys.
package tenant

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/engine/cubbyhole"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/policy"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
)

// Tenant is what serves one namespace on this node.
type Tenant struct {
	ID         []byte // storage id: random for a namespace, "root" for the cluster
	Name       string // the namespace's name when loaded (logs only); "" for the root namespace
	Barrier    *seal.Barrier
	Sys        *sys.Sys
	Mounts     *mounts.Table
	Auths      *mounts.Table
	Tokens     *token.Cache
	TokenStore *token.Backend
	// Cubbyhole serves cubbyhole/: each token's private records.
	Cubbyhole *cubbyhole.Backend
	Policies  *policy.Store
	Audits    *sys.Audits

	// watch are the epoch kinds Watch follows.
	watch   []string
	lastUse atomic.Int64 // unix nanoseconds of the last Lookup
	cancel  context.CancelFunc
	resets  []func() // drop what was loaded through the barrier
}

// Parts configures what New builds.
type Parts struct {
	Engines     map[string]mounts.Factory // secrets engines by type
	AuthMethods map[string]mounts.Factory // auth methods by type
	StorageType string
	Version     string
	BuildDate   string
	// Probe checks the node's storage and HSM for sys/health.
	Probe func(ctx context.Context) error
	// TokenCacheSize and TokenCacheAge size the token lookup cache.
	TokenCacheSize int
	TokenCacheAge  time.Duration
	// StreamsOnly confines audit devices to stdout and discard (tenants).
	StreamsOnly bool
	// ModeFor, if set, lets sys/init choose the seal by seal_type.
	ModeFor func(sealType string) (seal.Mode, error)
}

// New builds the parts of tenant id, named name, on store, sealed.
func New(store storage.Store, id []byte, name string, opts seal.Options, p Parts) *Tenant {
	b := seal.New(store, id, opts)
	t := &Tenant{ID: b.TenantID(), Name: name, Barrier: b, watch: seal.EpochKinds}
	t.Mounts = mounts.New(b, p.Engines)
	t.Auths = mounts.NewAuth(b, p.AuthMethods)
	t.Tokens = token.NewCache(p.TokenCacheSize, p.TokenCacheAge)
	t.Policies = &policy.Store{Barrier: b}
	t.TokenStore = &token.Backend{Barrier: b, Cache: t.Tokens, PolicyExists: func(ctx context.Context, name string) (bool, error) {
		_, ok, err := t.Policies.Get(ctx, name)
		return ok, err
	}}
	t.Cubbyhole = &cubbyhole.Backend{Barrier: b}
	t.Audits = &sys.Audits{Barrier: b, StreamsOnly: p.StreamsOnly}
	t.resets = []func(){t.Mounts.Reset, t.Auths.Reset, t.Tokens.Clear, t.Policies.Invalidate, t.Audits.Reset}
	t.Sys = &sys.Sys{
		Barrier: b, StorageType: p.StorageType, Version: p.Version, BuildDate: p.BuildDate,
		Probe: p.Probe, ModeFor: p.ModeFor, OnSeal: append([]func(){}, t.resets...),
	}
	return t
}

// Invalidate drops what this node caches of kind after the tenant's epoch
// of kind moved (see seal.WatchEpochs): token lookups, compiled policies,
// the mount and auth tables, transit keys, or audit devices.
func (t *Tenant) Invalidate(ctx context.Context, kind string, logger *slog.Logger) {
	switch kind {
	case seal.EpochTokens:
		t.Tokens.Clear()
	case seal.EpochPolicies:
		t.Policies.Invalidate()
	case seal.EpochMounts:
		for _, tbl := range []*mounts.Table{t.Mounts, t.Auths} {
			if err := tbl.Reload(ctx); err != nil && ctx.Err() == nil {
				// Forget the table: the next request loads it again.
				logger.Error("mount table reload failed; the table will load on next use", "namespace", t.display(), "error", err.Error())
				tbl.Reset()
			}
		}
	case seal.EpochTransit:
		t.Mounts.Invalidate()
	case seal.EpochKeyring:
		if err := t.Barrier.ReloadKeyring(ctx); err != nil && ctx.Err() == nil {
			// Records of the new term load it when they are read.
			logger.Error("keyring reload failed", "namespace", t.display(), "error", err.Error())
		}
	case seal.EpochSeal:
		// Sealed by its operator through another node.
		if !t.Barrier.Sealed() {
			t.Sys.Seal()
			logger.Info("namespace sealed through another node", "namespace", t.display())
		}
	case seal.EpochAudit:
		if err := t.Audits.Reload(ctx); err != nil && ctx.Err() == nil {
			// Audited requests fail closed until the table opens.
			logger.Error("audit table reload failed; the table will load on next use", "namespace", t.display(), "error", err.Error())
			t.Audits.Reset()
		}
	}
	logger.Debug("cache invalidated", "namespace", t.display(), "kind", kind)
}

// Watch keeps the tenant's caches coherent with changes made through other
// nodes until ctx ends or Stop is called.
func (t *Tenant) Watch(ctx context.Context, logger *slog.Logger) {
	ctx, t.cancel = context.WithCancel(ctx)
	t.Barrier.WatchEpochKinds(ctx, t.watch, func(kind string) { t.Invalidate(ctx, kind, logger) })
}

// Stop ends the watchers and seals the tenant on this node, wiping its
// keys, without running Sys.OnSeal's other hooks: the tenant is unloaded,
// not sealed by an operator.
func (t *Tenant) Stop() {
	if t.cancel != nil {
		t.cancel()
	}
	t.Barrier.Seal()
	for _, f := range t.resets {
		f()
	}
}

// Housekeep revokes expired tokens and, when periodic is set, runs the
// engines' periodic work (transit auto-rotation), if the tenant is unsealed.
func (t *Tenant) Housekeep(ctx context.Context, now time.Time, periodic bool, logger *slog.Logger) {
	if t.Barrier.Sealed() {
		return
	}
	if periodic {
		if err := t.Mounts.Periodic(ctx, now); err != nil && ctx.Err() == nil {
			logger.Warn("periodic engine work failed", "namespace", t.display(), "error", err.Error())
		}
	}
	if k, err := t.TokenStore.Tidy(ctx, 1000); err != nil && ctx.Err() == nil {
		logger.Warn("token tidy failed", "namespace", t.display(), "error", err.Error())
	} else if k > 0 {
		logger.Debug("revoked expired tokens", "namespace", t.display(), "count", k)
	}
}

func (t *Tenant) display() string {
	if t.Name == "" {
		return "root"
	}
	return t.Name
}

func (t *Tenant) touch(now time.Time) { t.lastUse.Store(now.UnixNano()) }
