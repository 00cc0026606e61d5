package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/strongroom/strongroom/engine/approle"
	"github.com/strongroom/strongroom/engine/kv"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/policy"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/engine/transit"
	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/httpapi"
	"github.com/strongroom/strongroom/metrics"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
	"github.com/strongroom/strongroom/tenant"
)

// rootTenantID is the storage id of the root namespace, the cluster's own
// tenant. Other tenants get random ids.
var rootTenantID = []byte("root")

func runServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "path to the HCL configuration file")
	dev := fs.Bool("dev", false, "start an initialised, unsealed server on a temporary store")
	devAddr := fs.String("dev-listen-address", "127.0.0.1:8200", "address of the dev server's listener")
	devSeal := fs.String("dev-seal", "", "dev seal: pkcs11 (default when SoftHSM2 is installed) or shamir")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch {
	case *dev:
		err = runDev(ctx, *devAddr, *devSeal, stdout, stderr)
	case *configPath != "":
		var cfg *Config
		if cfg, err = LoadConfig(*configPath); err == nil {
			err = serve(ctx, cfg, stdout, stderr, nil)
		}
	default:
		err = errors.New("either -config or -dev is required")
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// node is one running server: its store, root barrier and front door.
type node struct {
	// cancel ends the node's background work (watches, tidy, tenants);
	// close calls it once requests are drained, before it closes the store.
	cancel      context.CancelFunc
	store       storage.Store
	ownsStore   bool // close closes the store
	sys         *sys.Sys
	servers     []*http.Server
	addrs       []string
	metricsAddr string // the separate metrics listener's URL, if any
	logger      *slog.Logger
	hsm         *hsmSlot // nil without a pkcs11 seal
	mounts      *mounts.Table
	auths       *mounts.Table
	certs       []*certHolder
	metrics     *metrics.Metrics
	lastPing    atomic.Pointer[time.Time]
	level       *slog.LevelVar
	policies    *policy.Store
	audits      *sys.Audits
	tokens      *token.Cache
	tokenStore  *token.Backend
	root        *tenant.Tenant
	tenants     *tenant.Manager
}

// The token lookup cache: entries are trusted for tokenCacheAge at most, so
// a change made behind the node's back (another node, later) is seen
// within that time; revocation on this node drops the entry at once.
const (
	tokenCacheSize = 100_000
	tokenCacheAge  = 5 * time.Second
)

// engineFactories are the secrets engines a mount can use, by type.
var engineFactories = map[string]mounts.Factory{"kv": kv.Factory, "transit": transit.Factory}

// authFactories are the auth methods sys/auth can enable, by type.
var authFactories = map[string]mounts.Factory{"approle": approle.Factory}

// openStore opens the configured store; it also returns the bolt database
// for its metrics.
func openStore(cfg *Storage) (storage.Store, *bolt.DB, string, error) {
	switch cfg.Type {
	case "bolt":
		if err := os.MkdirAll(filepath.Dir(cfg.Bolt.Path), 0o700); err != nil {
			return nil, nil, "", err
		}
		db, err := bolt.OpenRaw(cfg.Bolt.Path, cfg.Bolt.options()...)
		if err != nil {
			return nil, nil, "", err
		}
		return storage.Wrap(db), db, "bolt", nil
	case "foundationdb":
		st, err := cfg.FoundationDB.open()
		if err != nil {
			return nil, nil, "", err
		}
		return st, nil, "foundationdb", nil
	}
	return nil, nil, "", fmt.Errorf("storage type %q is not supported", cfg.Type)
}

// newLogger makes the node's logger: text (Vault's "standard") or JSON
// (log_format = "json"), at a level SIGHUP can change.
func newLogger(level, format string, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	lv := &slog.LevelVar{}
	lv.Set(parseLevel(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), lv
	}
	return slog.New(slog.NewTextHandler(w, opts)), lv
}

// parseLevel maps Vault's log level names to slog levels.
func parseLevel(level string) slog.Level {
	switch strings.ToLower(level) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// certHolder serves a listener's certificate and reloads it on SIGHUP; a
// failed reload keeps the certificate in use.
type certHolder struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func (h *certHolder) load() error {
	c, err := tls.LoadX509KeyPair(h.certFile, h.keyFile)
	if err != nil {
		return err
	}
	h.cert.Store(&c)
	return nil
}

func (h *certHolder) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return h.cert.Load(), nil }

// reload re-reads what SIGHUP may change without dropping connections:
// the listeners' certificates, the log level, and the audit files.
func (n *node) reload(cfg *Config) {
	for _, h := range n.certs {
		if err := h.load(); err != nil {
			n.logger.Error("certificate reload failed; keeping the current one", "file", h.certFile, "error", err.Error())
		} else {
			n.logger.Info("certificate reloaded", "file", h.certFile)
		}
	}
	if cfg != nil {
		n.level.Set(parseLevel(cfg.LogLevel))
	}
	if err := n.audits.Broker.Reload(); err != nil {
		n.logger.Error("audit device reload failed", "error", err.Error())
	}
}

// start opens the store and the HSM, unseals through the HSM when the seal
// allows it, and serves in the background.
func start(ctx context.Context, cfg *Config, stderr io.Writer) (*node, error) {
	logger, level := newLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	if err := checkMemlock(); err != nil {
		return nil, err
	}
	store, boltDB, storageType, err := openStore(cfg.Storage)
	if err != nil {
		return nil, fmt.Errorf("opening storage: %w", err)
	}
	return startOn(ctx, cfg, logger, level, sharedStore{Store: store, bolt: boltDB, typ: storageType, owned: true})
}

// sharedStore is the store a node runs on. A node closes it on shutdown
// only when it owns it; nodes started on one shared store (the multi-node
// tests: several nodes, one store, in one process) leave it open.
type sharedStore struct {
	storage.Store
	bolt  *bolt.DB // for the bolt metrics; nil for other backends
	typ   string   // sys/seal-status's storage_type
	owned bool
}

// startOn is start on an opened store.
func startOn(ctx context.Context, cfg *Config, logger *slog.Logger, level *slog.LevelVar, st sharedStore) (*node, error) {
	store, boltDB, storageType := st.Store, st.bolt, st.typ
	// The node's own context: close ends its background work before it
	// closes the store, also when starting fails half way.
	ctx, cancel := context.WithCancel(ctx)
	n := &node{cancel: cancel, store: store, ownsStore: st.owned, logger: logger, level: level}
	mode, pkcs11Cfg := cfg.sealMode()
	opts := seal.Options{Mode: mode}
	var keyLabel string
	if pkcs11Cfg != nil {
		hc, err := pkcs11Cfg.hsmConfig()
		keyLabel = hc.KeyLabel
		if err != nil {
			n.close(context.Background())
			return nil, err
		}
		n.hsm = &hsmSlot{}
		opts.HSM, opts.PrepareHSM = n.hsm, n.hsm.ensureKey
		probe := seal.New(store, rootTenantID, seal.Options{Mode: mode})
		h, err := openHSM(ctx, hc, probe.Config, logger)
		if err != nil {
			n.close(context.Background())
			return nil, fmt.Errorf("seal pkcs11: %w", err)
		}
		n.hsm.h.Store(h)
		logger.Info("HSM ready", "hsm", hc)
		// The tenants' keys: one pass over the token now, so that no
		// tenant's first request after a restart searches the token.
		t0 := time.Now()
		var k int
		err = h.FindKey(ctx)
		if err == nil {
			k, err = h.IndexNamedKeys(ctx, tenant.TenantKeysPrefix(keyLabel))
		}
		switch {
		case errors.Is(err, hsm.ErrKeyNotFound):
			// No master key yet (a new token, before operator init):
			// tenants' keys exist only under one, so there is nothing to
			// index. A store that needs a missing key fails to unseal.
			logger.Debug("no HSM master key yet; no tenant keys to index")
		case err != nil:
			logger.Warn("indexing the tenants' HSM keys failed; each tenant's key is looked up on its first use", "error", err.Error())
		case k > 0:
			logger.Info("tenants' HSM keys indexed", "keys", k, "duration", time.Since(t0).String())
		}
	}
	parts := tenant.Parts{
		Engines: engineFactories, AuthMethods: authFactories,
		StorageType: storageType, Version: version, BuildDate: buildDate, Probe: n.probe,
		TokenCacheSize: tokenCacheSize, TokenCacheAge: tokenCacheAge,
	}
	root := tenant.New(store, rootTenantID, "", opts, parts)
	barrier := root.Barrier
	n.root = root
	n.mounts, n.auths, n.tokens, n.tokenStore = root.Mounts, root.Auths, root.Tokens, root.TokenStore
	n.policies, n.audits, n.sys = root.Policies, root.Audits, root.Sys
	n.metrics = metrics.New()
	if boltDB != nil {
		n.metrics.Register(metrics.BoltCollector(boltDB))
	}
	if rep, ok := store.(storage.StatsReporter); ok {
		n.metrics.Register(metrics.StoreCollector(rep))
	}
	n.metrics.Register(metrics.CacheCollector("token", n.tokens.Stats))
	if n.hsm != nil {
		n.metrics.Register(metrics.HSMCollector(n.hsm.h.Load))
	}
	tcfg := tenant.Config{Store: store, Root: root, Parts: parts, Logger: logger}
	if cfg.Tenants != nil {
		tcfg.MaxLoaded, tcfg.IdleTimeout = cfg.Tenants.MaxLoaded, cfg.Tenants.idle
	}
	if n.hsm != nil {
		tcfg.HSM, tcfg.HSMLabelPrefix = n.hsm, keyLabel
	}
	// The purge's second pass waits out the longest request any listener allows.
	tcfg.PurgeGrace = tenant.DefaultPurgeGrace
	for _, l := range cfg.Listeners {
		tcfg.PurgeGrace = max(tcfg.PurgeGrace, 2*l.duration)
	}
	n.tenants = tenant.NewManager(ctx, tcfg)
	n.metrics.Register(metrics.SealCollector(func(yield func(string, bool)) {
		yield("root", barrier.Sealed())
		n.tenants.EachLoaded(func(name string, t *tenant.Tenant) { yield(name, t.Barrier.Sealed()) })
	}, n.tenants.Loaded))
	go n.tenants.Run(ctx)
	go tidyTokens(ctx, n, logger)
	root.Watch(ctx, logger)
	if mode == seal.ModeAuto {
		start := time.Now()
		if ok, err := n.sys.Barrier.AutoUnseal(ctx); err != nil {
			logger.Warn("auto-unseal failed; retrying in the background", "error", err.Error())
			go autoUnseal(ctx, n.sys.Barrier, logger)
		} else if ok {
			logger.Info("unsealed through the HSM", "duration", time.Since(start).String())
		}
	}
	for _, l := range cfg.Listeners {
		h := httpapi.New(httpapi.Options{
			Sys: n.sys, Mounts: n.mounts, Tokens: n.tokens, TokenStore: n.tokenStore, Auths: n.auths, Policies: n.policies, Audits: n.audits, Store: n.store, Metrics: n.metrics, Tenants: n.tenants,
			UnauthenticatedMetrics: l.Telemetry != nil && l.Telemetry.UnauthenticatedMetricsAccess, MaxRequestSize: l.maxRequestSize(), MaxRequestDuration: l.duration, Logger: logger,
		})
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			n.close(context.Background())
			return nil, fmt.Errorf("listener %s: %w", l.Address, err)
		}
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       5 * time.Minute,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		scheme := "http"
		if !l.TLSDisable {
			h := &certHolder{certFile: l.TLSCertFile, keyFile: l.TLSKeyFile}
			if err := h.load(); err != nil {
				ln.Close()
				n.close(context.Background())
				return nil, fmt.Errorf("listener %s: loading TLS certificate: %w", l.Address, err)
			}
			n.certs = append(n.certs, h)
			srv.TLSConfig = &tls.Config{MinVersion: l.minTLS, GetCertificate: h.get}
			if err := l.clientAuth(srv.TLSConfig); err != nil {
				ln.Close()
				n.close(context.Background())
				return nil, fmt.Errorf("listener %s: %w", l.Address, err)
			}
			ln = tls.NewListener(ln, srv.TLSConfig)
			scheme = "https"
		}
		n.servers = append(n.servers, srv)
		n.addrs = append(n.addrs, scheme+"://"+ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("listener stopped", "address", l.Address, "error", err)
			}
		}()
	}
	if cfg.Telemetry != nil && cfg.Telemetry.MetricsAddress != "" {
		if err := n.serveMetrics(cfg.Telemetry.MetricsAddress, logger); err != nil {
			n.close(context.Background())
			return nil, err
		}
	}
	return n, nil
}

// serveMetrics starts the separate metrics listener: GET /metrics in the
// Prometheus text format, without a token, whatever the seal state (the
// seal gauge is most useful while sealed); every other path is 404.
func (n *node) serveMetrics(addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("telemetry metrics_address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.metrics.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	n.servers = append(n.servers, srv)
	n.metricsAddr = "http://" + ln.Addr().String() + "/metrics"
	if host, _, _ := net.SplitHostPort(addr); host == "" || host == "0.0.0.0" || host == "::" {
		logger.Warn("the metrics listener answers without a token on every interface", "address", addr)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "address", addr, "error", err)
		}
	}()
	return nil
}

// close drains requests in flight, seals (wiping keys) and closes the store.
func (n *node) close(ctx context.Context) {
	for _, s := range n.servers {
		_ = s.Shutdown(ctx)
	}
	// Requests are drained: end the background work before the store goes.
	if n.cancel != nil {
		n.cancel()
	}
	if n.sys != nil {
		n.sys.Seal()
	}
	if n.hsm != nil {
		if h := n.hsm.h.Load(); h != nil {
			_ = h.Close()
		}
	}
	if n.ownsStore {
		_ = n.store.Close()
	}
}

// serve runs cfg until ctx ends. ready, if set, runs once listeners are up.
func serve(ctx context.Context, cfg *Config, stdout, stderr io.Writer, ready func(*node) error) error {
	n, err := start(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if ready != nil {
		if err := ready(n); err != nil {
			n.close(context.Background())
			return err
		}
	} else {
		fmt.Fprintf(stdout, "==> Strongroom server configuration:\n\n")
		fmt.Fprintf(stdout, "             Storage: %s\n", cfg.Storage.Type)
		fmt.Fprintf(stdout, "             Version: Strongroom v%s\n\n", version)
		fmt.Fprintf(stdout, "==> Strongroom server started! Listening on %s\n", strings.Join(n.addrs, ", "))
		if n.metricsAddr != "" {
			fmt.Fprintf(stdout, "==> Metrics (no token) on %s\n", n.metricsAddr)
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			// Re-read the configuration for the log level; certificates
			// are re-read from the files the running listeners use.
			var fresh *Config
			if cfg.path != "" {
				c, err := LoadConfig(cfg.path)
				if err != nil {
					n.logger.Error("configuration reload failed; keeping the current one", "error", err.Error())
				} else {
					fresh = c
				}
			}
			n.reload(fresh)
		}
	}
	fmt.Fprintln(stdout, "==> Strongroom shutdown triggered")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n.close(shutdownCtx)
	return nil
}

// tidyTokens revokes expired tokens (and their children) every second,
// runs the engines' periodic work (transit auto-rotation) every minute, and
// records this version in the version history once, while the node is
// unsealed, until ctx ends.
func tidyTokens(ctx context.Context, n *node, logger *slog.Logger) {
	lastPeriodic := time.Now()
	versionRecorded := false
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.sys.Barrier.Sealed() {
			continue
		}
		if !versionRecorded {
			// The version history: this version serves the cluster.
			if err := n.sys.RecordVersion(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("recording the version history failed", "error", err.Error())
			} else {
				versionRecorded = true
			}
		}
		if time.Since(lastPeriodic) >= time.Minute {
			lastPeriodic = time.Now()
			if err := n.mounts.Periodic(ctx, lastPeriodic); err != nil && ctx.Err() == nil {
				logger.Warn("periodic engine work failed", "error", err.Error())
			}
		}
		if k, err := n.tokenStore.Tidy(ctx, 1000); err != nil && ctx.Err() == nil {
			logger.Warn("token tidy failed", "error", err.Error())
		} else if k > 0 {
			logger.Debug("revoked expired tokens", "count", k)
		}
	}
}

// probeInterval is how long a successful HSM ping counts for readiness, so
// load-balancer polls do not turn into PKCS#11 traffic.
const probeInterval = 5 * time.Second

// probe checks that the node reaches its storage and, with a pkcs11 seal,
// its HSM (sys/health readiness).
func (n *node) probe(ctx context.Context) error {
	if err := n.store.View(ctx, func(tx storage.ReadTx) error {
		_, err := tx.Get([]byte{0x00})
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil {
		return err
	}
	if n.hsm == nil {
		return nil
	}
	if last := n.lastPing.Load(); last != nil && time.Since(*last) < probeInterval {
		return nil
	}
	h := n.hsm.h.Load()
	if h == nil {
		return errHSMNotOpen
	}
	if err := h.Ping(ctx); err != nil {
		return err
	}
	now := time.Now()
	n.lastPing.Store(&now)
	return nil
}
