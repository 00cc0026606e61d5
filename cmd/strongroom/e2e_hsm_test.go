package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/strongroom/strongroom/softhsm"
	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

// hsmFixture is a SoftHSM2 token and a store directory shared by the
// server processes of one test.
type hsmFixture struct {
	dir string
	tok *softhsm.Token
	n   int
}

func newHSMFixture(t *testing.T) *hsmFixture {
	t.Helper()
	softhsmtest.Require(t)
	dir := t.TempDir()
	tok, err := softhsm.Create(filepath.Join(dir, "softhsm"), "strongroom-e2e")
	if err != nil {
		t.Fatal(err)
	}
	return &hsmFixture{dir: dir, tok: tok}
}

// env gives a server process the token's configuration and its PIN through
// VAULT_HSM_PIN, as an operator would.
func (f *hsmFixture) env() []string { return append(f.tok.Env(), "VAULT_HSM_PIN="+f.tok.PIN) }

// config writes a configuration file, unique to this call, with the
// given seal blocks.
func (f *hsmFixture) config(t *testing.T, sealBlocks string) string {
	t.Helper()
	f.n++
	base := boltConfig(f.dir)
	path := filepath.Join(f.dir, fmt.Sprintf("strongroom-%d.hcl", f.n))
	if err := os.WriteFile(path, []byte(base[:strings.Index(base, `seal "shamir"`)]+sealBlocks), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (f *hsmFixture) pkcs11(extra string) string {
	return fmt.Sprintf(`seal "pkcs11" {
  lib          = %q
  token_label  = %q
  key_label    = "strongroom-master"
  generate_key = true
  %s
}
`, f.tok.Lib, f.tok.Label, extra)
}

var unsealDurationRE = regexp.MustCompile(`unsealed through the HSM" duration=(\S+)`)

// TestAutoUnsealSurvivesKill: init with recovery keys, SIGKILL, restart:
// the node is unsealed by itself, with its data.
func TestAutoUnsealSurvivesKill(t *testing.T) {
	f := newHSMFixture(t)
	cfg := f.config(t, f.pkcs11(""))
	p := startServerEnv(t, f.env(), "-config", cfg)
	c := newClient(t, p.addr)
	st, err := c.Sys().SealStatus()
	if err != nil || st.Type != "pkcs11" || !st.RecoverySeal || st.RecoverySealType != "shamir" || st.Initialized {
		t.Fatalf("before init: %+v %v", st, err)
	}
	// vault operator init -recovery-shares=5 -recovery-threshold=3
	res, err := c.Sys().Init(&vault.InitRequest{RecoveryShares: 5, RecoveryThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 0 || len(res.RecoveryKeys) != 5 || len(res.RecoveryKeysB64) != 5 {
		t.Fatalf("init: %d unseal keys, %d recovery keys", len(res.Keys), len(res.RecoveryKeys))
	}
	// Unseal-key parameters do not apply to this seal (checked first, as
	// in Vault); a second init is refused.
	_, err = c.Sys().Init(&vault.InitRequest{SecretShares: 5, SecretThreshold: 3})
	wantStatus(t, err, 400, "not applicable to seal type pkcs11")
	_, err = c.Sys().Init(&vault.InitRequest{RecoveryShares: 5, RecoveryThreshold: 3})
	wantStatus(t, err, 400, "already initialized")
	if st, _ = c.Sys().SealStatus(); st.Sealed || st.T != 3 || st.N != 5 {
		t.Fatalf("after init: %+v", st)
	}
	c.SetToken(res.RootToken)
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}

	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p = startServerEnv(t, f.env(), "-config", cfg)
	c = newClient(t, p.addr)
	c.SetToken(res.RootToken)
	if st, err = c.Sys().SealStatus(); err != nil || st.Sealed || st.Type != "pkcs11" || !st.RecoverySeal {
		t.Fatalf("after SIGKILL and restart: %+v %v", st, err)
	}
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("data after restart: %v", err)
	}
	if m := unsealDurationRE.FindStringSubmatch(p.logs()); m != nil {
		t.Logf("auto-unseal at start took %s", m[1])
	} else {
		t.Fatalf("no auto-unseal log line:\n%s", p.logs())
	}

	// Recovery keys authorise generate-root.
	anon := newClient(t, p.addr)
	gr, err := anon.Sys().GenerateRootInit("", "")
	if err != nil || gr.Required != 3 {
		t.Fatalf("generate-root init: %+v %v", gr, err)
	}
	for _, k := range res.RecoveryKeys[:3] {
		if gr, err = anon.Sys().GenerateRootUpdate(k, gr.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if !gr.Complete {
		t.Fatal("generate-root with recovery keys did not complete")
	}
	// And the rekey of recovery keys (vault operator rekey -target=recovery).
	_, err = c.Sys().RekeyInit(&vault.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	wantStatus(t, err, 400, "rekey-recovery-key")
	rk, err := c.Sys().RekeyRecoveryKeyInit(&vault.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	var upd *vault.RekeyUpdateResponse
	for _, k := range res.RecoveryKeys[1:4] {
		if upd, err = c.Sys().RekeyRecoveryKeyUpdate(k, rk.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if !upd.Complete || len(upd.Keys) != 3 {
		t.Fatalf("recovery rekey: %+v", upd)
	}
	if st, _ = c.Sys().SealStatus(); st.T != 2 || st.N != 3 {
		t.Fatalf("seal status after recovery rekey: %+v", st)
	}
}

// TestHSMStartRefusals: a wrong PIN, a missing library and a missing key on
// an initialised store stop the start with a clear message, never the PIN.
func TestHSMStartRefusals(t *testing.T) {
	f := newHSMFixture(t)
	run := func(env []string, cfg string) string {
		t.Helper()
		cmd := execServer(env, "-config", cfg)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("server started:\n%s", out)
		}
		return string(out)
	}
	out := run(append(f.tok.Env(), "VAULT_HSM_PIN=wrong-pin-93817"), f.config(t, f.pkcs11("")))
	if !strings.Contains(out, "CKR_PIN_INCORRECT") || !strings.Contains(out, "C_Login") || strings.Contains(out, "wrong-pin-93817") {
		t.Fatalf("wrong PIN output:\n%s", out)
	}
	out = run(append(f.env(), "VAULT_HSM_LIB=/nonexistent/libpkcs11.so"), f.config(t, f.pkcs11("")))
	if !strings.Contains(out, "cannot be loaded") || strings.Contains(out, f.tok.PIN) {
		t.Fatalf("missing library output:\n%s", out)
	}
	// A fresh token without the key, and generation not allowed.
	out = run(append(f.env(), "VAULT_HSM_GENERATE_KEY=false"), f.config(t, f.pkcs11("")))
	if !strings.Contains(out, "generate_key is false") {
		t.Fatalf("missing key without generate_key output:\n%s", out)
	}
	// Initialise, then point at a key label that is not on the token: no new
	// key is generated; the start stops.
	cfg := f.config(t, f.pkcs11(""))
	p := startServerEnv(t, f.env(), "-config", cfg)
	if _, err := newClient(t, p.addr).Sys().Init(&vault.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1}); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	out = run(append(f.env(), "VAULT_HSM_KEY_LABEL=no-such-key"), cfg)
	if !strings.Contains(out, "master key") || !strings.Contains(out, "no-such-key") {
		t.Fatalf("missing key output:\n%s", out)
	}
	// The PIN from a file works as well as from the environment.
	pinFile := filepath.Join(f.dir, "pin")
	os.WriteFile(pinFile, []byte(f.tok.PIN+"\n"), 0o600)
	p = startServerEnv(t, f.tok.Env(), "-config", f.config(t, f.pkcs11(fmt.Sprintf("pin_file = %q", pinFile))))
	if st, err := newClient(t, p.addr).Sys().SealStatus(); err != nil || st.Sealed {
		t.Fatalf("pin_file start: %+v %v", st, err)
	}
}

// TestDualControlProcess: with dual_control, a restarted node stays sealed
// although the HSM is there, until a quorum of unseal keys arrives.
func TestDualControlProcess(t *testing.T) {
	f := newHSMFixture(t)
	cfg := f.config(t, f.pkcs11("dual_control = true"))
	p := startServerEnv(t, f.env(), "-config", cfg)
	c := newClient(t, p.addr)
	st, _ := c.Sys().SealStatus()
	if st.RecoverySeal || st.RecoverySealType != "" {
		t.Fatal("dual control reports a recovery seal: the CLI would send recovery shares")
	}
	res, err := c.Sys().Init(&vault.InitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil || len(res.Keys) != 3 {
		t.Fatalf("init: %v", err)
	}
	p.stop(t)
	p = startServerEnv(t, f.env(), "-config", cfg)
	c = newClient(t, p.addr)
	if st, _ = c.Sys().SealStatus(); !st.Sealed || st.Type != "pkcs11" || st.T != 2 {
		t.Fatalf("dual control restart: %+v", st)
	}
	c.Sys().Unseal(res.Keys[0])
	if st, err = c.Sys().Unseal(res.Keys[2]); err != nil || st.Sealed {
		t.Fatalf("dual unseal: %+v %v", st, err)
	}
	// The shares without the HSM: a node configured with shamir only must
	// migrate, and cannot without the HSM.
	p.stop(t)
	p = startServer(t, "-config", f.config(t, `seal "shamir" {}`))
	c = newClient(t, p.addr)
	_, err = c.Sys().Unseal(res.Keys[0])
	wantStatus(t, err, 400, "migrate option not provided")
	c.Sys().UnsealWithOptions(&vault.UnsealOpts{Key: res.Keys[0], Migrate: true})
	_, err = c.Sys().UnsealWithOptions(&vault.UnsealOpts{Key: res.Keys[1], Migrate: true})
	if statusCode(err) < 500 {
		t.Fatalf("shares alone opened a dual-control seal: %v", err)
	}
}

// TestMigrationProcess: shamir → pkcs11 → shamir with `vault operator
// unseal -migrate`, changing the configuration and restarting, as in Vault.
func TestMigrationProcess(t *testing.T) {
	f := newHSMFixture(t)
	shamirCfg := f.config(t, `seal "shamir" {}`)
	p := startServerEnv(t, f.env(), "-config", shamirCfg)
	c := newClient(t, p.addr)
	res, err := c.Sys().Init(&vault.InitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	c.Sys().Unseal(res.Keys[0])
	c.Sys().Unseal(res.Keys[1])
	p.stop(t)

	// To pkcs11: change the seal, restart, give the quorum with -migrate.
	autoCfg := f.config(t, f.pkcs11(""))
	p = startServerEnv(t, f.env(), "-config", autoCfg)
	c = newClient(t, p.addr)
	st, _ := c.Sys().SealStatus()
	if !st.Sealed || !st.Migration {
		t.Fatalf("pending migration: %+v", st)
	}
	_, err = c.Sys().Unseal(res.Keys[0])
	wantStatus(t, err, 400, "migrate option not provided")
	for _, k := range res.Keys[:2] {
		if st, err = c.Sys().UnsealWithOptions(&vault.UnsealOpts{Key: k, Migrate: true}); err != nil {
			t.Fatal(err)
		}
	}
	if st.Sealed || st.Migration || st.Type != "pkcs11" || !st.RecoverySeal {
		t.Fatalf("after migration: %+v", st)
	}
	p.stop(t)
	p = startServerEnv(t, f.env(), "-config", autoCfg)
	c = newClient(t, p.addr)
	c.SetToken(res.RootToken)
	if st, _ = c.Sys().SealStatus(); st.Sealed {
		t.Fatal("not auto-unsealed after migrating to pkcs11")
	}
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("data after migration: %v", err)
	}
	p.stop(t)

	// Back to shamir: the pkcs11 seal stays, disabled, for the migration;
	// the recovery keys become the unseal keys.
	backCfg := f.config(t, `seal "shamir" {}`+"\n"+f.pkcs11("disabled = true"))
	p = startServerEnv(t, f.env(), "-config", backCfg)
	c = newClient(t, p.addr)
	if st, _ = c.Sys().SealStatus(); !st.Sealed || !st.Migration {
		t.Fatalf("pending migration back: %+v", st)
	}
	for _, k := range []string{res.Keys[2], res.Keys[1]} {
		if st, err = c.Sys().UnsealWithOptions(&vault.UnsealOpts{Key: k, Migrate: true}); err != nil {
			t.Fatal(err)
		}
	}
	if st.Sealed || st.Type != "shamir" || st.RecoverySeal || st.RecoverySealType != "" {
		t.Fatalf("after migrating back: %+v", st)
	}
	p.stop(t)
	p = startServer(t, "-config", shamirCfg)
	c = newClient(t, p.addr)
	c.SetToken(res.RootToken)
	c.Sys().Unseal(res.Keys[0])
	if st, err = c.Sys().Unseal(res.Keys[2]); err != nil || st.Sealed {
		t.Fatalf("shamir unseal after the round trip: %+v %v", st, err)
	}
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("data after the round trip: %v", err)
	}
}

// TestHSMFaultCycle: the token disappears under a running node and comes
// back. Requests that need no HSM keep being served; one that needs it fails
// with a clear 5xx and changes nothing; after the token returns it works,
// without a restart. A start with the token absent retries until it is back.
func TestHSMFaultCycle(t *testing.T) {
	f := newHSMFixture(t)
	cfg := f.config(t, f.pkcs11(""))
	p := startServerEnv(t, f.env(), "-config", cfg)
	c := newClient(t, p.addr)
	res, err := c.Sys().Init(&vault.InitRequest{RecoveryShares: 3, RecoveryThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(res.RootToken)

	tokens := filepath.Join(f.tok.Dir, "tokens")
	away := tokens + ".away"
	if err := os.Rename(tokens, away); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			if err := os.Rename(away, tokens); err != nil {
				t.Fatal(err)
			}
			restored = true
		}
	}
	t.Cleanup(restore)

	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("a request without HSM call failed while the token is gone: %v", err)
	}
	// Readiness follows HSM reachability: sys/health turns 503.
	healthCode := func() int {
		resp, err := http.Get(p.addr + "/v1/sys/health")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, 15*time.Second, func() bool { return healthCode() == 503 })
	rk, err := c.Sys().RekeyRecoveryKeyInit(&vault.RekeyInitRequest{SecretShares: 2, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	c.Sys().RekeyRecoveryKeyUpdate(res.RecoveryKeys[0], rk.Nonce)
	_, err = c.Sys().RekeyRecoveryKeyUpdate(res.RecoveryKeys[1], rk.Nonce)
	if statusCode(err) < 500 || !strings.Contains(err.Error(), "HSM") {
		t.Fatalf("HSM-bound request while the token is gone: %v", err)
	}
	if st, _ := c.Sys().SealStatus(); st.T != 2 || st.N != 3 {
		t.Fatalf("the failed rekey changed the seal: %+v", st)
	}

	restore()
	var upd *vault.RekeyUpdateResponse
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.Sys().RekeyRecoveryKeyUpdate(res.RecoveryKeys[0], rk.Nonce)
		upd, err = c.Sys().RekeyRecoveryKeyUpdate(res.RecoveryKeys[2], rk.Nonce)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || !upd.Complete {
		t.Fatalf("HSM-bound request after the token came back: %+v %v", upd, err)
	}
	waitFor(t, 15*time.Second, func() bool { return healthCode() == 200 })
	p.stop(t)

	// A start with the token absent retries with backoff, logging why, and
	// unseals once the token is back.
	if err := os.Rename(tokens, away); err != nil {
		t.Fatal(err)
	}
	restored = false
	cmd := execServer(f.env(), "-config", cfg)
	var logs lockedBuffer
	cmd.Stderr = &logs
	cmd.Stdout = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "HSM unavailable; retrying") })
	restore()
	waitFor(t, 40*time.Second, func() bool { return strings.Contains(logs.String(), "unsealed through the HSM") })
}
