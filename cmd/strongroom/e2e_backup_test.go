package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// backupRestore writes data on a running node, takes a backup with
// `strongroom operator backup`, restores it with `operator restore` into
// an empty store, and returns the restored node's config path.
func runOperatorCmd(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"operator"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("operator %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func writeKV(t *testing.T, c *vault.Client, n int) map[string]string {
	t.Helper()
	if err := c.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range n {
		k, v := fmt.Sprintf("app/%d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i*100))
		if _, err := c.KVv2("secret").Put(context.Background(), k, map[string]any{"v": v}); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	return want
}

func checkKV(t *testing.T, c *vault.Client, want map[string]string) {
	t.Helper()
	for k, v := range want {
		s, err := c.KVv2("secret").Get(context.Background(), k)
		if err != nil || s.Data["v"] != v {
			t.Fatalf("restored %s: %v %v", k, s, err)
		}
	}
}

// TestBackupRestoreShamir: backup and restore with the Shamir seal; the
// restored node unseals with the same keys and holds identical data.
func TestBackupRestoreShamir(t *testing.T) {
	p, c, res := initUnsealed(t, 3, 2)
	want := writeKV(t, c, 20)
	dir := t.TempDir()
	snap := filepath.Join(dir, "backup.snap")
	env := []string{"VAULT_ADDR=" + p.addr, "VAULT_TOKEN=" + res.RootToken}
	out := runOperatorCmd(t, env, "backup", "-out", snap)
	if !strings.Contains(out, "Success!") {
		t.Fatalf("backup output: %s", out)
	}
	fi, err := os.Stat(snap)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", fi, err)
	}
	raw, _ := os.ReadFile(snap)
	for _, s := range []string{res.RootToken, want["app/3"]} {
		if strings.Contains(string(raw), s) {
			t.Fatal("the snapshot holds a plaintext secret")
		}
	}
	// A token without sudo on sys/storage/snapshot is refused.
	c.Sys().PutPolicy("reader", `path "sys/storage/snapshot" { capabilities = ["read"] }`)
	tok, _ := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"reader"}})
	cmd := exec.Command(binPath, "operator", "backup", "-out", filepath.Join(dir, "no.snap"))
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+p.addr, "VAULT_TOKEN="+tok.Auth.ClientToken)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "403") {
		t.Fatalf("backup without sudo: %v %s", err, out)
	}

	rdir := t.TempDir()
	cfg := writeConfig(t, rdir, boltConfig(rdir))
	out = runOperatorCmd(t, nil, "restore", "-config", cfg, "-in", snap)
	if !strings.Contains(out, "Success! Restored") {
		t.Fatalf("restore output: %s", out)
	}
	// Restoring again into the now non-empty store is refused.
	cmd = exec.Command(binPath, "operator", "restore", "-config", cfg, "-in", snap)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Fatalf("restore into a non-empty store: %v %s", err, out)
	}
	q := startServer(t, "-config", cfg)
	rc := newClient(t, q.addr)
	st, _ := rc.Sys().SealStatus()
	if !st.Sealed || !st.Initialized || st.T != 2 {
		t.Fatalf("restored node: %+v", st)
	}
	rc.Sys().Unseal(res.Keys[1])
	if st, err = rc.Sys().Unseal(res.Keys[2]); err != nil || st.Sealed {
		t.Fatalf("unseal restored node: %+v %v", st, err)
	}
	rc.SetToken(res.RootToken)
	checkKV(t, rc, want)
}

// TestBackupRestoreHSM: the same with the pkcs11 seal; the restored node
// auto-unseals with the same HSM key.
func TestBackupRestoreHSM(t *testing.T) {
	f := newHSMFixture(t)
	p := startServerEnv(t, f.env(), "-config", f.config(t, f.pkcs11("")))
	c := newClient(t, p.addr)
	res, err := c.Sys().Init(&vault.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(res.RootToken)
	want := writeKV(t, c, 10)
	snap := filepath.Join(f.dir, "hsm.snap")
	runOperatorCmd(t, []string{"VAULT_ADDR=" + p.addr, "VAULT_TOKEN=" + res.RootToken}, "backup", "-out", snap)
	p.stop(t)

	rdir := t.TempDir()
	base := boltConfig(rdir)
	cfgPath := filepath.Join(rdir, "restored.hcl")
	os.WriteFile(cfgPath, []byte(base[:strings.Index(base, `seal "shamir"`)]+f.pkcs11("")), 0o600)
	runOperatorCmd(t, nil, "restore", "-config", cfgPath, "-in", snap)
	q := startServerEnv(t, f.env(), "-config", cfgPath)
	rc := newClient(t, q.addr)
	if st, _ := rc.Sys().SealStatus(); st.Sealed {
		t.Fatal("restored node did not auto-unseal with the same HSM key")
	}
	rc.SetToken(res.RootToken)
	checkKV(t, rc, want)
}
