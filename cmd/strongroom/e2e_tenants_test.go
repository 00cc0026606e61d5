package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
	"github.com/strongroom/strongroom/storage/tuple"
)

// nsClient is a client of namespace ns at addr with token tok, as the CLI
// is with VAULT_NAMESPACE set (the X-Vault-Namespace header).
func nsClient(t *testing.T, addr, ns, tok string) *vault.Client {
	t.Helper()
	c := newClient(t, addr)
	if ns != "" {
		c.SetNamespace(ns)
	}
	if tok != "" {
		c.SetToken(tok)
	}
	return c
}

// clusterDual starts a node whose cluster seal is dual control (HSM and
// unseal keys), so `vault operator init` returns unseal keys and the
// cluster is unsealed with three of them, and initialises and unseals it.
func clusterDual(t *testing.T) (*hsmFixture, string, *proc, *vault.Client, *vault.InitResponse) {
	t.Helper()
	f := newHSMFixture(t)
	cfg := f.config(t, f.pkcs11("dual_control = true"))
	p := startServerEnv(t, f.env(), "-config", cfg)
	c := newClient(t, p.addr)
	return f, cfg, p, c, initAndUnseal(t, c, 5, 3)
}

// initTenant runs `vault operator init` (the CLI reads seal-status first,
// then sends 5/3 unseal shares, or 5/3 recovery shares for a recovery
// seal) and, for an unseal-key tenant, three `vault operator unseal`s in
// namespace ns. It returns the init response.
func initTenant(t *testing.T, addr, ns string) *vault.InitResponse {
	t.Helper()
	c := nsClient(t, addr, ns, "")
	st, err := c.Sys().SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.Initialized || !st.Sealed {
		t.Fatalf("new namespace %s: %+v", ns, st)
	}
	req := &vault.InitRequest{SecretShares: 5, SecretThreshold: 3}
	if st.RecoverySeal {
		req = &vault.InitRequest{RecoveryShares: 5, RecoveryThreshold: 3}
	}
	res, err := c.Sys().Init(req)
	if err != nil {
		t.Fatal(err)
	}
	if st.RecoverySeal {
		return res
	}
	for i, k := range res.Keys[:3] {
		st, err := c.Sys().Unseal(k)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sealed != (i < 2) || st.Progress != (i+1)%3 {
			t.Fatalf("unseal %d of %s: %+v", i+1, ns, st)
		}
	}
	return res
}

// TestTenantCLIFlow drives the issue's `vault` CLI sequence with the calls
// the CLI makes: cluster init and unseal, `vault namespace create acme`,
// tenant init and three unseals with VAULT_NAMESPACE=acme, login with the
// tenant root token, `vault secrets enable -path=secret kv-v2`, `vault kv
// put -mount=secret creds passcode=x`, then `vault operator seal` of the
// tenant, after which the root namespace still serves.
func TestTenantCLIFlow(t *testing.T) {
	_, _, p, c, res := clusterDual(t)
	// vault namespace create acme (PUT sys/namespaces/acme).
	sec, err := c.Logical().Write("sys/namespaces/acme", map[string]any{"custom_metadata": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Data["path"] != "acme/" || len(fmt.Sprint(sec.Data["id"])) != 5 {
		t.Fatalf("namespace create: %v", sec.Data)
	}
	// vault namespace list
	if l, err := c.Logical().List("sys/namespaces"); err != nil || fmt.Sprint(l.Data["keys"]) != "[acme/]" {
		t.Fatalf("namespace list: %v %v", l, err)
	}
	tres := initTenant(t, p.addr, "acme")
	if tres.RootToken == res.RootToken || len(tres.Keys) != 5 {
		t.Fatalf("tenant init: %d keys", len(tres.Keys))
	}
	acme := nsClient(t, p.addr, "acme", tres.RootToken)
	// vault login: lookup-self in the namespace.
	if s, err := acme.Auth().Token().LookupSelf(); err != nil || fmt.Sprint(s.Data["policies"]) != "[root]" {
		t.Fatalf("tenant login: %v %v", s, err)
	}
	// The cluster's root token is not valid in the tenant, nor the
	// tenant's in the cluster.
	_, err = nsClient(t, p.addr, "acme", res.RootToken).Auth().Token().LookupSelf()
	wantStatus(t, err, 403, "permission denied")
	_, err = nsClient(t, p.addr, "", tres.RootToken).Auth().Token().LookupSelf()
	wantStatus(t, err, 403, "permission denied")

	// vault secrets enable -path=secret kv-v2
	if err := acme.Sys().Mount("secret", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	// vault kv put -mount=secret creds passcode=x: the preflight, then the write.
	if pre, err := acme.Logical().Read("sys/internal/ui/mounts/secret/creds"); err != nil || pre.Data["options"].(map[string]any)["version"] != "2" {
		t.Fatalf("kv preflight: %v %v", pre, err)
	}
	if _, err := acme.Logical().Write("secret/data/creds", map[string]any{"data": map[string]any{"passcode": "x"}}); err != nil {
		t.Fatal(err)
	}
	// The same secret through a path prefix instead of the header.
	byPath := nsClient(t, p.addr, "", tres.RootToken)
	if s, err := byPath.Logical().Read("acme/secret/data/creds"); err != nil || s.Data["data"].(map[string]any)["passcode"] != "x" {
		t.Fatalf("read by path prefix: %v %v", s, err)
	}
	// The root namespace has no such mount.
	if s, err := c.Logical().Read("secret/data/creds"); s != nil || (err != nil && statusCode(err) != 404) {
		t.Fatalf("the tenant's secret is visible in the root namespace: %v %v", s, err)
	}
	if err := c.Sys().Mount("rootkv", &vault.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("rootkv/a", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}

	// vault operator seal, in the tenant.
	if err := acme.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	st, err := nsClient(t, p.addr, "acme", "").Sys().SealStatus()
	if err != nil || !st.Sealed || !st.Initialized || st.T != 3 {
		t.Fatalf("tenant after seal: %+v %v", st, err)
	}
	_, err = acme.Logical().Read("secret/data/creds")
	wantStatus(t, err, 503, "Vault is sealed")
	// The root namespace still serves.
	if st, err := c.Sys().SealStatus(); err != nil || st.Sealed {
		t.Fatalf("cluster after tenant seal: %+v %v", st, err)
	}
	if s, err := c.Logical().Read("rootkv/a"); err != nil || s.Data["v"] != "1" {
		t.Fatalf("root namespace after tenant seal: %v %v", s, err)
	}
	// The cluster's unseal keys do not unseal the tenant.
	tc := nsClient(t, p.addr, "acme", "")
	for _, k := range res.Keys[:3] {
		_, err = tc.Sys().Unseal(k)
	}
	if st, _ := tc.Sys().SealStatus(); !st.Sealed || err == nil {
		t.Fatalf("the cluster's keys unsealed the tenant: %+v %v", st, err)
	}
	tc.Sys().ResetUnsealProcess()
	// Its own keys do, and the data is there.
	for _, k := range tres.Keys[2:] {
		if _, err := tc.Sys().Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := acme.Logical().Read("secret/data/creds"); err != nil || s.Data["data"].(map[string]any)["passcode"] != "x" {
		t.Fatalf("after tenant unseal: %v %v", s, err)
	}
	// No key, token or secret of the tenant or the cluster in the logs
	// (the server logs at debug level).
	const secret = "tenant-secret-value-7f3a9c"
	if _, err := acme.Logical().Write("secret/data/other", map[string]any{"data": map[string]any{"v": secret}}); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"tenant root token": tres.RootToken, "cluster root token": res.RootToken, "tenant secret": secret}
	for i, k := range tres.Keys {
		secrets[fmt.Sprintf("tenant unseal key %d", i)] = k
	}
	for i, k := range res.Keys {
		secrets[fmt.Sprintf("cluster unseal key %d", i)] = k
	}
	assertLogsClean(t, p, secrets)
}

// TestTenantAutoSeal: an auto tenant unseals through its HSM key when the
// node restarts, on first use; once its operator seals it, it stays sealed,
// across restarts, until a quorum of its recovery keys unseals it.
func TestTenantAutoSeal(t *testing.T) {
	f, cfg, p, c, res := clusterDual(t)
	if _, err := c.Logical().Write("sys/namespaces/auto1", map[string]any{"seal_type": "auto"}); err != nil {
		t.Fatal(err)
	}
	// An auto tenant reports a recovery seal, so the CLI sends recovery shares.
	tres := initTenant(t, p.addr, "auto1")
	if len(tres.Keys) != 0 || len(tres.RecoveryKeys) != 5 {
		t.Fatalf("auto tenant init: %d keys, %d recovery keys", len(tres.Keys), len(tres.RecoveryKeys))
	}
	a := nsClient(t, p.addr, "auto1", tres.RootToken)
	if err := a.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Logical().Write("transit/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	enc, err := a.Logical().Write("transit/encrypt/k", map[string]any{"plaintext": "aGVsbG8="})
	if err != nil {
		t.Fatal(err)
	}
	ct := enc.Data["ciphertext"].(string)

	// Restart: the cluster needs its keys (dual control), the tenant does not.
	p.stop(t)
	p = startServerEnv(t, f.env(), "-config", cfg)
	c = newClient(t, p.addr)
	for _, k := range res.Keys[:3] {
		c.Sys().Unseal(k)
	}
	a = nsClient(t, p.addr, "auto1", tres.RootToken)
	dec, err := a.Logical().Write("transit/decrypt/k", map[string]any{"ciphertext": ct})
	if err != nil || dec.Data["plaintext"] != "aGVsbG8=" {
		t.Fatalf("auto tenant after restart: %v %v", dec, err)
	}
	// Sealed by its operator: it stays sealed on first use again...
	if err := a.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	_, err = a.Logical().Write("transit/decrypt/k", map[string]any{"ciphertext": ct})
	wantStatus(t, err, 503, "Vault is sealed")
	// ...across a restart too...
	p.stop(t)
	p = startServerEnv(t, f.env(), "-config", cfg)
	for _, k := range res.Keys[:3] {
		newClient(t, p.addr).Sys().Unseal(k)
	}
	a = nsClient(t, p.addr, "auto1", tres.RootToken)
	_, err = a.Logical().Write("transit/decrypt/k", map[string]any{"ciphertext": ct})
	wantStatus(t, err, 503, "Vault is sealed")
	// ...until a quorum of its recovery keys unseals it.
	u := nsClient(t, p.addr, "auto1", "")
	for _, k := range tres.RecoveryKeys[:3] {
		if _, err := u.Sys().Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	if dec, err := a.Logical().Write("transit/decrypt/k", map[string]any{"ciphertext": ct}); err != nil || dec.Data["plaintext"] != "aGVsbG8=" {
		t.Fatalf("after recovery unseal: %v %v", dec, err)
	}
}

// TestTenantUnknownNamespace: a namespace that does not exist answers its
// seal endpoints with 404 and everything else with 403, as an existing
// namespace does without a valid token.
func TestTenantUnknownNamespace(t *testing.T) {
	_, _, p, _, _ := clusterDual(t)
	ghost := nsClient(t, p.addr, "ghost", "")
	_, err := ghost.Sys().SealStatus()
	wantStatus(t, err, 404, "namespace \"ghost\" not found")
	_, err = nsClient(t, p.addr, "ghost", "s.whatever").Logical().Read("secret/data/x")
	wantStatus(t, err, 403, "permission denied")
}

// TestTenantNamespaceAPI: create with bad names, read, patch metadata,
// list, rename keeping the data, delete and reuse of a name.
func TestTenantNamespaceAPI(t *testing.T) {
	_, _, p, c, _ := clusterDual(t)
	for _, bad := range []string{"a/b", "sys", "root", "-x", strings.Repeat("n", 65)} {
		_, err := c.Logical().Write("sys/namespaces/"+bad, nil)
		wantStatus(t, err, 400, "")
	}
	_, err := c.Logical().Write("sys/namespaces/x", map[string]any{"custom_metadata": map[string]any{"n": 1}})
	wantStatus(t, err, 400, "custom_metadata values must be strings")
	_, err = c.Logical().Write("sys/namespaces/x", map[string]any{"seal_type": "hsm-please"})
	wantStatus(t, err, 400, "seal_type")

	if _, err := c.Logical().Write("sys/namespaces/team", map[string]any{"custom_metadata": map[string]any{"owner": "ops", "tier": "1"}}); err != nil {
		t.Fatal(err)
	}
	// PATCH: a null removes a key, a string sets one.
	if code, body := rawCall(t, c, "PATCH", "sys/namespaces/team", `{"custom_metadata":{"tier":null,"cost":"42"}}`); code != 200 {
		t.Fatalf("patch: %d %s", code, body)
	}
	got, err := c.Logical().Read("sys/namespaces/team")
	if err != nil || fmt.Sprint(got.Data["custom_metadata"]) != "map[cost:42 owner:ops]" {
		t.Fatalf("after patch: %v %v", got, err)
	}
	for body, want := range map[string]string{
		`{"custom_metadata":{"n":1}}`: "custom_metadata values must be strings",
		`{"custom_metadata":[1]}`:     "failed to parse JSON input",
		`{"custom_metadata":`:         "failed to parse JSON input",
	} {
		if code, out := rawCall(t, c, "PATCH", "sys/namespaces/team", body); code != 400 || !strings.Contains(out, want) {
			t.Errorf("PATCH %s: %d %s", body, code, out)
		}
	}
	if code, out := rawCall(t, c, "PATCH", "sys/namespaces/nobody", `{"custom_metadata":{"a":"b"}}`); code != 404 || out != `{"errors":[]}` {
		t.Errorf("PATCH of a missing namespace: %d %s", code, out)
	}
	// Changing the seal type of an existing namespace is refused.
	_, err = c.Logical().Write("sys/namespaces/team", map[string]any{"seal_type": "auto"})
	wantStatus(t, err, 400, "cannot change")

	// sys/init's seal_type: refused in the root namespace, checked in a
	// namespace.
	_, err = newClient(t, p.addr).Logical().Write("sys/init", map[string]any{"seal_type": "auto", "recovery_shares": 1, "recovery_threshold": 1})
	wantStatus(t, err, 400, "seal_type applies to namespaces only")
	_, err = nsClient(t, p.addr, "team", "").Logical().Write("sys/init", map[string]any{"seal_type": "hsm-please", "secret_shares": 1, "secret_threshold": 1})
	wantStatus(t, err, 400, "seal_type must be")
	tres := initTenant(t, p.addr, "team")
	tc := nsClient(t, p.addr, "team", tres.RootToken)
	if err := tc.Sys().Mount("kv", &vault.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Logical().Write("kv/a", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	// The cluster operator's policy of docs/tenants.md is enough to
	// manage namespaces; the default policy is not.
	if err := c.Sys().PutPolicy("cluster-operator", `
path "sys/namespaces"   { capabilities = ["list"] }
path "sys/namespaces/*" { capabilities = ["create", "read", "update", "patch", "delete"] }
`); err != nil {
		t.Fatal(err)
	}
	opTok, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"cluster-operator"}})
	if err != nil {
		t.Fatal(err)
	}
	op := nsClient(t, p.addr, "", opTok.Auth.ClientToken)
	if _, err := op.Logical().Write("sys/namespaces/by-operator", nil); err != nil {
		t.Fatal(err)
	}
	if l, err := op.Logical().List("sys/namespaces"); err != nil || !strings.Contains(fmt.Sprint(l.Data["keys"]), "by-operator/") {
		t.Fatalf("operator list: %v %v", l, err)
	}
	if _, err := op.Logical().Delete("sys/namespaces/by-operator"); err != nil {
		t.Fatal(err)
	}
	dflt, _ := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}})
	_, err = nsClient(t, p.addr, "", dflt.Auth.ClientToken).Logical().Write("sys/namespaces/nope", nil)
	wantStatus(t, err, 403, "permission denied")
	// A namespace's token cannot manage namespaces: not in the root
	// namespace (another namespace's token), nor in its own (one level).
	_, err = nsClient(t, p.addr, "", tres.RootToken).Logical().List("sys/namespaces")
	wantStatus(t, err, 403, "permission denied")
	_, err = tc.Logical().Write("sys/namespaces/sub", nil)
	wantStatus(t, err, 404, "unsupported path")
	// Rename refusals.
	for body, want := range map[string]string{
		`{}`:               "the new namespace name",
		`{"to":"a/b"}`:     "nested namespaces are not supported",
		`{"to":"sys"}`:     "reserved",
		`{"to":["squad"]}`: "failed to parse JSON input",
	} {
		if code, out := rawCall(t, c, "POST", "sys/namespaces/team/rename", body); code != 400 || !strings.Contains(out, want) {
			t.Errorf("rename with %s: %d %s", body, code, out)
		}
	}
	if _, err := c.Logical().Write("sys/namespaces/taken", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Logical().Write("sys/namespaces/team/rename", map[string]any{"to": "taken"})
	wantStatus(t, err, 400, `namespace "taken" already exists`)
	if code, out := rawCall(t, c, "POST", "sys/namespaces/nobody/rename", `{"to":"somebody"}`); code != 404 || out != `{"errors":[]}` {
		t.Errorf("rename of a missing namespace: %d %s", code, out)
	}
	if code, _ := rawCall(t, c, "GET", "sys/namespaces/team/rename", ""); code != 405 {
		t.Errorf("GET on rename: %d, want 405", code)
	}
	// Rename: same tenant, same data, same token, new name.
	if _, err := c.Logical().Write("sys/namespaces/team/rename", map[string]any{"to": "squad"}); err != nil {
		t.Fatal(err)
	}
	sq := nsClient(t, p.addr, "squad", tres.RootToken)
	if s, err := sq.Logical().Read("kv/a"); err != nil || s.Data["v"] != "1" {
		t.Fatalf("after rename: %v %v", s, err)
	}
	_, err = tc.Logical().Read("kv/a")
	wantStatus(t, err, 403, "permission denied")
	// Delete, then reuse the name: a new, empty, uninitialised tenant.
	sec, err := c.Logical().Delete("sys/namespaces/squad")
	if err != nil || sec.Data["status"] != "deleted" {
		t.Fatalf("delete: %v %v", sec, err)
	}
	sec, err = c.Logical().Delete("sys/namespaces/squad")
	if err != nil || len(sec.Warnings) != 1 {
		t.Fatalf("second delete: %v %v", sec, err)
	}
	_, err = sq.Logical().Read("kv/a")
	wantStatus(t, err, 403, "permission denied")
	if _, err := c.Logical().Write("sys/namespaces/squad", nil); err != nil {
		t.Fatal(err)
	}
	if st, err := nsClient(t, p.addr, "squad", "").Sys().SealStatus(); err != nil || st.Initialized {
		t.Fatalf("reused name: %+v %v", st, err)
	}
}

// TestTenantCryptoShredding: deleting a tenant destroys its wrapped root
// key and its HSM key, so its records are unreadable at once, in the live
// store and in a copy of the store made before the delete; the records
// are then cleared.
func TestTenantCryptoShredding(t *testing.T) {
	for _, sealType := range []string{"shamir", "auto"} {
		t.Run(sealType, func(t *testing.T) {
			f, cfg, p, c, res := clusterDual(t)
			if _, err := c.Logical().Write("sys/namespaces/doomed", map[string]any{"seal_type": sealType}); err != nil {
				t.Fatal(err)
			}
			tres := initTenant(t, p.addr, "doomed")
			d := nsClient(t, p.addr, "doomed", tres.RootToken)
			if err := d.Sys().Mount("kv", &vault.MountInput{Type: "kv"}); err != nil {
				t.Fatal(err)
			}
			for i := range 2500 / 50 {
				if _, err := d.Logical().Write(fmt.Sprintf("kv/k%d", i), map[string]any{"v": strings.Repeat("s", 100)}); err != nil {
					t.Fatal(err)
				}
			}
			// The copy made before the delete: the store file itself.
			p.stop(t)
			dbPath := filepath.Join(f.dir, "data", "strongroom.db")
			raw, err := os.ReadFile(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			p = startServerEnv(t, f.env(), "-config", cfg)
			c = newClient(t, p.addr)
			for _, k := range res.Keys[:3] {
				c.Sys().Unseal(k)
			}
			c.SetToken(res.RootToken)
			if sec, err := c.Logical().Delete("sys/namespaces/doomed"); err != nil || sec.Data["status"] != "deleted" {
				t.Fatalf("delete: %v %v", sec, err)
			}
			p.stop(t)

			// The live store: nothing of the tenant is left.
			if n := tenantRecords(t, dbPath); n != 0 {
				t.Fatalf("%d records of the deleted tenant remain in the live store", n)
			}

			// The copy: its records are there, and nothing opens them.
			copyDir := t.TempDir()
			copyDB := filepath.Join(copyDir, "data", "strongroom.db")
			os.MkdirAll(filepath.Dir(copyDB), 0o700)
			if err := os.WriteFile(copyDB, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			if n := tenantRecords(t, copyDB); n < 50 {
				t.Fatalf("the copy holds %d records of the tenant", n)
			}
			copyCfg := strings.Replace(mustRead(t, cfg), filepath.Join(f.dir, "data"), filepath.Join(copyDir, "data"), 1)
			cp := startServerEnv(t, f.env(), "-config", writeConfig(t, copyDir, copyCfg))
			cc := newClient(t, cp.addr)
			for _, k := range res.Keys[:3] {
				cc.Sys().Unseal(k)
			}
			u := nsClient(t, cp.addr, "doomed", "")
			st, err := u.Sys().SealStatus()
			if err != nil || !st.Initialized {
				t.Fatalf("copy: the tenant's seal status: %+v %v", st, err)
			}
			if sealType == "shamir" {
				for _, k := range tres.Keys[:3] {
					_, err = u.Sys().Unseal(k)
				}
				if statusCode(err) < 500 {
					t.Fatalf("the copy's tenant unsealed with its shares after the delete: %v", err)
				}
			}
			_, err = nsClient(t, cp.addr, "doomed", tres.RootToken).Logical().Read("kv/k1")
			wantStatus(t, err, 503, "Vault is sealed")
			if st, _ := u.Sys().SealStatus(); !st.Sealed {
				t.Fatal("the copy's tenant is unsealed")
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tenantRecords counts the records of the store at path that belong to
// a tenant other than the root one.
func tenantRecords(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.OpenRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	st := storage.Wrap(db)
	defer st.Close()
	root := seal.TenantPrefix(rootTenantID)
	n := 0
	err = st.View(context.Background(), func(tx storage.ReadTx) error {
		r := storage.PrefixRange(tuple.Pack("t"))
		r.KeysOnly = true
		kvs, err := tx.GetRange(r)
		for _, kv := range kvs {
			if !bytes.HasPrefix(kv.Key, root) {
				n++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTenantSealReachesEveryNode: two nodes on one store. A tenant is
// unsealed on each node (seal state is per node); its operator seals it
// through node 0, and node 1 seals it too within the coherence window,
// while another tenant keeps serving on node 1. Namespace creation and
// deletion through node 0 are seen by node 1 as well.
func TestTenantSealReachesEveryNode(t *testing.T) {
	c := startNodes(t, 2)
	initMounted(t, c, "rootkv", "kv")
	addr := func(i int) string { return c[i].Address() }
	// These nodes have no HSM: auto tenants are refused.
	_, err := c[0].Logical().Write("sys/namespaces/auto", map[string]any{"seal_type": "auto"})
	wantStatus(t, err, 400, "needs the cluster's pkcs11 seal")
	tenantKeys := map[string]*vault.InitResponse{}
	for _, ns := range []string{"one", "two"} {
		if _, err := c[0].Logical().Write("sys/namespaces/"+ns, nil); err != nil {
			t.Fatal(err)
		}
		// Node 1 learns of the namespace within the window.
		waitFor(t, coherenceWindow, func() bool {
			_, err := nsClient(t, addr(1), ns, "").Sys().SealStatus()
			return err == nil
		})
		res := initTenant(t, addr(0), ns)
		tenantKeys[ns] = res
		// Unsealing on node 0 does not unseal node 1.
		if st, _ := nsClient(t, addr(1), ns, "").Sys().SealStatus(); !st.Sealed {
			t.Fatalf("%s: unsealing node 0 unsealed node 1", ns)
		}
		for _, k := range res.Keys[:3] {
			if _, err := nsClient(t, addr(1), ns, "").Sys().Unseal(k); err != nil {
				t.Fatal(err)
			}
		}
		tc := nsClient(t, addr(0), ns, res.RootToken)
		if err := tc.Sys().Mount("kv", &vault.MountInput{Type: "kv"}); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.Logical().Write("kv/x", map[string]any{"v": ns}); err != nil {
			t.Fatal(err)
		}
	}
	one1 := nsClient(t, addr(1), "one", tenantKeys["one"].RootToken)
	waitFor(t, coherenceWindow, func() bool {
		s, err := one1.Logical().Read("kv/x")
		return err == nil && s != nil && s.Data["v"] == "one"
	})
	if err := nsClient(t, addr(0), "one", tenantKeys["one"].RootToken).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, coherenceWindow, func() bool {
		_, err := one1.Logical().Read("kv/x")
		return statusCode(err) == 503
	})
	t.Logf("the seal reached node 1 in %v", time.Since(start).Round(time.Millisecond))
	if s, err := nsClient(t, addr(1), "two", tenantKeys["two"].RootToken).Logical().Read("kv/x"); err != nil || s.Data["v"] != "two" {
		t.Fatalf("the other tenant on node 1: %v %v", s, err)
	}
	// Unsealed again on node 1 with its keys; deleted through node 0, it
	// is gone from node 1 within the window.
	for _, k := range tenantKeys["one"].Keys[:3] {
		nsClient(t, addr(1), "one", "").Sys().Unseal(k)
	}
	if s, err := one1.Logical().Read("kv/x"); err != nil || s.Data["v"] != "one" {
		t.Fatalf("after unsealing node 1 again: %v %v", s, err)
	}
	if _, err := c[0].Logical().Delete("sys/namespaces/one"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		_, err := one1.Logical().Read("kv/x")
		return statusCode(err) == 403
	})
}
