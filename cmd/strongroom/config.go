package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/strongroom/strongroom/httpapi"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
	"github.com/strongroom/strongroom/storage/fdb"
)

// Config is a server configuration file, in Vault's HCL shape:
//
//	listener "tcp" { address tls_cert_file tls_key_file tls_min_version tls_disable
//	                 max_request_size max_request_duration }
//	storage "bolt" { path }
//	storage "foundationdb" { cluster_file api_version prefix }
//	seal "shamir" {}
//	api_addr  = "https://..."
//	log_level = "info"
//	telemetry { metrics_address }
//	tenants   { max_loaded idle_timeout }
//
// Unknown blocks and arguments are refused, with the file, the line and the
// reason, as are values that do not make sense.
type Config struct {
	Listeners []*Listener `hcl:"listener,block"`
	Storage   *Storage    `hcl:"storage,block"`
	Seals     []*Seal     `hcl:"seal,block"`
	APIAddr   string      `hcl:"api_addr,optional"`
	LogLevel  string      `hcl:"log_level,optional"`
	LogFormat string      `hcl:"log_format,optional"`
	Telemetry *Telemetry  `hcl:"telemetry,block"`
	Tenants   *Tenants    `hcl:"tenants,block"`
	Body      hcl.Body    `hcl:",body"`

	path string // the file it was read from, for SIGHUP reloads
}

// Listener is a listener "tcp" block.
type Listener struct {
	Type                 string             `hcl:"type,label"`
	Address              string             `hcl:"address,optional"`
	TLSCertFile          string             `hcl:"tls_cert_file,optional"`
	TLSKeyFile           string             `hcl:"tls_key_file,optional"`
	TLSMinVersion        string             `hcl:"tls_min_version,optional"`
	TLSDisable           bool               `hcl:"tls_disable,optional"`
	TLSClientCAFile      string             `hcl:"tls_client_ca_file,optional"`
	TLSRequireClientCert bool               `hcl:"tls_require_and_verify_client_cert,optional"`
	MaxRequestSize       *int64             `hcl:"max_request_size,optional"`
	MaxRequestDuration   string             `hcl:"max_request_duration,optional"`
	Telemetry            *ListenerTelemetry `hcl:"telemetry,block"`
	Body                 hcl.Body           `hcl:",body"`

	minTLS   uint16
	duration time.Duration
}

// ListenerTelemetry is a listener's telemetry block (Vault's).
type ListenerTelemetry struct {
	// UnauthenticatedMetricsAccess lets sys/metrics answer without a token.
	UnauthenticatedMetricsAccess bool `hcl:"unauthenticated_metrics_access,optional"`
}

// Telemetry is the top-level telemetry block.
type Telemetry struct {
	// MetricsAddress, when set, is a separate plain-HTTP listener that
	// serves GET /metrics (Prometheus text) without a token, sealed or
	// not. It serves nothing else; bind it to a private interface.
	MetricsAddress string   `hcl:"metrics_address,optional"`
	Body           hcl.Body `hcl:",body"`
}

// Tenants bounds the memory namespaces take on this node.
type Tenants struct {
	// MaxLoaded is how many namespaces stay loaded at most (default
	// 1000); past it the least recently used reloadable one is unloaded.
	MaxLoaded int `hcl:"max_loaded,optional"`
	// IdleTimeout unloads a reloadable namespace unused this long
	// (default "10m").
	IdleTimeout string   `hcl:"idle_timeout,optional"`
	Body        hcl.Body `hcl:",body"`

	idle time.Duration
}

// Storage is the storage block; its arguments depend on its type.
type Storage struct {
	Type   string   `hcl:"type,label"`
	Remain hcl.Body `hcl:",remain"`

	Bolt         *BoltStorage
	FoundationDB *FoundationDBStorage
}

// BoltStorage holds the arguments of storage "bolt".
type BoltStorage struct {
	Path string `hcl:"path"`
	// ReadCacheMB bounds the store's read cache, in MiB (nil: the
	// default, bolt.DefaultReadCacheSize; 0 turns it off).
	ReadCacheMB *int `hcl:"read_cache_mb,optional"`
}

// maxReadCacheMB bounds read_cache_mb (64 GiB).
const maxReadCacheMB = 64 << 10

// options returns the bolt options of b.
func (b *BoltStorage) options() []bolt.Option {
	if b.ReadCacheMB == nil {
		return nil
	}
	return []bolt.Option{bolt.WithReadCacheSize(*b.ReadCacheMB << 20)}
}

// FoundationDBStorage holds the arguments of storage "foundationdb", all
// optional: FoundationDB's default cluster file, API version 730, prefix
// "strongroom".
type FoundationDBStorage struct {
	ClusterFile *string `hcl:"cluster_file,optional"`
	APIVersion  *int    `hcl:"api_version,optional"`
	Prefix      *string `hcl:"prefix,optional"`
}

// open opens the FoundationDB store. In a binary built without the fdb
// build tag it fails with fdb.ErrNotBuilt, which says how to rebuild.
func (f *FoundationDBStorage) open() (storage.Store, error) {
	return fdb.Open(f.config())
}

// config returns the backend's configuration, defaults filled in.
func (f *FoundationDBStorage) config() fdb.Config {
	c := fdb.Config{APIVersion: fdb.DefaultAPIVersion, Prefix: fdb.DefaultPrefix}
	if f.ClusterFile != nil {
		c.ClusterFile = *f.ClusterFile
	}
	if f.APIVersion != nil {
		c.APIVersion = *f.APIVersion
	}
	if f.Prefix != nil {
		c.Prefix = *f.Prefix
	}
	return c
}

// Seal is a seal block; its arguments depend on its type.
type Seal struct {
	Type   string   `hcl:"type,label"`
	Remain hcl.Body `hcl:",remain"`

	PKCS11 *PKCS11Seal
}

// ShamirSeal holds the arguments of seal "shamir": none.
type ShamirSeal struct{}

var tlsVersions = map[string]uint16{"tls12": tls.VersionTLS12, "tls13": tls.VersionTLS13}

// Log levels, Vault's names.
var logLevels = map[string]bool{"trace": true, "debug": true, "info": true, "warn": true, "warning": true, "error": true}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	cfg, err := ParseConfig(path, src)
	if err == nil {
		cfg.path = path
	}
	return cfg, err
}

// ParseConfig parses and checks configuration source; filename names it in
// errors.
func ParseConfig(filename string, src []byte) (*Config, error) {
	file, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	var cfg Config
	if diags := gohcl.DecodeBody(file.Body, nil, &cfg); diags.HasErrors() {
		return nil, diagError(diags)
	}
	if diags := cfg.check(); diags.HasErrors() {
		return nil, diagError(diags)
	}
	return &cfg, nil
}

func (c *Config) check() hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(c.Listeners) == 0 {
		diags = append(diags, bodyDiag(c.Body, "Missing listener", `a listener "tcp" block is required`))
	}
	for _, l := range c.Listeners {
		diags = append(diags, l.check()...)
	}
	if c.Storage == nil {
		diags = append(diags, bodyDiag(c.Body, "Missing storage", `a storage block is required, e.g. storage "bolt" { path = "/var/lib/strongroom" }`))
	} else {
		diags = append(diags, c.Storage.decode()...)
	}
	for _, s := range c.Seals {
		diags = append(diags, s.decode()...)
	}
	if len(c.Seals) > 1 && !diags.HasErrors() {
		// Two seals only make sense for a migration: one enabled, and the
		// pkcs11 seal kept with disabled = true, or shamir beside it.
		var pkcs11, enabledPKCS11 int
		for _, s := range c.Seals {
			if s.PKCS11 != nil {
				pkcs11++
				if !s.PKCS11.Disabled {
					enabledPKCS11++
				}
			}
		}
		if len(c.Seals) > 2 || pkcs11 != 1 || enabledPKCS11 == 1 {
			diags = append(diags, blockDiag(c.Body, "seal", "Too many seals", `two seal blocks are only allowed to migrate: seal "shamir" {} with seal "pkcs11" { disabled = true }`))
		}
	}
	if c.LogLevel != "" && !logLevels[strings.ToLower(c.LogLevel)] {
		diags = append(diags, attrDiag(c.Body, "log_level", "Invalid log_level", "must be one of trace, debug, info, warn, error"))
	}
	if c.LogFormat != "" && c.LogFormat != "standard" && c.LogFormat != "json" {
		diags = append(diags, attrDiag(c.Body, "log_format", "Invalid log_format", "must be standard or json"))
	}
	if c.Telemetry != nil && c.Telemetry.MetricsAddress != "" {
		if _, _, err := net.SplitHostPort(c.Telemetry.MetricsAddress); err != nil {
			diags = append(diags, attrDiag(c.Telemetry.Body, "metrics_address", "Invalid metrics_address", "must be HOST:PORT"))
		}
	}
	if t := c.Tenants; t != nil {
		if t.MaxLoaded < 0 {
			diags = append(diags, attrDiag(t.Body, "max_loaded", "Invalid max_loaded", "must be a positive number"))
		}
		if t.IdleTimeout != "" {
			d, err := time.ParseDuration(t.IdleTimeout)
			if err != nil || d <= 0 {
				diags = append(diags, attrDiag(t.Body, "idle_timeout", "Invalid idle_timeout", "must be a positive duration such as \"10m\""))
			}
			t.idle = d
		}
	}
	if c.APIAddr != "" && !strings.HasPrefix(c.APIAddr, "http://") && !strings.HasPrefix(c.APIAddr, "https://") {
		diags = append(diags, attrDiag(c.Body, "api_addr", "Invalid api_addr", "must be a URL starting with http:// or https://"))
	}
	return diags
}

func (l *Listener) check() hcl.Diagnostics {
	var diags hcl.Diagnostics
	if l.Type != "tcp" {
		return append(diags, labelDiag(l.Body, "Unsupported listener", fmt.Sprintf("listener type %q is not supported; use \"tcp\"", l.Type)))
	}
	if l.Address == "" {
		l.Address = "127.0.0.1:8200"
	}
	if _, _, err := net.SplitHostPort(l.Address); err != nil {
		diags = append(diags, attrDiag(l.Body, "address", "Invalid address", "must be host:port"))
	}
	l.minTLS = tls.VersionTLS12
	if l.TLSMinVersion != "" {
		v, ok := tlsVersions[l.TLSMinVersion]
		if !ok {
			diags = append(diags, attrDiag(l.Body, "tls_min_version", "Invalid tls_min_version", "must be tls12 or tls13"))
		}
		l.minTLS = v
	}
	if !l.TLSDisable && (l.TLSCertFile == "" || l.TLSKeyFile == "") {
		diags = append(diags, labelDiag(l.Body, "Missing TLS files", "tls_cert_file and tls_key_file are required unless tls_disable = true"))
	}
	if l.TLSRequireClientCert && l.TLSClientCAFile == "" {
		diags = append(diags, attrDiag(l.Body, "tls_require_and_verify_client_cert", "Missing tls_client_ca_file", "needs tls_client_ca_file to verify client certificates"))
	}
	if l.MaxRequestSize != nil && *l.MaxRequestSize <= 0 {
		diags = append(diags, attrDiag(l.Body, "max_request_size", "Invalid max_request_size", "must be a positive number of bytes"))
	}
	l.duration = httpapi.DefaultMaxRequestDuration
	if l.MaxRequestDuration != "" {
		d, err := parseDuration(l.MaxRequestDuration)
		if err != nil || d <= 0 {
			diags = append(diags, attrDiag(l.Body, "max_request_duration", "Invalid max_request_duration", `must be a positive duration such as "90s"`))
		}
		l.duration = d
	}
	return diags
}

// maxRequestSize returns the body limit of the listener.
func (l *Listener) maxRequestSize() int64 {
	if l.MaxRequestSize == nil {
		return httpapi.DefaultMaxRequestSize
	}
	return *l.MaxRequestSize
}

func (s *Storage) decode() hcl.Diagnostics {
	switch s.Type {
	case "bolt":
		s.Bolt = &BoltStorage{}
		diags := gohcl.DecodeBody(s.Remain, nil, s.Bolt)
		if !diags.HasErrors() && s.Bolt.Path == "" {
			diags = append(diags, attrDiag(s.Remain, "path", "Invalid path", "path must not be empty"))
		}
		if n := s.Bolt.ReadCacheMB; !diags.HasErrors() && n != nil && (*n < 0 || *n > maxReadCacheMB) {
			diags = append(diags, attrDiag(s.Remain, "read_cache_mb", "Invalid read_cache_mb",
				fmt.Sprintf("must be a number of MiB from 0 (no cache) to %d", maxReadCacheMB)))
		}
		return diags
	case "foundationdb":
		s.FoundationDB = &FoundationDBStorage{}
		diags := gohcl.DecodeBody(s.Remain, nil, s.FoundationDB)
		if diags.HasErrors() {
			return diags
		}
		if f := s.FoundationDB.ClusterFile; f != nil && *f == "" {
			return append(diags, attrDiag(s.Remain, "cluster_file", "Invalid cluster_file",
				"must not be empty; leave it out for FoundationDB's default cluster file"))
		}
		// The backend's own checks, each naming its argument.
		if err := s.FoundationDB.config().Validate(); err != nil {
			var ce *fdb.ConfigError
			if !errors.As(err, &ce) {
				return append(diags, labelDiag(s.Remain, "Invalid storage", err.Error()))
			}
			diags = append(diags, attrDiag(s.Remain, ce.Field, "Invalid "+ce.Field, ce.Reason))
		}
		return diags
	}
	return hcl.Diagnostics{labelDiag(s.Remain, "Unsupported storage", fmt.Sprintf("storage type %q is not supported; use \"bolt\" or \"foundationdb\"", s.Type))}
}

func (s *Seal) decode() hcl.Diagnostics {
	switch s.Type {
	case "shamir":
		return gohcl.DecodeBody(s.Remain, nil, &ShamirSeal{})
	case "pkcs11":
		return s.decodePKCS11()
	}
	return hcl.Diagnostics{labelDiag(s.Remain, "Unsupported seal", fmt.Sprintf("seal type %q is not supported; use \"shamir\" or \"pkcs11\"", s.Type))}
}

// parseDuration reads a Vault duration: a Go duration string or a number of
// seconds.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// diagError renders diagnostics as "file:line,col: summary; detail" lines.
func diagError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			msgs = append(msgs, d.Error())
		}
	}
	return fmt.Errorf("invalid configuration:\n  %s", strings.Join(msgs, "\n  "))
}

func syntaxBody(b hcl.Body) *hclsyntax.Body {
	sb, _ := b.(*hclsyntax.Body)
	return sb
}

// attrDiag is an error pointing at attribute name of body.
func attrDiag(b hcl.Body, name, summary, detail string) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf("%s %s.", name, detail)}
	if sb := syntaxBody(b); sb != nil {
		if a, ok := sb.Attributes[name]; ok {
			r := a.SrcRange
			d.Subject = &r
			return d
		}
		r := sb.SrcRange
		d.Subject = &r
	}
	return d
}

// bodyDiag is an error pointing at a body as a whole.
func bodyDiag(b hcl.Body, summary, detail string) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail + "."}
	if sb := syntaxBody(b); sb != nil {
		r := sb.SrcRange
		d.Subject = &r
	}
	return d
}

// labelDiag is an error pointing at the opening of a block, given its body.
func labelDiag(b hcl.Body, summary, detail string) *hcl.Diagnostic {
	d := bodyDiag(b, summary, detail)
	if d.Subject != nil {
		r := *d.Subject
		r.End = r.Start
		d.Subject = &r
	}
	return d
}

// blockDiag points at the second block of the given type.
func blockDiag(b hcl.Body, typ, summary, detail string) *hcl.Diagnostic {
	d := bodyDiag(b, summary, detail)
	if sb := syntaxBody(b); sb != nil {
		seen := 0
		for _, blk := range sb.Blocks {
			if blk.Type == typ {
				if seen++; seen == 2 {
					r := blk.TypeRange
					d.Subject = &r
				}
			}
		}
	}
	return d
}

// clientAuth applies the listener's client-certificate options (Vault's
// tls_client_ca_file and tls_require_and_verify_client_cert) to tc.
func (l *Listener) clientAuth(tc *tls.Config) error {
	if l.TLSClientCAFile == "" {
		return nil
	}
	pem, err := os.ReadFile(l.TLSClientCAFile)
	if err != nil {
		return fmt.Errorf("reading tls_client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("tls_client_ca_file %s holds no PEM certificate", l.TLSClientCAFile)
	}
	tc.ClientCAs = pool
	tc.ClientAuth = tls.VerifyClientCertIfGiven
	if l.TLSRequireClientCert {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return nil
}
