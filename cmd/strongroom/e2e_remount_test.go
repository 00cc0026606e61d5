package main

import (
	"net/http"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestSecretsMove makes the calls of `vault secrets move` and `vault auth
// move` (sys/remount, then sys/remount/status/<id> until a terminal
// status): the data and roles follow the mount, the old path is gone, and
// Vault's refusals hold.
func TestSecretsMove(t *testing.T) {
	_, c, _ := kvServer(t)
	sys, lg := c.Sys(), c.Logical()
	// vault secrets enable -path=foo -version=2 kv, and a secret in it
	if err := sys.Mount("foo", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Write("foo/data/app", map[string]any{"data": map[string]any{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	// vault secrets move foo bar
	out, err := sys.StartRemount("foo", "bar")
	if err != nil || out.MigrationID == "" {
		t.Fatalf("start: %+v %v", out, err)
	}
	st, err := sys.RemountStatus(out.MigrationID)
	if err != nil || st.MigrationInfo == nil || st.MigrationInfo.MigrationStatus != "success" ||
		st.MigrationInfo.SourceMount != "foo/" || st.MigrationInfo.TargetMount != "bar/" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if s, err := lg.Read("bar/data/app"); err != nil || s == nil || s.Data["data"].(map[string]any)["k"] != "v" {
		t.Fatalf("the secret at the new path: %v %v", s, err)
	}
	if m, err := sys.ListMounts(); err != nil || m["foo/"] != nil || m["bar/"] == nil || m["bar/"].Options["version"] != "2" {
		t.Fatalf("mounts after the move: %v %v", m, err)
	}
	if s, err := lg.Read("foo/data/app"); s != nil || err != nil {
		t.Fatalf("the old path still answers: %v %v", s, err)
	}

	// vault auth enable approle; vault write auth/approle/role/r ...; vault auth move auth/approle auth/ar2
	if err := sys.EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Write("auth/approle/role/r", map[string]any{"token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.StartRemount("auth/approle", "auth/ar2"); err != nil {
		t.Fatal(err)
	}
	if s, err := lg.Read("auth/ar2/role/r/role-id"); err != nil || s == nil || s.Data["role_id"] == "" {
		t.Fatalf("the role at the new auth path: %v %v", s, err)
	}

	for _, tc := range []struct{ from, to, want string }{
		{"", "x", "both 'from' and 'to' path must be specified"},
		{"nope", "x", `no matching mount at "nope/"`},
		{"bar", "secret", `path already in use at "secret/"`},
		{"bar", "bar/sub", `path already in use at "bar/"`},
		{"sys", "x", `cannot remount "sys/"`},
		{"bar", "cubbyhole/x", "cannot remount to destination cubbyhole/x/"},
		{"auth/token", "auth/t2", `cannot remount "auth/token/"`},
		{"auth/ar2", "ar3", `cannot remount auth mount to non-auth mount "ar3/"`},
		{"bar", "auth/x", "cannot remount to destination auth/x/"},
	} {
		_, err := sys.StartRemount(tc.from, tc.to)
		wantStatus(t, err, http.StatusBadRequest, tc.want)
	}
	_, err = sys.RemountStatus("no-such-id")
	wantStatus(t, err, http.StatusNotFound, "")

	// sudo is needed.
	mover := policyClient(t, c, "mover", `path "sys/remount" { capabilities = ["update"] }`)
	_, err = mover.Sys().StartRemount("bar", "baz")
	wantStatus(t, err, http.StatusForbidden, "permission denied")
}
