package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// TestSIGHUPReloadsCertificate: the server serves a new certificate after
// SIGHUP, and a keep-alive connection opened before survives it.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath, poolA := selfSigned(t, filepath.Join(dir))
	cfg := writeConfig(t, dir, `
listener "tcp" {
  address       = "127.0.0.1:0"
  tls_cert_file = "`+certPath+`"
  tls_key_file  = "`+keyPath+`"
}
storage "bolt" { path = "`+filepath.Join(dir, "s.db")+`" }
`)
	p := startServer(t, "-config", cfg)
	host := strings.TrimPrefix(p.addr, "https://")
	served := func(pool *x509.CertPool) []byte {
		t.Helper()
		c, err := tls.Dial("tcp", host, &tls.Config{RootCAs: pool})
		if err != nil {
			return nil
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	first := served(poolA)
	if first == nil {
		t.Fatal("the first certificate is not served")
	}
	// A keep-alive client connection, trusting both certificates.
	both := poolA.Clone()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: both}}}
	reused := func() bool {
		var r bool
		req, _ := http.NewRequest("GET", p.addr+"/v1/sys/health", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { r = i.Reused },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return r
	}
	reused()

	// New certificate in the same files, then SIGHUP.
	newDir := t.TempDir()
	newCert, newKey, poolB := selfSigned(t, newDir)
	for src, dst := range map[string]string{newCert: certPath, newKey: keyPath} {
		b, _ := os.ReadFile(src)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool {
		got := served(poolB)
		return got != nil && !bytes.Equal(got, first)
	})
	if !reused() {
		t.Fatal("the keep-alive connection was dropped by the reload")
	}
	// The log line follows the swap the client saw.
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(p.logs(), "certificate reloaded") })
}

// TestJSONLogs: log_format = "json" writes one JSON object per line, each
// request line carries its request id, and no secret is logged.
func TestJSONLogs(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, strings.Replace(boltConfig(dir), `log_level = "debug"`, "log_level = \"debug\"\nlog_format = \"json\"", 1))
	p := startServer(t, "-config", cfg)
	c := newClient(t, p.addr)
	res, err := c.Sys().Init(&vault.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.Sys().Unseal(res.Keys[0])
	c.SetToken(res.RootToken)
	c.Auth().Token().LookupSelf()
	// A request's line is written once its response is sent: wait for
	// the three (init, unseal, lookup-self).
	countRequests := func() int {
		var requests int
		// Complete lines only: the last one may still be arriving.
		logs := p.logs()
		logs = logs[:strings.LastIndexByte(logs, '\n')+1]
		for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
			if line == "" {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not a JSON log line: %s", line)
			}
			if rec["msg"] == "request" {
				requests++
				if id, _ := rec["request_id"].(string); len(id) != 36 {
					t.Fatalf("request line without request id: %s", line)
				}
			}
		}
		return requests
	}
	waitFor(t, 5*time.Second, func() bool { return countRequests() >= 3 })
	assertLogsClean(t, p, map[string]string{"root token": res.RootToken, "unseal key": res.Keys[0], "unseal key b64": res.KeysB64[0]})
}

// TestSIGTERMDrains: a request in flight when SIGTERM arrives completes;
// the server exits cleanly afterwards.
func TestSIGTERMDrains(t *testing.T) {
	p, c, _ := initUnsealed(t, 1, 1)
	if err := c.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", p.addr+"/v1/secret/data/slow", pr)
	req.Header.Set("X-Vault-Token", c.Token())
	req.ContentLength = -1
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	io.WriteString(pw, `{"data":{"v":"`)
	time.Sleep(200 * time.Millisecond) // the request is in flight
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	io.WriteString(pw, `drained"}}`)
	pw.Close()
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("in-flight request during shutdown: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request did not complete")
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("server exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit after draining")
	}
}
