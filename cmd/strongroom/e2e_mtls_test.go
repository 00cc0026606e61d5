package main

import (
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestMTLSRequiredListener: a listener with tls_client_ca_file and
// tls_require_and_verify_client_cert refuses a client without a
// certificate or with one from another CA, serves the Vault client that
// presents a certificate (VAULT_CLIENT_CERT/VAULT_CLIENT_KEY in the CLI),
// and `operator backup` takes a snapshot through it with the same
// variables.
func TestMTLSRequiredListener(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath, pool := selfSigned(t, dir)
	clientDir, otherDir := t.TempDir(), t.TempDir()
	clientCert, clientKey, _ := selfSigned(t, clientDir)
	otherCert, otherKey, _ := selfSigned(t, otherDir)
	p := startServer(t, "-config", writeConfig(t, dir, `
listener "tcp" {
  address                            = "127.0.0.1:0"
  tls_cert_file                      = "`+certPath+`"
  tls_key_file                       = "`+keyPath+`"
  tls_client_ca_file                 = "`+clientCert+`"
  tls_require_and_verify_client_cert = true
}
storage "bolt" { path = "`+filepath.Join(dir, "s.db")+`" }
`))

	// Without a certificate, and with a certificate the CA did not sign.
	for name, certs := range map[string][]tls.Certificate{"none": nil, "other CA": {loadPair(t, otherCert, otherKey)}} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
		resp, err := hc.Get(p.addr + "/v1/sys/seal-status")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("client with %s certificate was served: %s", name, resp.Status)
		}
	}

	cfg := vault.DefaultConfig()
	cfg.Address = p.addr
	if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: certPath, ClientCert: clientCert, ClientKey: clientKey}); err != nil {
		t.Fatal(err)
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Sys().Init(&vault.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatalf("init with a client certificate: %v", err)
	}
	if _, err := c.Sys().Unseal(res.Keys[0]); err != nil {
		t.Fatal(err)
	}
	c.SetToken(res.RootToken)
	want := writeKV(t, c, 3)
	checkKV(t, c, want)

	env := []string{"VAULT_ADDR=" + p.addr, "VAULT_TOKEN=" + res.RootToken, "VAULT_CACERT=" + certPath}
	out := filepath.Join(t.TempDir(), "snap.db")
	cmd := exec.Command(binPath, "operator", "backup", "-out", out)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("backup without a client certificate succeeded:\n%s", b)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused backup left a file")
	}
	cmd = exec.Command(binPath, "operator", "backup", "-out", out, "-client-cert", clientCert)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "both -client-cert and -client-key") {
		t.Fatalf("a certificate without its key: %v\n%s", err, b)
	}
	got := runOperatorCmd(t, append(env, "VAULT_CLIENT_CERT="+clientCert, "VAULT_CLIENT_KEY="+clientKey), "backup", "-out", out)
	if !strings.Contains(got, "Success!") {
		t.Fatalf("backup with a client certificate: %s", got)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("snapshot file: %v %v", fi, err)
	}
}

func loadPair(t *testing.T, cert, key string) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}
