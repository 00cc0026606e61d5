package approle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/sealtest"
	"github.com/strongroom/strongroom/storage/tuple"
)

type env struct {
	b   *Backend
	bar *seal.Barrier
	now time.Time
}

func newEnv(t testing.TB) *env {
	t.Helper()
	bar := sealtest.Unsealed(t)
	be, _ := Factory(&mounts.Entry{Path: "approle/"}, bar.Sub(tuple.Pack("auth", "a")))
	e := &env{b: be.(*Backend), bar: bar, now: time.Unix(1_800_000_000, 0)}
	e.b.now = func() time.Time { return e.now }
	return e
}

func (e *env) do(t testing.TB, op engine.Operation, path, body string) (*engine.Response, error) {
	t.Helper()
	return e.b.HandleRequest(context.Background(), &engine.Request{Operation: op, Path: path, Body: []byte(body)})
}

func (e *env) must(t *testing.T, op engine.Operation, path, body string) *engine.Response {
	t.Helper()
	r, err := e.do(t, op, path, body)
	if err != nil {
		t.Fatalf("%v %s %s: %v", op, path, body, err)
	}
	return r
}

func data(r *engine.Response) map[string]any { return r.Data.(map[string]any) }

func TestRoleCRUDAndLogin(t *testing.T) {
	e := newEnv(t)
	e.must(t, engine.OpUpdate, "role/web", `{"token_policies":"app,db","token_ttl":"10m","token_max_ttl":"1h","secret_id_ttl":"2m","secret_id_num_uses":"2"}`)
	r := data(e.must(t, engine.OpRead, "role/web", ""))
	if r["token_ttl"] != int64(600) || r["token_max_ttl"] != int64(3600) || r["secret_id_num_uses"] != 2 || r["bind_secret_id"] != true {
		t.Fatalf("role: %v", r)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/web", `{"token_ttl":"2h"}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("token_ttl over token_max_ttl: %v", err)
	}
	roleID := data(e.must(t, engine.OpRead, "role/web/role-id", ""))["role_id"].(string)
	sec := data(e.must(t, engine.OpUpdate, "role/web/secret-id", `{"metadata":"{\"host\":\"a\"}"}`))
	secretID, acc := sec["secret_id"].(string), sec["secret_id_accessor"].(string)
	look := data(e.must(t, engine.OpUpdate, "role/web/secret-id/lookup", `{"secret_id":"`+secretID+`"}`))
	if look["secret_id_accessor"] != acc || look["secret_id_num_uses"] != 2 || look["metadata"].(map[string]string)["host"] != "a" {
		t.Fatalf("lookup: %v", look)
	}
	if l := data(e.must(t, engine.OpList, "role/web/secret-id/", ""))["keys"].([]string); len(l) != 1 || l[0] != acc {
		t.Fatalf("list secret ids: %v", l)
	}
	login := func(rid, sid string) (*engine.Response, error) {
		return e.do(t, engine.OpUpdate, "login", `{"role_id":"`+rid+`","secret_id":"`+sid+`"}`)
	}
	resp, err := login(roleID, secretID)
	if err != nil {
		t.Fatal(err)
	}
	a := resp.Auth
	if a.LeaseDuration != 600 || strings.Join(a.Policies, ",") != "app,db,default" || a.Metadata["role_name"] != "web" || a.Metadata["host"] != "a" || !a.Orphan {
		t.Fatalf("login auth: %+v", a)
	}
	// The token is in the tenant's token store.
	if err := e.bar.View(context.Background(), func(tx *seal.ReadTx) error {
		_, err := token.Lookup(tx, a.ClientToken, e.now)
		return err
	}); err != nil {
		t.Fatalf("login token not in the token store: %v", err)
	}
	// Wrong inputs: one message for both.
	_, e1 := login(roleID, "nope")
	_, e2 := login("nope", secretID)
	if !errors.Is(e1, engine.ErrBadRequest) || e1.Error() != e2.Error() {
		t.Fatalf("wrong secret %v / wrong role %v", e1, e2)
	}
	// secret_id_num_uses=2: the second login is the last.
	if _, err := login(roleID, secretID); err != nil {
		t.Fatal(err)
	}
	if _, err := login(roleID, secretID); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("third login with a 2-use secret ID: %v", err)
	}
	// secret_id_ttl: expired after 2 minutes.
	sid2 := data(e.must(t, engine.OpUpdate, "role/web/secret-id", ``))["secret_id"].(string)
	e.now = e.now.Add(3 * time.Minute)
	if _, err := login(roleID, sid2); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("login with an expired secret ID: %v", err)
	}
	// destroy.
	sid3 := data(e.must(t, engine.OpUpdate, "role/web/secret-id", ``))["secret_id"].(string)
	e.must(t, engine.OpUpdate, "role/web/secret-id/destroy", `{"secret_id":"`+sid3+`"}`)
	if _, err := login(roleID, sid3); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("login with a destroyed secret ID: %v", err)
	}
	// bind_secret_id=false is refused, and nothing is written: this
	// AppRole binds no CIDRs, so the role ID alone would log in, and Vault
	// wants at least one constraint (validateRoleConstraints).
	for _, path := range []string{"role/open", "role/web/bind-secret-id"} {
		_, err := e.do(t, engine.OpUpdate, path, `{"bind_secret_id":"false","policies":["x"],"period":"5m"}`)
		if !errors.Is(err, engine.ErrBadRequest) || err.Error() != "at least one constraint should be enabled on the role" {
			t.Fatalf("%s with bind_secret_id=false: %v", path, err)
		}
	}
	if _, err := e.do(t, engine.OpRead, "role/open", ""); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the refused role was written: %v", err)
	}
	if data(e.must(t, engine.OpRead, "role/web", ""))["bind_secret_id"] != true {
		t.Fatal("the refused field write was applied")
	}
	e.must(t, engine.OpUpdate, "role/open", `{"policies":["x"],"period":"5m"}`)
	oid := data(e.must(t, engine.OpRead, "role/open/role-id", ""))["role_id"].(string)
	osid := data(e.must(t, engine.OpUpdate, "role/open/secret-id", ``))["secret_id"].(string)
	r2, err := login(oid, osid)
	if err != nil || r2.Auth.LeaseDuration != 300 {
		t.Fatalf("login to a periodic role: %+v %v", r2, err)
	}
	// A role stored without a constraint (written before the check) is
	// named in a warning on read and logs nobody in, even with a secret ID.
	if err := e.b.view.Update(context.Background(), func(tx *seal.Tx) error {
		r, err := loadRole(&tx.ReadTx, "open")
		if err != nil {
			return err
		}
		r.BindSecretID = false
		return saveRole(tx, r)
	}); err != nil {
		t.Fatal(err)
	}
	if w := e.must(t, engine.OpRead, "role/open", "").Warnings; len(w) != 1 || !strings.Contains(w[0], "Role does not have any constraints set on it") {
		t.Fatalf("read of a role without constraints: warnings %q", w)
	}
	for _, body := range []string{`{"role_id":"` + oid + `"}`, `{"role_id":"` + oid + `","secret_id":"` + osid + `"}`} {
		if _, err := e.do(t, engine.OpUpdate, "login", body); !errors.Is(err, errLogin) {
			t.Fatalf("login to a role without constraints (%s): %v", body, err)
		}
	}
	if l := data(e.must(t, engine.OpList, "role/", ""))["keys"].([]string); len(l) != 2 {
		t.Fatalf("list roles: %v", l)
	}
	// Delete removes the role and its secret IDs.
	e.must(t, engine.OpDelete, "role/web", "")
	if _, err := e.do(t, engine.OpRead, "role/web", ""); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("read deleted role: %v", err)
	}
	if _, err := login(roleID, secretID); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("login to a deleted role: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ path, body string }{
		{"role/bad name", `{}`},
		{"role/web", `{"token_num_uses":"many"}`},
		{"role/web", `{"secret_id_num_uses":-1}`},
		{"role/web", `{"token_type":"bulk"}`}, {"role/web", `{"token_type":"batch","token_period":"1h"}`},
		{"role/web", `{"token_policies":"default,ROOT"}`},
		{"role/web", `{`},
		{"login", `{}`},
	} {
		if _, err := e.do(t, engine.OpUpdate, c.path, c.body); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("%s %s: %v", c.path, c.body, err)
		}
	}
	if _, err := e.do(t, engine.OpUpdate, "role/nope/secret-id", ``); !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("secret-id of a missing role: %v", err)
	}
	if _, err := e.do(t, engine.OpRead, "nothing", ""); !errors.Is(err, engine.ErrUnsupportedPath) {
		t.Errorf("unknown path: %v", err)
	}
}

// FuzzRequest: arbitrary paths and bodies never panic and fail only with
// client errors.
func FuzzRequest(f *testing.F) {
	f.Add("role/r", `{"policies":"a","period":"5m"}`)
	f.Add("login", `{"role_id":"x","secret_id":"y"}`)
	f.Add("role/r/secret-id", `{"metadata":"{}"}`)
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, path, body string) {
		for _, op := range []engine.Operation{engine.OpRead, engine.OpUpdate, engine.OpList, engine.OpDelete} {
			_, err := e.do(t, op, path, body)
			if err != nil && !errors.Is(err, engine.ErrBadRequest) && !errors.Is(err, engine.ErrNotFound) &&
				!errors.Is(err, engine.ErrUnsupportedPath) && !errors.Is(err, engine.ErrUnsupportedOperation) {
				t.Fatalf("%v %q %q: %v", op, path, body, err)
			}
		}
	})
}

// TestRoleReadLegacyFields: a role read reports the legacy policies and
// period only as Vault keeps them (tokenutil.UpgradeValue): set when the
// request named them, cleared by a request that names only the token_
// field; secret_id_bound_cidrs is null when unset.
func TestRoleReadLegacyFields(t *testing.T) {
	e := newEnv(t)
	read := func() map[string]any { return data(e.must(t, engine.OpRead, "role/r", "")) }
	e.must(t, engine.OpUpdate, "role/r", `{"token_policies":"default","token_ttl":"20m"}`)
	r := read()
	if _, ok := r["policies"]; ok {
		t.Fatalf("policies reported without the legacy field: %v", r)
	}
	if _, ok := r["period"]; ok {
		t.Fatalf("period reported without the legacy field: %v", r)
	}
	if v, ok := r["secret_id_bound_cidrs"]; !ok || v != nil {
		t.Fatalf("secret_id_bound_cidrs: %v", r)
	}
	e.must(t, engine.OpUpdate, "role/r", `{"policies":"a,b","period":"5m"}`)
	r = read()
	if fmt.Sprint(r["policies"]) != "[a b]" || fmt.Sprint(r["token_policies"]) != "[a b]" || r["period"] != int64(300) || r["token_period"] != int64(300) {
		t.Fatalf("after the legacy fields: %v", r)
	}
	e.must(t, engine.OpUpdate, "role/r", `{"token_policies":"c","token_period":"1m"}`)
	r = read()
	if _, ok := r["policies"]; ok || fmt.Sprint(r["token_policies"]) != "[c]" {
		t.Fatalf("token_policies alone keeps the legacy policies: %v", r)
	}
	if _, ok := r["period"]; ok || r["token_period"] != int64(60) {
		t.Fatalf("token_period alone keeps the legacy period: %v", r)
	}
}

// TestSecretIDAccessor: role/<name>/secret-id-accessor/lookup and destroy
// find a secret ID by its accessor, as Vault's do.
func TestSecretIDAccessor(t *testing.T) {
	e := newEnv(t)
	e.must(t, engine.OpUpdate, "role/web", `{"token_policies":"default"}`)
	roleID := data(e.must(t, engine.OpRead, "role/web/role-id", ""))["role_id"].(string)
	sec := data(e.must(t, engine.OpUpdate, "role/web/secret-id", `{"metadata":"{\"host\":\"a\"}"}`))
	sid, acc := sec["secret_id"].(string), sec["secret_id_accessor"].(string)
	look := data(e.must(t, engine.OpUpdate, "role/web/secret-id-accessor/lookup", `{"secret_id_accessor":"`+acc+`"}`))
	if look["secret_id_accessor"] != acc || look["metadata"].(map[string]string)["host"] != "a" {
		t.Fatalf("lookup by accessor: %v", look)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/web/secret-id-accessor/lookup", `{"secret_id_accessor":"nope"}`); !errors.Is(err, engine.ErrUnsupportedPath) ||
		err.Error() != `failed to find accessor entry for secret_id_accessor: "nope"` {
		t.Fatalf("unknown accessor: %v", err)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/web/secret-id-accessor/lookup", `{}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("missing accessor: %v", err)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/other/secret-id-accessor/lookup", `{"secret_id_accessor":"`+acc+`"}`); !errors.Is(err, engine.ErrUnsupportedPath) {
		t.Fatalf("another role's accessor: %v", err)
	}
	e.must(t, engine.OpUpdate, "role/web/secret-id-accessor/destroy", `{"secret_id_accessor":"`+acc+`"}`)
	if _, err := e.do(t, engine.OpUpdate, "login", `{"role_id":"`+roleID+`","secret_id":"`+sid+`"}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("login after the accessor's destroy: %v", err)
	}
	if _, err := e.do(t, engine.OpDelete, "role/web/secret-id-accessor/destroy", `{"secret_id_accessor":"`+acc+`"}`); !errors.Is(err, engine.ErrUnsupportedPath) {
		t.Fatalf("destroy twice: %v", err)
	}
}
