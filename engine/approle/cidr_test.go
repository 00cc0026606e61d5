package approle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
)

// loginFrom logs in as a client at remote ("host:port").
func (e *env) loginFrom(t *testing.T, remote, body string) (*engine.Response, error) {
	t.Helper()
	return e.b.HandleRequest(context.Background(), &engine.Request{Operation: engine.OpUpdate, Path: "login", Body: []byte(body), RemoteAddr: remote})
}

// tokenEntry is the stored entry of a login's token.
func (e *env) tokenEntry(t *testing.T, tok string) *token.Entry {
	t.Helper()
	var te *token.Entry
	if err := e.bar.View(context.Background(), func(tx *seal.ReadTx) error {
		var err error
		te, err = token.Lookup(tx, tok, e.now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return te
}

// TestLoginCIDRBindings: Vault's AppRole CIDR constraints. A secret ID's
// cidr_list and token_bound_cidrs must lie inside the role's; a login must
// come from both the secret ID's and the role's blocks, and a refused one
// uses nothing up; the token is bound to the secret ID's token blocks, or
// else the role's.
func TestLoginCIDRBindings(t *testing.T) {
	e := newEnv(t)
	e.must(t, engine.OpUpdate, "role/web", `{"token_policies":"app","secret_id_bound_cidrs":"10.0.0.0/8","token_bound_cidrs":["10.1.0.0/16"]}`)
	roleID := data(e.must(t, engine.OpRead, "role/web/role-id", ""))["role_id"].(string)

	for body, want := range map[string]string{
		`{"cidr_list":"11.0.0.0/8"}`:          "failed to verify subset relationship",
		`{"cidr_list":"10.0.0.0/7"}`:          "failed to verify subset relationship",
		`{"token_bound_cidrs":"10.3.0.0/16"}`: "failed to verify subset relationship",
		`{"cidr_list":"10.0.0.1"}`:            "failed to validate CIDR blocks: invalid CIDR address: 10.0.0.1",
		`{"token_bound_cidrs":"10.1.0.0/99"}`: "failed to validate token CIDR blocks",
	} {
		if _, err := e.do(t, engine.OpUpdate, "role/web/secret-id", body); !errors.Is(err, engine.ErrBadRequest) || !strings.Contains(err.Error(), want) {
			t.Errorf("secret-id %s: %v, want a 400 with %q", body, err, want)
		}
	}
	if _, err := e.do(t, engine.OpList, "role/web/secret-id", ""); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a refused secret-id was stored: %v", err)
	}

	narrow := data(e.must(t, engine.OpUpdate, "role/web/secret-id", `{"cidr_list":"10.2.0.0/16","token_bound_cidrs":"10.1.2.0/24","num_uses":2}`))
	loginBody := fmt.Sprintf(`{"role_id":%q,"secret_id":%q}`, roleID, narrow["secret_id"])
	look := data(e.must(t, engine.OpUpdate, "role/web/secret-id/lookup", fmt.Sprintf(`{"secret_id":%q}`, narrow["secret_id"])))
	if fmt.Sprint(look["cidr_list"], look["token_bound_cidrs"]) != "[10.2.0.0/16] [10.1.2.0/24]" {
		t.Fatalf("secret-id lookup: %v", look)
	}

	for remote, want := range map[string]string{
		"10.3.0.1:5000":    `source address "10.3.0.1" unauthorized by CIDR restrictions on the secret ID`, // use-limited: Vault's "by"
		"192.168.0.1:5000": `source address "192.168.0.1" unauthorized by CIDR restrictions on the role`,
		"":                 `source address "" unauthorized by CIDR restrictions on the role`,
	} {
		if _, err := e.loginFrom(t, remote, loginBody); !errors.Is(err, engine.ErrBadRequest) || err.Error() != want {
			t.Errorf("login from %q: %v, want %q", remote, err, want)
		}
	}
	look = data(e.must(t, engine.OpUpdate, "role/web/secret-id/lookup", fmt.Sprintf(`{"secret_id":%q}`, narrow["secret_id"])))
	if look["secret_id_num_uses"] != 2 {
		t.Fatalf("refused logins used the secret ID: %v uses left", look["secret_id_num_uses"])
	}
	resp, err := e.loginFrom(t, "10.2.0.5:5000", loginBody)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.tokenEntry(t, resp.Auth.ClientToken).BoundCIDRs; !slices.Equal(got, []string{"10.1.2.0/24"}) {
		t.Fatalf("token bound to %q, want the secret ID's blocks", got)
	}

	// A secret ID without token blocks: the role's bind the token.
	plain := data(e.must(t, engine.OpUpdate, "role/web/secret-id", ""))
	resp, err = e.loginFrom(t, "10.9.9.9:1", fmt.Sprintf(`{"role_id":%q,"secret_id":%q}`, roleID, plain["secret_id"]))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.tokenEntry(t, resp.Auth.ClientToken).BoundCIDRs; !slices.Equal(got, []string{"10.1.0.0/16"}) {
		t.Fatalf("token bound to %q, want the role's blocks", got)
	}

	// The role narrowed after the secret ID was made: Vault checks the
	// subset again at login.
	e.must(t, engine.OpUpdate, "role/web", `{"secret_id_bound_cidrs":"10.2.0.0/24"}`)
	if _, err := e.loginFrom(t, "10.2.0.5:5000", loginBody); !errors.Is(err, engine.ErrBadRequest) || !strings.Contains(err.Error(), "subset") {
		t.Fatalf("login with a secret ID outside the narrowed role: %v", err)
	}
}

// TestLoginWithoutSecretID: a role whose constraint is its blocks logs in
// with the role ID alone, from inside them only.
func TestLoginWithoutSecretID(t *testing.T) {
	e := newEnv(t)
	if _, err := e.do(t, engine.OpUpdate, "role/svc", `{"bind_secret_id":false}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("a role with no constraint: %v", err)
	}
	e.must(t, engine.OpUpdate, "role/svc", `{"bind_secret_id":false,"secret_id_bound_cidrs":["127.0.0.1/32"],"token_no_default_policy":true,"token_policies":"app","token_explicit_max_ttl":"5m","token_ttl":"1h"}`)
	r := data(e.must(t, engine.OpRead, "role/svc", ""))
	if r["token_no_default_policy"] != true || r["token_explicit_max_ttl"] != int64(300) {
		t.Fatalf("role read: %v", r)
	}
	roleID := data(e.must(t, engine.OpRead, "role/svc/role-id", ""))["role_id"].(string)
	body := fmt.Sprintf(`{"role_id":%q}`, roleID)
	if _, err := e.loginFrom(t, "127.0.0.2:1", body); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("login from outside the role's block: %v", err)
	}
	resp, err := e.loginFrom(t, "127.0.0.1:1", body)
	if err != nil {
		t.Fatal(err)
	}
	if a := resp.Auth; !slices.Equal(a.Policies, []string{"app"}) || a.LeaseDuration != 300 {
		t.Fatalf("login: policies %q, lease %d s (want [app] and the explicit max 300)", a.Policies, a.LeaseDuration)
	}
	if te := e.tokenEntry(t, resp.Auth.ClientToken); te.ExplicitMaxTTL != 5*time.Minute || te.BoundCIDRs != nil {
		t.Fatalf("token: explicit max %v, bound %q", te.ExplicitMaxTTL, te.BoundCIDRs)
	}
	// A periodic role's tokens stop at the explicit max too.
	e.must(t, engine.OpUpdate, "role/svc", `{"token_period":"1m"}`)
	resp, err = e.loginFrom(t, "127.0.0.1:1", body)
	if err != nil {
		t.Fatal(err)
	}
	if te := e.tokenEntry(t, resp.Auth.ClientToken); te.Period != time.Minute || te.ExplicitMaxTTL != 5*time.Minute {
		t.Fatalf("periodic token: period %v, explicit max %v", te.Period, te.ExplicitMaxTTL)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/b", `{"token_type":"batch","token_explicit_max_ttl":60}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("a batch role with an explicit max TTL: %v", err)
	}
}

// TestCustomSecretID: role/<name>/custom-secret-id registers the caller's
// secret ID (stored, like a generated one, only as its keyed hash), which
// logs in; the same one twice, none, or an overlong one is a 400 that
// writes nothing, and a role without bind_secret_id takes no secret ID of
// either kind.
func TestCustomSecretID(t *testing.T) {
	e := newEnv(t)
	e.must(t, engine.OpUpdate, "role/web", `{"token_policies":"app"}`)
	roleID := data(e.must(t, engine.OpRead, "role/web/role-id", ""))["role_id"].(string)
	d := data(e.must(t, engine.OpUpdate, "role/web/custom-secret-id", `{"secret_id":"my-own-secret","num_uses":1,"metadata":"{\"host\":\"a\"}"}`))
	if d["secret_id"] != "my-own-secret" || d["secret_id_accessor"] == "" || d["secret_id_num_uses"] != 1 {
		t.Fatalf("custom-secret-id: %v", d)
	}
	for body, want := range map[string]string{
		`{"secret_id":"my-own-secret"}`: "failed to store secret_id: SecretID is already registered",
		`{}`:                            "missing secret_id",
		fmt.Sprintf(`{"secret_id":%q}`, strings.Repeat("x", 4097)): "secret_id is longer than the maximum of 4096 bytes",
	} {
		if _, err := e.do(t, engine.OpUpdate, "role/web/custom-secret-id", body); !errors.Is(err, engine.ErrBadRequest) || err.Error() != want {
			t.Errorf("custom-secret-id %.40s: %v, want %q", body, err, want)
		}
	}
	if keys := data(e.must(t, engine.OpList, "role/web/secret-id", ""))["keys"].([]string); len(keys) != 1 {
		t.Fatalf("secret IDs after the refusals: %q", keys)
	}
	resp, err := e.loginFrom(t, "127.0.0.1:1", fmt.Sprintf(`{"role_id":%q,"secret_id":"my-own-secret"}`, roleID))
	if err != nil || resp.Auth.Metadata["host"] != "a" {
		t.Fatalf("login with the custom secret ID: %+v %v", resp, err)
	}
	if _, err := e.loginFrom(t, "127.0.0.1:1", fmt.Sprintf(`{"role_id":%q,"secret_id":"my-own-secret"}`, roleID)); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("second login with a one-use secret ID: %v", err)
	}

	e.must(t, engine.OpUpdate, "role/open", `{"bind_secret_id":false,"secret_id_bound_cidrs":"127.0.0.0/8"}`)
	for _, path := range []string{"role/open/secret-id", "role/open/custom-secret-id"} {
		if _, err := e.do(t, engine.OpUpdate, path, `{"secret_id":"s"}`); !errors.Is(err, engine.ErrBadRequest) || err.Error() != "bind_secret_id is not set on the role" {
			t.Errorf("%s on a role without bind_secret_id: %v", path, err)
		}
	}
}
