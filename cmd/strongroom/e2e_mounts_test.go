package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// TestMountInfoShape: `vault secrets list -detailed` and `vault read
// sys/mounts/<path>` see a mount as Vault reports it (SystemBackend.
// mountInfo): deprecation_status "supported" for the built-in engines, and
// options null for a mount enabled without any.
func TestMountInfoShape(t *testing.T) {
	_, c, _ := kvServer(t)
	// vault secrets enable transit
	if err := c.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	l, err := c.Sys().ListMounts()
	if err != nil {
		t.Fatal(err)
	}
	for path, wantOpts := range map[string]map[string]string{"transit/": nil, "secret/": {"version": "2"}} {
		m := l[path]
		if m == nil {
			t.Fatalf("%s not listed: %v", path, l)
		}
		if m.DeprecationStatus != "supported" || (wantOpts == nil) != (m.Options == nil) || m.Options["version"] != wantOpts["version"] {
			t.Fatalf("%s listed as %+v", path, m)
		}
	}
	// vault read sys/mounts/transit
	s, err := c.Logical().Read("sys/mounts/transit")
	if err != nil {
		t.Fatal(err)
	}
	if opts, ok := s.Data["options"]; !ok || opts != nil || s.Data["deprecation_status"] != "supported" {
		t.Fatalf("sys/mounts/transit: %v", s.Data)
	}
	// vault secrets tune -default-lease-ttl=1h transit, then read tune
	if err := c.Sys().TuneMountAllowNil("transit", vault.TuneMountConfigInput{DefaultLeaseTTL: ptr("1h")}); err != nil {
		t.Fatal(err)
	}
	s, err = c.Logical().Read("sys/mounts/transit/tune")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Data["options"]; ok {
		t.Fatalf("sys/mounts/transit/tune reports options: %v", s.Data)
	}
	s, err = c.Logical().Read("sys/mounts/secret/tune")
	if err != nil {
		t.Fatal(err)
	}
	if opts, _ := s.Data["options"].(map[string]any); opts["version"] != "2" {
		t.Fatalf("sys/mounts/secret/tune: %v", s.Data)
	}
	// vault secrets enable kv: version 1, with no version kept (as Vault).
	if err := c.Sys().Mount("kv", &vault.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Sys().GetMount("kv"); err != nil || m.Options != nil {
		t.Fatalf("plain kv mount: %+v %v", m, err)
	}
	if mp, v := cliPreflight(t, c, "kv/x"); mp != "kv/" || v != "" {
		t.Fatalf("plain kv preflight: %q %q", mp, v)
	}
	if _, err := c.Logical().Write("kv/x", map[string]any{"a": "b"}); err != nil {
		t.Fatalf("kv v1 write on a plain kv mount: %v", err)
	}
	// vault secrets enable -version=2 transit
	err = c.Sys().Mount("t2", &vault.MountInput{Type: "transit", Options: map[string]string{"version": "2"}})
	wantStatus(t, err, 400, `secrets engine "transit" does not allow setting a version`)
}

// TestAuthListAccessors: `vault auth list` shows accessors in Vault's form,
// auth_<type>_<8 hex> (the token store's the same on every read), and
// secrets engines keep <type>_<8 hex>.
func TestAuthListAccessors(t *testing.T) {
	_, c, _ := kvServer(t)
	// vault auth enable approle
	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	var tokenAcc string
	for range 2 {
		l, err := c.Sys().ListAuth()
		if err != nil {
			t.Fatal(err)
		}
		tok, ar := l["token/"], l["approle/"]
		if tok == nil || ar == nil {
			t.Fatalf("auth list: %v", l)
		}
		if !regexp.MustCompile(`^auth_token_[0-9a-f]{8}$`).MatchString(tok.Accessor) || (tokenAcc != "" && tok.Accessor != tokenAcc) ||
			!regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(tok.UUID) {
			t.Fatalf("token/: accessor %q (before %q), uuid %q", tok.Accessor, tokenAcc, tok.UUID)
		}
		tokenAcc = tok.Accessor
		if !regexp.MustCompile(`^auth_approle_[0-9a-f]{8}$`).MatchString(ar.Accessor) {
			t.Fatalf("approle/ accessor %q", ar.Accessor)
		}
	}
	m, err := c.Sys().ListMounts()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^kv_[0-9a-f]{8}$`).MatchString(m["secret/"].Accessor) {
		t.Fatalf("secret/ accessor %q", m["secret/"].Accessor)
	}
}

// TestMountWriteTakesCLIStrings: `vault write sys/mounts/x type=kv
// local=true` sends the flag as a string, which Vault's framework reads as
// a boolean; so does `vault write sys/audit/f type=file local=true ...`.
func TestMountWriteTakesCLIStrings(t *testing.T) {
	_, c, _ := kvServer(t)
	if _, err := c.Logical().Write("sys/mounts/x", map[string]any{"type": "kv", "local": "true", "seal_wrap": "false"}); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Sys().GetMount("x"); err != nil || !m.Local || m.SealWrap {
		t.Fatalf("mount: %+v %v", m, err)
	}
	if _, err := c.Logical().Write("sys/audit/f", map[string]any{"type": "file", "local": "false", "options": map[string]any{"file_path": "discard"}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Logical().Write("sys/mounts/y", map[string]any{"type": "kv", "local": "nope"})
	wantStatus(t, err, 400, "")
}

// TestMethodNotAllowedTexts: a method a logical path does not serve is 405
// "1 error occurred: * unsupported operation", as Vault's router answers;
// the sys/ endpoints Vault serves with its own HTTP handlers (sys/health,
// sys/seal-status, ...) answer 405 with an empty error list.
func TestMethodNotAllowedTexts(t *testing.T) {
	p, c, _ := kvServer(t)
	if err := c.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"transit/encrypt/k", "sys/rotate"} {
		_, err := c.Logical().Read(path)
		var re *vault.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusMethodNotAllowed || len(re.Errors) != 1 || re.Errors[0] != "1 error occurred:\n\t* unsupported operation\n\n" {
			t.Fatalf("GET %s: %#v", path, err)
		}
	}
	for _, path := range []string{"sys/health", "sys/seal-status"} {
		req, _ := http.NewRequest(http.MethodPatch, p.addr+"/v1/"+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || strings.TrimSpace(string(body)) != `{"errors":[]}` {
			t.Fatalf("PATCH %s: %d %s", path, resp.StatusCode, body)
		}
	}
}

// TestUnsupportedPathText: a path a mounted engine does not have is 404
// "1 error occurred: * unsupported path", Vault's router text; a path
// under no mount keeps "no handler for route".
func TestUnsupportedPathText(t *testing.T) {
	_, c, _ := kvServer(t)
	if err := c.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"transit/nope":    "1 error occurred:\n\t* unsupported path\n\n",
		"auth/token/nope": "1 error occurred:\n\t* unsupported path\n\n",
		"nomount/x":       `no handler for route "nomount/x". route entry not found.`,
	} {
		_, err := c.Logical().Write(path, map[string]any{"a": "b"})
		var re *vault.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound || len(re.Errors) != 1 || re.Errors[0] != want {
			t.Fatalf("PUT %s: %#v", path, err)
		}
	}
}

// TestDisableSystemPaths: `vault secrets disable sys` and `vault auth
// disable token` are refused with Vault's 400s.
func TestDisableSystemPaths(t *testing.T) {
	_, c, _ := kvServer(t)
	wantStatus(t, c.Sys().Unmount("sys"), http.StatusBadRequest, `cannot unmount "sys/"`)
	wantStatus(t, c.Sys().Unmount("cubbyhole"), http.StatusBadRequest, `cannot unmount "cubbyhole/"`)
	wantStatus(t, c.Sys().DisableAuth("token"), http.StatusBadRequest, "token credential backend cannot be disabled")
}

func ptr[T any](v T) *T { return &v }

// TestAuthTune: the tune read of an auth method (`vault read
// sys/auth/token/tune`; Terraform's provider reads sys/mounts/auth/<path>/tune
// when it refreshes an auth backend) answers Vault's fields; `vault auth
// tune` sets an AppRole mount's TTLs, which bound its logins' tokens, and
// the token store's, which bound auth/token/create; sudo is needed on
// sys/auth/*, as in Vault.
func TestAuthTune(t *testing.T) {
	_, c, _ := kvServer(t)
	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"sys/auth/token/tune", "sys/mounts/auth/token/tune", "sys/auth/approle/tune", "sys/mounts/auth/approle/tune"} {
		s, err := c.Logical().Read(path)
		if err != nil || s == nil || s.Data["default_lease_ttl"] != json.Number("2764800") || s.Data["max_lease_ttl"] != json.Number("2764800") ||
			s.Data["token_type"] != "default-service" {
			t.Fatalf("%s: %v %v", path, s, err)
		}
	}
	if cfg, err := c.Sys().MountConfig("auth/approle"); err != nil || cfg.DefaultLeaseTTL != 2764800 {
		t.Fatalf("MountConfig: %+v %v", cfg, err)
	}
	_, err := c.Logical().Read("sys/auth/nope/tune")
	wantStatus(t, err, http.StatusBadRequest, `cannot fetch sysview for path "auth/nope/"`)

	// A role without TTLs, and one asking for more than the mount allows.
	lg := c.Logical()
	login := func(role string) *vault.Secret {
		t.Helper()
		return approleLogin(t, c, role, map[string]any{"token_policies": "default", "token_ttl": map[string]string{"plain": "0", "long": "3h"}[role]})
	}
	if s := login("plain"); s.Auth.LeaseDuration != 2764800 {
		t.Fatalf("untuned: lease %d", s.Auth.LeaseDuration)
	}
	// vault auth tune -default-lease-ttl=30m -max-lease-ttl=2h approle/
	// (the CLI writes sys/mounts/auth/approle/tune)
	if err := c.Sys().TuneMountAllowNil("auth/approle", vault.TuneMountConfigInput{DefaultLeaseTTL: ptr("30m"), MaxLeaseTTL: ptr("2h")}); err != nil {
		t.Fatal(err)
	}
	if s := login("plain"); s.Auth.LeaseDuration != 1800 || len(s.Warnings) != 0 {
		t.Fatalf("the mount's default: lease %d, warnings %v", s.Auth.LeaseDuration, s.Warnings)
	}
	s := login("long")
	if s.Auth.LeaseDuration != 7200 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], `TTL of "3h" exceeded the effective max_ttl of "2h"`) {
		t.Fatalf("capped by the mount's max: lease %d, warnings %v", s.Auth.LeaseDuration, s.Warnings)
	}
	// A renewal stops at the mount's max too.
	tc, _ := c.Clone()
	tc.SetToken(s.Auth.ClientToken)
	if r, err := tc.Auth().Token().RenewSelf(int((5 * time.Hour).Seconds())); err != nil || r.Auth.LeaseDuration > 7200 {
		t.Fatalf("renewal past the mount's max: %+v %v", r, err)
	}
	for _, path := range []string{"sys/auth/approle/tune", "sys/mounts/auth/approle/tune"} {
		if s, err := lg.Read(path); err != nil || s.Data["default_lease_ttl"] != json.Number("1800") || s.Data["max_lease_ttl"] != json.Number("7200") {
			t.Fatalf("%s after the tune: %v %v", path, s, err)
		}
	}
	// The client's older TuneMount (MountConfigInput) sends "" for a
	// field not given: it keeps the value.
	oldTune := func(path string, def, max string) {
		t.Helper()
		if _, err := lg.Write("sys/mounts/"+path+"/tune", map[string]any{"default_lease_ttl": def, "max_lease_ttl": max, "description": nil}); err != nil {
			t.Fatal(err)
		}
	}
	oldTune("auth/approle", "", "3h")
	if s, err := lg.Read("sys/auth/approle/tune"); err != nil || s.Data["default_lease_ttl"] != json.Number("1800") || s.Data["max_lease_ttl"] != json.Number("10800") {
		t.Fatalf("after tuning only the max: %v %v", s, err)
	}
	// "system" resets; a default above the max is refused, and so is a
	// token type other than service.
	if _, err := lg.Write("sys/auth/approle/tune", map[string]any{"default_lease_ttl": "system", "description": "ci logins"}); err != nil {
		t.Fatal(err)
	}
	if s, err := lg.Read("sys/auth/approle/tune"); err != nil || s.Data["default_lease_ttl"] != json.Number("2764800") || s.Data["description"] != "ci logins" {
		t.Fatalf("after system: %v %v", s, err)
	}
	_, err = lg.Write("sys/auth/approle/tune", map[string]any{"default_lease_ttl": "5h"})
	wantStatus(t, err, http.StatusBadRequest, "backend max lease TTL of 10800 would be less than backend default lease TTL of 18000")
	_, err = lg.Write("sys/auth/approle/tune", map[string]any{"token_type": "batch"})
	wantStatus(t, err, http.StatusBadRequest, `token type "batch" is not supported`)
	_, err = lg.Write("sys/mounts/secret/tune", map[string]any{"token_type": "service"})
	wantStatus(t, err, http.StatusBadRequest, "'token_type' can only be modified on auth mounts")
	// vault auth tune -default-lease-ttl=1h -max-lease-ttl=4h token/: the
	// token store's own tokens take them, renewals included.
	if err := c.Sys().TuneMountAllowNil("auth/token", vault.TuneMountConfigInput{DefaultLeaseTTL: ptr("1h"), MaxLeaseTTL: ptr("4h"), Description: ptr("tokens")}); err != nil {
		t.Fatal(err)
	}
	if s, err := lg.Read("sys/auth/token/tune"); err != nil || s.Data["default_lease_ttl"] != json.Number("3600") ||
		s.Data["max_lease_ttl"] != json.Number("14400") || s.Data["description"] != "tokens" {
		t.Fatalf("token/ after the tune: %v %v", s, err)
	}
	if m, err := c.Sys().ListAuth(); err != nil || m["token/"].Config.DefaultLeaseTTL != 3600 || m["token/"].Description != "tokens" {
		t.Fatalf("sys/auth after the tune: %+v %v", m["token/"], err)
	}
	tk, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil || tk.Auth.LeaseDuration != 3600 || len(tk.Warnings) != 0 {
		t.Fatalf("token create after the tune: %+v %v", tk, err)
	}
	tk, err = c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}, TTL: "10h"})
	if err != nil || tk.Auth.LeaseDuration != 14400 || len(tk.Warnings) != 1 || !strings.Contains(tk.Warnings[0], `TTL of "10h" exceeded the effective max_ttl of "4h"`) {
		t.Fatalf("token create above the max: %+v %v", tk, err)
	}
	ren, err := c.Auth().Token().Renew(tk.Auth.ClientToken, int((9 * time.Hour).Seconds()))
	if err != nil || ren.Auth.LeaseDuration > 14400 {
		t.Fatalf("renewal above the max: %+v %v", ren, err)
	}
	_, err = lg.Write("sys/auth/token/tune", map[string]any{"default_lease_ttl": "5h"})
	wantStatus(t, err, http.StatusBadRequest, "backend max lease TTL of 14400 would be less than backend default lease TTL of 18000")
	if _, err := lg.Write("sys/auth/token/tune", map[string]any{"default_lease_ttl": "system", "max_lease_ttl": "system"}); err != nil {
		t.Fatal(err)
	}
	if tk, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}}); err != nil || tk.Auth.LeaseDuration != 2764800 {
		t.Fatalf("token create after the reset: %+v %v", tk, err)
	}

	// vault secrets tune -default-lease-ttl=1h secret/, then -max-lease-ttl=2h:
	// the second keeps the first.
	oldTune("secret", "1h", "")
	oldTune("secret", "", "2h")
	if s, err := lg.Read("sys/mounts/secret/tune"); err != nil || s.Data["default_lease_ttl"] != json.Number("3600") || s.Data["max_lease_ttl"] != json.Number("7200") {
		t.Fatalf("secret/ after two tunes: %v %v", s, err)
	}

	rd := policyClient(t, c, "reader", `path "sys/auth/*" { capabilities = ["read"] }`)
	_, err = rd.Logical().Read("sys/auth/token/tune")
	wantStatus(t, err, http.StatusForbidden, "permission denied")
}

// TestVersionHistory makes `vault version-history`'s call: LIST
// sys/version-history names the running version with its installation
// time; GET is 405 (TestTenantIsolationTable: a namespace has no such
// path).
func TestVersionHistory(t *testing.T) {
	_, c, _ := kvServer(t)
	s, err := c.Logical().List("sys/version-history")
	if err != nil || s == nil {
		t.Fatalf("list: %v %v", s, err)
	}
	keys, _ := s.Data["keys"].([]any)
	info, _ := s.Data["key_info"].(map[string]any)
	if len(keys) != 1 || keys[0] != version {
		t.Fatalf("keys %v, want [%s]", keys, version)
	}
	v, _ := info[version].(map[string]any)
	ts, _ := v["timestamp_installed"].(string)
	if at, err := time.Parse(time.RFC3339, ts); err != nil || time.Since(at) > time.Minute || v["previous_version"] != nil {
		t.Fatalf("key_info: %v", v)
	}
	_, err = c.Logical().Read("sys/version-history")
	wantStatus(t, err, http.StatusMethodNotAllowed, "unsupported operation")
}
