package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

// binPath is the strongroom binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strongroom-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "strongroom")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building strongroom: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running strongroom server process.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr bytes.Buffer
	stdout bytes.Buffer
	done   chan error
}

var listenRE = regexp.MustCompile(`Listening on (\S+)`)

// startServer runs `strongroom server` with args and waits until it listens.
func startServer(t *testing.T, args ...string) *proc {
	t.Helper()
	return startServerEnv(t, nil, args...)
}

// startServerEnv is startServer with extra environment variables.
func startServerEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binPath, append([]string{"server"}, args...)...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stdout.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
		p.done <- p.cmd.Wait()
	}()
	select {
	case p.addr = <-addrCh:
	case err := <-p.done:
		t.Fatalf("server exited before listening: %v\nstderr:\n%s", err, p.logs())
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("server did not start\nstderr:\n%s", p.logs())
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("server exited with %v\nstderr:\n%s", err, p.logs())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("server did not stop on SIGTERM")
	}
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "strongroom.hcl")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func boltConfig(dir string) string {
	return fmt.Sprintf(`
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
storage "bolt" {
  path = %q
}
seal "shamir" {}
log_level = "debug"
`, filepath.Join(dir, "data", "strongroom.db"))
}

func newClient(t *testing.T, addr string) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	return c
}

// statusCode returns the HTTP status of a Vault client error, or 0.
func statusCode(err error) int {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func wantStatus(t *testing.T, err error, code int, contains string) {
	t.Helper()
	if statusCode(err) != code {
		t.Fatalf("want HTTP %d, got err %v", code, err)
	}
	if contains != "" && !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not mention %q", err, contains)
	}
}

// TestInitUnsealSealRestart drives the flow of `vault operator init`,
// `vault operator unseal` (three times), `vault status`, `vault login` and
// `vault operator seal` through the Vault Go client, with the calls the CLI
// makes, then restarts the process on the same store.
func TestInitUnsealSealRestart(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, boltConfig(dir))
	p := startServer(t, "-config", cfgPath)
	c := newClient(t, p.addr)
	sys := c.Sys()

	// vault operator init: seal-status (to learn the seal type), then init.
	st, err := sys.SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.Initialized || !st.Sealed || st.Type != "shamir" || st.RecoverySeal {
		t.Fatalf("fresh server status = %+v", st)
	}
	if ok, err := sys.InitStatus(); err != nil || ok {
		t.Fatalf("InitStatus = %v, %v", ok, err)
	}
	// Unseal before init is refused.
	_, err = sys.Unseal(strings.Repeat("ab", 33))
	wantStatus(t, err, 400, "not initialized")

	initResp, err := sys.Init(&vault.InitRequest{SecretShares: 5, SecretThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(initResp.Keys) != 5 || len(initResp.KeysB64) != 5 || initResp.RootToken == "" {
		t.Fatalf("init response: %d keys, %d b64 keys, token %q", len(initResp.Keys), len(initResp.KeysB64), initResp.RootToken)
	}
	for i := range initResp.Keys {
		raw, _ := hex.DecodeString(initResp.Keys[i])
		if base64.StdEncoding.EncodeToString(raw) != initResp.KeysB64[i] || len(raw) != 33 {
			t.Fatalf("key %d: hex and base64 forms disagree or wrong length %d", i, len(raw))
		}
	}
	if !strings.HasPrefix(initResp.RootToken, "srs.") {
		t.Fatalf("root token %q lacks the srs. prefix", initResp.RootToken)
	}
	_, err = sys.Init(&vault.InitRequest{SecretShares: 5, SecretThreshold: 3})
	wantStatus(t, err, 400, "already initialized")

	// Sealed after init: everything but the seal endpoints answers 503.
	c.SetToken(initResp.RootToken)
	_, err = c.Auth().Token().LookupSelf()
	wantStatus(t, err, 503, "Vault is sealed")

	// vault operator unseal, three times: progress 1/3, 2/3, then unsealed.
	st, err = sys.Unseal(initResp.Keys[0])
	if err != nil || !st.Sealed || st.Progress != 1 || st.T != 3 || st.N != 5 || st.Nonce == "" {
		t.Fatalf("after key 1: %+v, %v", st, err)
	}
	nonce := st.Nonce
	_, err = sys.Unseal(initResp.Keys[0])
	wantStatus(t, err, 400, "already provided")
	st, err = sys.Unseal(initResp.KeysB64[1]) // base64 works as well as hex
	if err != nil || !st.Sealed || st.Progress != 2 || st.Nonce != nonce {
		t.Fatalf("after key 2: %+v, %v", st, err)
	}
	st, err = sys.Unseal(initResp.Keys[2])
	if err != nil || st.Sealed || st.Progress != 0 {
		t.Fatalf("after key 3: %+v, %v", st, err)
	}

	// vault status: seal-status, then leader.
	st, err = sys.SealStatus()
	if err != nil || st.Sealed || !st.Initialized || st.ClusterID == "" || st.ClusterName == "" || st.StorageType != "bolt" {
		t.Fatalf("status after unseal: %+v, %v", st, err)
	}
	clusterID := st.ClusterID
	leader, err := sys.Leader()
	if err != nil || leader.HAEnabled {
		t.Fatalf("leader: %+v, %v", leader, err)
	}

	// vault login <root token>: lookup-self.
	sec, err := c.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := sec.TokenID(); id != initResp.RootToken {
		t.Fatalf("lookup-self id = %q", id)
	}
	if pol, _ := sec.TokenPolicies(); len(pol) != 1 || pol[0] != "root" {
		t.Fatalf("lookup-self policies = %v", pol)
	}
	if sec.Data["orphan"] != true || sec.Data["path"] != "auth/token/root" || sec.Data["expire_time"] != nil {
		t.Fatalf("lookup-self data = %v", sec.Data)
	}
	if acc, _ := sec.TokenAccessor(); acc == "" {
		t.Fatal("lookup-self has no accessor")
	}
	// A wrong token, or none, is denied.
	bad := newClient(t, p.addr)
	bad.SetToken("srs.notarealtoken")
	_, err = bad.Auth().Token().LookupSelf()
	wantStatus(t, err, 403, "permission denied")
	bad.ClearToken()
	_, err = bad.Auth().Token().LookupSelf()
	wantStatus(t, err, 403, "permission denied")
	// Sealing needs a token.
	err = bad.Sys().Seal()
	wantStatus(t, err, 403, "permission denied")

	// vault operator seal.
	if err := sys.Seal(); err != nil {
		t.Fatal(err)
	}
	if st, err = sys.SealStatus(); err != nil || !st.Sealed {
		t.Fatalf("after seal: %+v, %v", st, err)
	}
	_, err = c.Auth().Token().LookupSelf()
	wantStatus(t, err, 503, "Vault is sealed")

	// Restart the process on the same store: sealed, and unsealable with
	// another subset of keys; the data (root token, cluster id) is intact.
	p.stop(t)
	p = startServer(t, "-config", cfgPath)
	c = newClient(t, p.addr)
	c.SetToken(initResp.RootToken)
	sys = c.Sys()
	if st, err = sys.SealStatus(); err != nil || !st.Sealed || !st.Initialized || st.Progress != 0 {
		t.Fatalf("after restart: %+v, %v", st, err)
	}
	for _, k := range initResp.Keys[2:5] {
		if st, err = sys.Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	if st.Sealed {
		t.Fatalf("still sealed after three keys: %+v", st)
	}
	if st, _ = sys.SealStatus(); st.ClusterID != clusterID {
		t.Fatalf("cluster id changed across restart: %q != %q", st.ClusterID, clusterID)
	}
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("root token lost across restart: %v", err)
	}

	// A wrong key: 400 once the threshold is reached, and progress resets.
	if err := sys.Seal(); err != nil {
		t.Fatal(err)
	}
	sys.Unseal(initResp.Keys[0])
	sys.Unseal(initResp.Keys[1])
	wrong := make([]byte, 33)
	copy(wrong, []byte("not a share of this key, sorry!"))
	wrong[32] = 0x77
	_, err = sys.Unseal(hex.EncodeToString(wrong))
	wantStatus(t, err, 400, "invalid key")
	if st, _ = sys.SealStatus(); !st.Sealed || st.Progress != 0 {
		t.Fatalf("after a wrong key: %+v", st)
	}
	// A malformed key: 400, progress kept.
	sys.Unseal(initResp.Keys[0])
	_, err = sys.Unseal("not hex or base64!")
	wantStatus(t, err, 400, "valid hex or base64")
	_, err = sys.Unseal(hex.EncodeToString(wrong[:20]))
	wantStatus(t, err, 400, "33 bytes")
	if st, _ = sys.SealStatus(); st.Progress != 1 {
		t.Fatalf("a malformed key changed progress: %+v", st)
	}
	// vault operator unseal -reset clears progress.
	if st, err = sys.ResetUnsealProcess(); err != nil || st.Progress != 0 || st.Nonce != "" {
		t.Fatalf("reset: %+v, %v", st, err)
	}
	// Unseal again works after all of that.
	for _, k := range initResp.Keys[1:4] {
		if st, err = sys.Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	if st.Sealed {
		t.Fatal("unseal after reset failed")
	}
	_, err = sys.ResetUnsealProcess()
	wantStatus(t, err, 400, "unsealed")

	secrets := map[string]string{"root token": initResp.RootToken}
	for i, k := range initResp.Keys {
		secrets["unseal key hex "+string(rune('0'+i))] = k
		secrets["unseal key b64 "+string(rune('0'+i))] = initResp.KeysB64[i]
	}
	assertLogsClean(t, p, secrets)
}

// TestHealthCodes checks sys/health's status codes and query flags in each
// seal state, as a load balancer sees them.
func TestHealthCodes(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, "-config", writeConfig(t, dir, boltConfig(dir)))
	get := func(query string) int {
		t.Helper()
		resp, err := http.Get(p.addr + "/v1/sys/health" + query)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(""); got != 501 {
		t.Fatalf("uninitialised: %d, want 501", got)
	}
	if got := get("?uninitcode=200"); got != 200 {
		t.Fatalf("uninitcode=200: %d", got)
	}
	if got := get("?uninitcode=abc"); got != 400 {
		t.Fatalf("bad uninitcode: %d, want 400", got)
	}
	c := newClient(t, p.addr)
	res, err := c.Sys().Init(&vault.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(""); got != 503 {
		t.Fatalf("sealed: %d, want 503", got)
	}
	if got := get("?sealedcode=299"); got != 299 {
		t.Fatalf("sealedcode=299: %d", got)
	}
	// The client's Health call works in every state (it asks for 299s).
	h, err := c.Sys().Health()
	if err != nil || !h.Sealed || !h.Initialized {
		t.Fatalf("client health: %+v %v", h, err)
	}
	if _, err := c.Sys().Unseal(res.Keys[0]); err != nil {
		t.Fatal(err)
	}
	if got := get("?standbyok=true"); got != 200 {
		t.Fatalf("active: %d, want 200", got)
	}
	if got := get("?activecode=204"); got != 204 {
		t.Fatalf("activecode=204: %d", got)
	}
	req, _ := http.NewRequest(http.MethodHead, p.addr+"/v1/sys/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestDevServer starts `server -dev` with each seal and uses the token and
// key it prints. With SoftHSM2 installed (as in CI), the default dev seal is
// pkcs11: the node is auto-unsealed and the key is a recovery key, which
// unseals it again after `vault operator seal`.
func TestDevServer(t *testing.T) {
	for _, c := range []struct{ seal, wantType, keyLabel string }{
		{"shamir", "shamir", "Unseal Key"},
		{"pkcs11", "pkcs11", "Recovery Key"},
	} {
		t.Run(c.seal, func(t *testing.T) {
			if c.seal == "pkcs11" {
				softhsmtest.Require(t)
			}
			p := startServer(t, "-dev", "-dev-listen-address", "127.0.0.1:0", "-dev-seal", c.seal)
			deadline := time.Now().Add(10 * time.Second)
			var out string
			for time.Now().Before(deadline) {
				if out = p.out(); strings.Contains(out, "Root Token:") {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			tok := regexp.MustCompile(`Root Token: (\S+)`).FindStringSubmatch(out)
			key := regexp.MustCompile(c.keyLabel + `: (\S+)`).FindStringSubmatch(out)
			if tok == nil || key == nil || !strings.Contains(out, "export VAULT_ADDR='"+p.addr+"'") {
				t.Fatalf("dev banner incomplete:\n%s", out)
			}
			// A fresh dev server has nothing to warn about (a fresh token
			// has no master key yet, hence no tenant keys to index).
			for _, line := range strings.Split(out+p.logs(), "\n") {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					t.Errorf("dev server start logged: %s", line)
				}
			}
			cl := newClient(t, p.addr)
			cl.SetToken(tok[1])
			if _, err := cl.Auth().Token().LookupSelf(); err != nil {
				t.Fatalf("dev root token: %v", err)
			}
			st, err := cl.Sys().SealStatus()
			if err != nil || st.Type != c.wantType || st.Sealed || st.RecoverySeal != (c.seal == "pkcs11") {
				t.Fatalf("dev seal status: %+v %v", st, err)
			}
			if err := cl.Sys().Seal(); err != nil {
				t.Fatal(err)
			}
			st, err = cl.Sys().Unseal(key[1])
			if err != nil || st.Sealed {
				t.Fatalf("dev unseal with the printed key: %+v %v", st, err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binPath, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "Strongroom v") {
		t.Fatalf("version: %q %v", out, err)
	}
}

// execServer returns an unstarted `strongroom server` command with env added.
func execServer(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(binPath, append([]string{"server"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// lockedBuffer is a bytes.Buffer safe for a writing process and a reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertLogsClean fails if any secret appears in the server's log output
// (stdout and stderr; the e2e servers log at debug level).
func assertLogsClean(t *testing.T, p *proc, secrets map[string]string) {
	t.Helper()
	logs := p.logs()
	for name, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the server log contains the %s", name)
		}
	}
}

// TestFailedStartLogsNoError: a node whose listener cannot bind (the
// address in use) fails to start with that error and stops its background
// work before closing its store, so it logs no error about the closed
// store (it logged "keyring reload failed ... store is closed").
func TestFailedStartLogsNoError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	text := strings.Replace(boltConfig(dir), "127.0.0.1:0", busy.Addr().String(), 1)
	cfg, err := ParseConfig("busy.hcl", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var logs bytes.Buffer
		_, err = start(context.Background(), cfg, &logs)
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("start on a busy address: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // room for a late watcher to log
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Fatalf("a failed start logged an error:\n%s", logs.String())
		}
	}
}
