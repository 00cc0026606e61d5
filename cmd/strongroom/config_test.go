package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	vault "github.com/hashicorp/vault/api"

	"github.com/strongroom/strongroom/storage/fdb"
)

func TestParseConfigValid(t *testing.T) {
	cfg, err := ParseConfig("ok.hcl", []byte(`
listener "tcp" {
  address              = "0.0.0.0:8200"
  tls_cert_file        = "/etc/strongroom/tls.crt"
  tls_key_file         = "/etc/strongroom/tls.key"
  tls_min_version      = "tls13"
  max_request_size     = 1048576
  max_request_duration = "30s"
}
storage "bolt" { path = "/var/lib/strongroom/strongroom.db" }
seal "shamir" {}
api_addr  = "https://kms.example.com:8200"
log_level = "warn"
tenants {
  max_loaded   = 500
  idle_timeout = "90s"
}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tenants.MaxLoaded != 500 || cfg.Tenants.idle != 90*time.Second {
		t.Fatalf("tenants = %+v", cfg.Tenants)
	}
	l := cfg.Listeners[0]
	if l.minTLS != tls.VersionTLS13 || l.maxRequestSize() != 1<<20 || l.duration != 30*time.Second || l.TLSDisable {
		t.Fatalf("listener = %+v", l)
	}
	if cfg.Storage.Bolt.Path != "/var/lib/strongroom/strongroom.db" || cfg.APIAddr != "https://kms.example.com:8200" {
		t.Fatalf("config = %+v", cfg)
	}
	// Defaults.
	cfg, err = ParseConfig("min.hcl", []byte("listener \"tcp\" {\n tls_disable = true\n}\nstorage \"bolt\" {\n path = \"x.db\"\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Listeners[0]; l.Address != "127.0.0.1:8200" || l.maxRequestSize() != 32<<20 || l.duration != 90*time.Second {
		t.Fatalf("defaults = %+v", l)
	}
	if cfg.Storage.Bolt.ReadCacheMB != nil || cfg.Storage.Bolt.options() != nil {
		t.Fatalf("the read cache is not at its default: %+v", cfg.Storage.Bolt)
	}
	cfg, err = ParseConfig("nocache.hcl", []byte("listener \"tcp\" {\n tls_disable = true\n}\nstorage \"bolt\" {\n path = \"x.db\"\n read_cache_mb = 0\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n := cfg.Storage.Bolt.ReadCacheMB; n == nil || *n != 0 || len(cfg.Storage.Bolt.options()) != 1 {
		t.Fatalf("read_cache_mb = 0 parsed as %v", n)
	}
	// Vault writes booleans as strings too.
	if _, err := ParseConfig("s.hcl", []byte("listener \"tcp\" {\n tls_disable = \"true\"\n}\nstorage \"bolt\" {\n path = \"x.db\"\n}\n")); err != nil {
		t.Fatal(err)
	}
	// FoundationDB: every argument, then none (the defaults).
	cfg, err = ParseConfig("fdb.hcl", []byte(`
listener "tcp" { tls_disable = true }
storage "foundationdb" {
  cluster_file = "/etc/foundationdb/fdb.cluster"
  api_version  = 720
  prefix       = "prod/strongroom"
}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := fdb.Config{ClusterFile: "/etc/foundationdb/fdb.cluster", APIVersion: 720, Prefix: "prod/strongroom"}
	if cfg.Storage.Bolt != nil || cfg.Storage.FoundationDB == nil || cfg.Storage.FoundationDB.config() != want {
		t.Fatalf("foundationdb storage = %+v", cfg.Storage)
	}
	cfg, err = ParseConfig("fdb.hcl", []byte("listener \"tcp\" {\n tls_disable = true\n}\nstorage \"foundationdb\" {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Storage.FoundationDB.config(); got != (fdb.Config{APIVersion: 730, Prefix: "strongroom"}) {
		t.Fatalf("foundationdb defaults = %+v", got)
	}
}

// TestParseConfigRefusals: every refusal names the file, the line and the reason.
func TestParseConfigRefusals(t *testing.T) {
	const head = "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"bolt\" {\n  path = \"x.db\"\n}\n" // lines 1-6
	const fdbHead = "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"foundationdb\" {\n"            // lines 1-4
	cases := []struct {
		name, src, where, reason string
	}{
		{"unknown top-level key", head + "colour = \"blue\"\n", "bad.hcl:7", `An argument named "colour" is not expected here`},
		{"unknown listener key", "listener \"tcp\" {\n  tls_disable = true\n  adress = \"x\"\n}\nstorage \"bolt\" {\n path = \"x\"\n}\n", "bad.hcl:3", `"adress" is not expected`},
		{"unknown storage key", "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"bolt\" {\n  path = \"x\"\n  size = 3\n}\n", "bad.hcl:6", `"size" is not expected`},
		{"negative read cache", "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"bolt\" {\n  path = \"x\"\n  read_cache_mb = -1\n}\n", "bad.hcl:6", "read_cache_mb must be a number of MiB from 0 (no cache) to 65536"},
		{"huge read cache", "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"bolt\" {\n  path = \"x\"\n  read_cache_mb = 65537\n}\n", "bad.hcl:6", "from 0 (no cache) to 65536"},
		{"unknown seal key", head + "seal \"shamir\" {\n  shares = 5\n}\n", "bad.hcl:8", `"shares" is not expected`},
		{"unknown block", head + "cluster {\n}\n", "bad.hcl:7", `Blocks of type "cluster" are not expected here`},
		{"unknown telemetry key", head + "telemetry {\n  statsite_address = \"x\"\n}\n", "bad.hcl:8", `"statsite_address" is not expected`},
		{"bad metrics address", head + "telemetry {\n  metrics_address = \"9102\"\n}\n", "bad.hcl:8", "must be HOST:PORT"},
		{"bad tls version", "listener \"tcp\" {\n  tls_disable = true\n  tls_min_version = \"tls10\"\n}\nstorage \"bolt\" {\n path = \"x\"\n}\n", "bad.hcl:3", "must be tls12 or tls13"},
		{"bad address", "listener \"tcp\" {\n  tls_disable = true\n  address = \"nope\"\n}\nstorage \"bolt\" {\n path = \"x\"\n}\n", "bad.hcl:3", "must be host:port"},
		{"bad duration", "listener \"tcp\" {\n  tls_disable = true\n  max_request_duration = \"soon\"\n}\nstorage \"bolt\" {\n path = \"x\"\n}\n", "bad.hcl:3", "positive duration"},
		{"bad size", "listener \"tcp\" {\n  tls_disable = true\n  max_request_size = -1\n}\nstorage \"bolt\" {\n path = \"x\"\n}\n", "bad.hcl:3", "positive number"},
		{"wrong type", "listener \"tcp\" {\n  tls_disable = true\n  max_request_size = \"big\"\n}\nstorage \"bolt\" {\n path = \"x\"\n}\n", "bad.hcl:3", "number is required"},
		{"bad log level", head + "log_level = \"loud\"\n", "bad.hcl:7", "must be one of"},
		{"bad tenants idle", head + "tenants {\n  idle_timeout = \"never\"\n}\n", "bad.hcl:8", "positive duration"},
		{"bad tenants max", head + "tenants {\n  max_loaded = -3\n}\n", "bad.hcl:8", "positive number"},
		{"unknown tenants key", head + "tenants {\n  limit = 3\n}\n", "bad.hcl:8", `"limit" is not expected`},
		{"bad log format", head + "log_format = \"xml\"\n", "bad.hcl:7", "must be standard or json"},
		{"bad api_addr", head + "api_addr = \"kms:8200\"\n", "bad.hcl:7", "http:// or https://"},
		{"no tls files", "listener \"tcp\" {\n  address = \"127.0.0.1:8200\"\n}\nstorage \"bolt\" {\n path = \"x\"\n}\n", "bad.hcl:1", "tls_cert_file and tls_key_file are required"},
		{"unknown storage type", "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"consul\" {\n}\n", "bad.hcl:4", `storage type "consul" is not supported`},
		{"unknown seal type", head + "seal \"awskms\" {\n}\n", "bad.hcl:7", `seal type "awskms" is not supported`},
		{"missing storage path", "listener \"tcp\" {\n  tls_disable = true\n}\nstorage \"bolt\" {\n}\n", "bad.hcl:4", `"path" is required`},
		{"unknown foundationdb key", fdbHead + "  path = \"x\"\n}\n", "bad.hcl:5", `"path" is not expected`},
		{"foundationdb api_version too high", fdbHead + "  api_version = 740\n}\n", "bad.hcl:5", "api_version must be between 700 and 730"},
		{"foundationdb api_version zero", fdbHead + "  api_version = 0\n}\n", "bad.hcl:5", "api_version must be between 700 and 730"},
		{"foundationdb api_version not a number", fdbHead + "  api_version = \"latest\"\n}\n", "bad.hcl:5", "number is required"},
		{"foundationdb empty prefix", fdbHead + "  prefix = \"\"\n}\n", "bad.hcl:5", "prefix must be 1 to 64 characters"},
		{"foundationdb bad prefix", fdbHead + "  cluster_file = \"/etc/foundationdb/fdb.cluster\"\n  prefix = \"my vault\"\n}\n", "bad.hcl:6", "prefix must be 1 to 64 characters among letters, digits"},
		{"foundationdb empty cluster_file", fdbHead + "  cluster_file = \"\"\n}\n", "bad.hcl:5", "cluster_file must not be empty"},
		{"missing storage", "listener \"tcp\" {\n  tls_disable = true\n}\n", "bad.hcl:1", "a storage block is required"},
		{"syntax error", head + "log_level = \n", "bad.hcl:7", "Invalid expression"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("bad.hcl", []byte(c.src))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.where) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error does not say %q and %q:\n%v", c.where, c.reason, err)
			}
		})
	}
}

// TestServerRefusesBadConfig: the binary exits non-zero, naming the line.
func TestServerRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "listener \"tcp\" {\n  tls_disable = true\n  bogus = 1\n}\nstorage \"bolt\" {\n path = \"x\"\n}\n")
	out, err := exec.Command(binPath, "server", "-config", path).CombinedOutput()
	if err == nil {
		t.Fatal("server started with a bad config")
	}
	if !strings.Contains(string(out), "strongroom.hcl:3") || !strings.Contains(string(out), `"bogus"`) {
		t.Fatalf("output: %s", out)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "strongroom-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

// TestTLSListener serves over TLS with tls_min_version = "tls13": the Vault
// client connects with the CA, a TLS 1.2-only client is refused.
func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath, pool := selfSigned(t, dir)
	p := startServer(t, "-config", writeConfig(t, dir, `
listener "tcp" {
  address         = "127.0.0.1:0"
  tls_cert_file   = "`+certPath+`"
  tls_key_file    = "`+keyPath+`"
  tls_min_version = "tls13"
}
storage "bolt" { path = "`+filepath.Join(dir, "s.db")+`" }
`))
	if !strings.HasPrefix(p.addr, "https://") {
		t.Fatalf("address %q is not https", p.addr)
	}
	cfg := vault.DefaultConfig()
	cfg.Address = p.addr
	if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: filepath.Join(dir, "tls.crt")}); err != nil {
		t.Fatal(err)
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.Sys().SealStatus(); err != nil || st.Initialized {
		t.Fatalf("seal-status over TLS: %+v %v", st, err)
	}
	host := strings.TrimPrefix(p.addr, "https://")
	conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12})
	if err == nil {
		conn.Close()
		t.Fatal("a TLS 1.2 client was accepted with tls_min_version = tls13")
	}
	conn, err = tls.Dial("tcp", host, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("TLS 1.3 client: %v", err)
	}
	if conn.ConnectionState().Version != tls.VersionTLS13 {
		t.Fatal("negotiated a version below 1.3")
	}
	conn.Close()
}

// FuzzParseConfig: arbitrary configuration files never panic, and a
// refusal always names the file.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("listener \"tcp\" {\n tls_disable = true\n}\nstorage \"bolt\" {\n path = \"x\"\n}\nseal \"shamir\" {}\n"))
	f.Add([]byte("seal \"pkcs11\" {\n lib = \"/x.so\"\n slot = \"0x1\"\n mechanism = \"0x1087\"\n pin = \"1\"\n key_label = \"k\"\n}\n"))
	f.Add([]byte("listener \"tcp\" { max_request_duration = \"-1s\" }"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := ParseConfig("fuzz.hcl", src)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.hcl") && !strings.Contains(err.Error(), "invalid configuration") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if cfg.Storage == nil || len(cfg.Listeners) == 0 {
			t.Fatal("accepted a configuration without storage or listener")
		}
	})
}

// TestDeployConfigParses keeps the configuration shipped beside the
// systemd unit valid: it parses, with the seal, storage and metrics
// listener the unit's directories expect.
func TestDeployConfigParses(t *testing.T) {
	cfg, err := LoadConfig("../../deploy/systemd/strongroom.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Bolt == nil || !strings.HasPrefix(cfg.Storage.Bolt.Path, "/var/lib/strongroom/") {
		t.Fatalf("storage: %+v", cfg.Storage)
	}
	if len(cfg.Seals) != 1 || cfg.Seals[0].PKCS11 == nil {
		t.Fatalf("seal: %+v", cfg.Seals)
	}
	if cfg.Telemetry == nil || cfg.Telemetry.MetricsAddress != "127.0.0.1:9102" {
		t.Fatalf("telemetry: %+v", cfg.Telemetry)
	}
}

// TestDeployHCLFilesParse parses every Strongroom configuration shipped
// under deploy/ (systemd, compose, Kubernetes) with the server's own parser,
// and checks that the compose and Kubernetes files are wired to the paths
// their manifests mount.
//
// Until ParseConfig knows storage "foundationdb", a file with that block is
// parsed with the block swapped for a bolt one (so its listener, seal and
// the rest are still checked), its foundationdb arguments are checked
// against the expected shape, and the subtest is skipped, naming the block.
func TestDeployHCLFilesParse(t *testing.T) {
	const root = "../../deploy"
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".hcl") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		found[rel] = true
		t.Run(rel, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fdb, hasFDB := deployFDBStorage(t, path, src)
			if hasFDB {
				checkDeployWiring(t, root, rel, fdb)
			}
			cfg, err := ParseConfig(path, src)
			skip := ""
			if err != nil && hasFDB && strings.Contains(err.Error(), `storage type "foundationdb" is not supported`) {
				skip = fmt.Sprintf(`ParseConfig does not accept storage "foundationdb" yet (the FoundationDB backend's config parser has not landed); `+
					`checked the rest of the file with storage "bolt" in its place, and the block's arguments (cluster_file = %q, api_version = %d, prefix = %q) against the expected shape`,
					fdb.ClusterFile, fdb.APIVersion, fdb.Prefix)
				cfg, err = ParseConfig(path, withBoltStorage(src, fdb.rng))
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range cfg.Listeners {
				if l.TLSDisable || !strings.HasPrefix(l.TLSCertFile, "/etc/strongroom/") || !strings.HasPrefix(l.TLSKeyFile, "/etc/strongroom/") {
					t.Errorf("listener %s: a shipped configuration serves TLS from /etc/strongroom/, got %+v", l.Address, l)
				}
			}
			if skip != "" {
				t.Skip(skip)
			}
		})
	}
	for _, want := range []string{
		"systemd/strongroom.hcl", "kubernetes/strongroom.hcl", "compose/strongroom.hcl",
	} {
		if !found[want] {
			t.Errorf("deploy/%s not found", want)
		}
	}
}

// deployFDB holds the arguments of a storage "foundationdb" block in the
// shape the FoundationDB backend takes.
type deployFDB struct {
	ClusterFile string `hcl:"cluster_file"`
	APIVersion  int    `hcl:"api_version,optional"`
	Prefix      string `hcl:"prefix,optional"`

	rng hcl.Range
}

// deployFDBStorage finds the storage "foundationdb" block of src, if any,
// and decodes it strictly: an argument outside cluster_file, api_version
// and prefix is an error, as is a cluster file outside /etc/foundationdb/
// (where the compose file and the Deployment mount it) or an API version
// other than 730.
func deployFDBStorage(t *testing.T, path string, src []byte) (*deployFDB, bool) {
	t.Helper()
	file, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, blk := range file.Body.(*hclsyntax.Body).Blocks {
		if blk.Type != "storage" || len(blk.Labels) != 1 || blk.Labels[0] != "foundationdb" {
			continue
		}
		var fdb deployFDB
		if diags := gohcl.DecodeBody(blk.Body, nil, &fdb); diags.HasErrors() {
			t.Fatal(diags)
		}
		fdb.rng = blk.Range()
		if fdb.ClusterFile != "/etc/foundationdb/fdb.cluster" || fdb.APIVersion != 730 || fdb.Prefix == "" {
			t.Errorf(`storage "foundationdb": got %+v, want cluster_file "/etc/foundationdb/fdb.cluster", api_version 730 and a prefix`, fdb)
		}
		return &fdb, true
	}
	return nil, false
}

// checkDeployWiring checks that the manifest beside a configuration mounts
// it and the FoundationDB cluster file where the configuration expects them.
func checkDeployWiring(t *testing.T, root, rel string, fdb *deployFDB) {
	t.Helper()
	var manifest string
	var want []string
	switch dir, name := filepath.Split(rel); dir {
	case "compose/":
		manifest = "compose/compose.yaml"
		want = []string{"./" + name + ":/etc/strongroom/strongroom.hcl:ro", ":" + filepath.Dir(fdb.ClusterFile) + "\n"}
	case "kubernetes/":
		manifest = "kubernetes/deployment.yaml"
		want = []string{"mountPath: /etc/strongroom\n", "mountPath: " + filepath.Dir(fdb.ClusterFile) + "\n"}
	default:
		t.Fatalf("%s: a FoundationDB configuration outside compose/ and kubernetes/: add its manifest here", rel)
	}
	text, err := os.ReadFile(filepath.Join(root, manifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(text), w) {
			t.Errorf("deploy/%s does not contain %q", manifest, w)
		}
	}
}

// withBoltStorage returns src with the block at rng replaced by a bolt
// storage block, padded with newlines so that later line numbers stay.
func withBoltStorage(src []byte, rng hcl.Range) []byte {
	old := src[rng.Start.Byte:rng.End.Byte]
	var out []byte
	out = append(out, src[:rng.Start.Byte]...)
	out = append(out, `storage "bolt" { path = "/var/lib/strongroom/strongroom.db" }`...)
	out = append(out, strings.Repeat("\n", strings.Count(string(old), "\n"))...)
	return append(out, src[rng.End.Byte:]...)
}
