package approle

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

// TestRoleFieldPaths: each role/<name>/<field> path reads the field as the
// role read shows it, writes it alone, and restores its default on delete,
// as Vault's pathRole<Field>Read/Update/Delete.
func TestRoleFieldPaths(t *testing.T) {
	e := newEnv(t)
	e.must(t, engine.OpUpdate, "role/web", `{"token_policies":"app","token_ttl":"10m","token_max_ttl":"1h","secret_id_ttl":"2m","secret_id_num_uses":3,"token_num_uses":4,"token_period":"5m"}`)
	for _, tc := range []struct {
		field, write, want, after, cleared string
	}{
		{"policies", `{"token_policies":"a,b"}`, `map[token_policies:[app]]`, `map[token_policies:[a b]]`, `map[token_policies:[]]`},
		{"bind-secret-id", `{"bind_secret_id":true}`, `map[bind_secret_id:true]`, `map[bind_secret_id:true]`, `map[bind_secret_id:true]`}, // false is refused (TestRoleCRUDAndLogin)
		{"secret-id-num-uses", `{"secret_id_num_uses":7}`, `map[secret_id_num_uses:3]`, `map[secret_id_num_uses:7]`, `map[secret_id_num_uses:0]`},
		{"secret-id-ttl", `{"secret_id_ttl":"1m"}`, `map[secret_id_ttl:120]`, `map[secret_id_ttl:60]`, `map[secret_id_ttl:0]`},
		{"period", `{"period":60}`, `map[token_period:300]`, `map[period:60 token_period:60]`, `map[token_period:0]`},
		{"token-num-uses", `{"token_num_uses":9}`, `map[token_num_uses:4]`, `map[token_num_uses:9]`, `map[token_num_uses:0]`},
		{"token-ttl", `{"token_ttl":"20m"}`, `map[token_ttl:600]`, `map[token_ttl:1200]`, `map[token_ttl:0]`},
		{"token-max-ttl", `{"token_max_ttl":"2h"}`, `map[token_max_ttl:3600]`, `map[token_max_ttl:7200]`, `map[token_max_ttl:0]`},
	} {
		path := "role/web/" + tc.field
		if got := fmt.Sprint(data(e.must(t, engine.OpRead, path, ""))); got != tc.want {
			t.Errorf("read %s: %s, want %s", path, got, tc.want)
		}
		if r := e.must(t, engine.OpUpdate, path, tc.write); r != nil {
			t.Errorf("write %s answered %v, want 204", path, r)
		}
		if got := fmt.Sprint(data(e.must(t, engine.OpRead, path, ""))); got != tc.after {
			t.Errorf("read %s after the write: %s, want %s", path, got, tc.after)
		}
		if _, err := e.do(t, engine.OpUpdate, path, `{}`); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("write %s without its parameter: %v", path, err)
		}
		e.must(t, engine.OpDelete, path, "")
		if got := fmt.Sprint(data(e.must(t, engine.OpRead, path, ""))); got != tc.cleared {
			t.Errorf("read %s after the delete: %s, want %s", path, got, tc.cleared)
		}
	}
	// A write sets its field only; the rest of the role is untouched.
	e.must(t, engine.OpUpdate, "role/web", `{"token_ttl":"10m","token_max_ttl":"1h"}`)
	e.must(t, engine.OpUpdate, "role/web/token-ttl", `{"token_ttl":"20m","token_max_ttl":"3h"}`)
	if r := data(e.must(t, engine.OpRead, "role/web", "")); r["token_ttl"] != int64(1200) || r["token_max_ttl"] != int64(3600) {
		t.Fatalf("role after token-ttl write: %v", r)
	}
	// The role write's checks hold.
	if _, err := e.do(t, engine.OpUpdate, "role/web/token-ttl", `{"token_ttl":"2h"}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("token_ttl over token_max_ttl: %v", err)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/web/policies", `{"token_policies":"root"}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("root policy: %v", err)
	}
	if err := fmt.Sprint(e.do(t, engine.OpUpdate, "role/web/period", `{}`)); err != "<nil> missing period" {
		t.Fatalf("period without a parameter: %s", err)
	}
	// local-secret-ids is read only.
	if got := fmt.Sprint(data(e.must(t, engine.OpRead, "role/web/local-secret-ids", ""))); got != "map[local_secret_ids:false]" {
		t.Fatalf("local-secret-ids: %s", got)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/web/local-secret-ids", `{}`); !errors.Is(err, engine.ErrUnsupportedOperation) {
		t.Fatalf("write local-secret-ids: %v", err)
	}
	// A missing role: a read is 404, a write is unsupported path (and
	// creates nothing), a delete does nothing.
	if _, err := e.do(t, engine.OpRead, "role/none/token-ttl", ""); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("read of a missing role's field: %v", err)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/none/token-ttl", `{"token_ttl":60}`); !errors.Is(err, engine.ErrUnsupportedPath) {
		t.Fatalf("write of a missing role's field: %v", err)
	}
	if _, err := e.do(t, engine.OpRead, "role/none", ""); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the field write created the role: %v", err)
	}
	if r, err := e.do(t, engine.OpDelete, "role/none/token-ttl", ""); err != nil || r != nil {
		t.Fatalf("delete of a missing role's field: %v %v", r, err)
	}
	if _, err := e.do(t, engine.OpRead, "role/web/no-such-field", ""); !errors.Is(err, engine.ErrUnsupportedPath) {
		t.Fatalf("an unknown field: %v", err)
	}
}

// TestRoleCIDRFieldPaths: role/<name>/{secret-id-bound-cidrs,
// bound-cidr-list, token-bound-cidrs} as Vault's: written and read as the
// role read shows them, an empty login list refused, a bad block a 400
// that writes nothing, no parameter a no-op, the deprecated path read as
// null with its warning, and a delete that would leave the role without a
// constraint refused.
func TestRoleCIDRFieldPaths(t *testing.T) {
	e := newEnv(t)
	e.must(t, engine.OpUpdate, "role/web", `{"token_policies":"app"}`)
	e.must(t, engine.OpUpdate, "role/web/secret-id-bound-cidrs", `{"secret_id_bound_cidrs":"10.0.0.0/8, 192.168.1.7/24"}`)
	if got := fmt.Sprint(data(e.must(t, engine.OpRead, "role/web/secret-id-bound-cidrs", ""))); got != "map[secret_id_bound_cidrs:[10.0.0.0/8 192.168.1.7/24]]" {
		t.Fatalf("read: %s", got)
	}
	e.must(t, engine.OpUpdate, "role/web/bound-cidr-list", `{"bound_cidr_list":["172.16.0.0/12"]}`)
	if got := fmt.Sprint(data(e.must(t, engine.OpRead, "role/web", ""))["secret_id_bound_cidrs"]); got != "[172.16.0.0/12]" {
		t.Fatalf("after bound-cidr-list: %s", got)
	}
	r := e.must(t, engine.OpRead, "role/web/bound-cidr-list", "")
	if d := data(r); len(d) != 1 || d["bound_cidr_list"] != nil || len(r.Warnings) != 1 {
		t.Fatalf("bound-cidr-list read: %v %q", d, r.Warnings)
	}
	for body, want := range map[string]string{
		`{"secret_id_bound_cidrs":[]}`:            "missing bound_cidr_list",
		`{"secret_id_bound_cidrs":"10.0.0.1"}`:    "failed to validate CIDR blocks: invalid CIDR address: 10.0.0.1",
		`{"secret_id_bound_cidrs":"10.0.0.0/33"}`: "invalid CIDR address: 10.0.0.0/33",
	} {
		if _, err := e.do(t, engine.OpUpdate, "role/web/secret-id-bound-cidrs", body); !errors.Is(err, engine.ErrBadRequest) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a 400 with %q", body, err, want)
		}
	}
	e.must(t, engine.OpUpdate, "role/web/secret-id-bound-cidrs", `{}`)
	e.must(t, engine.OpUpdate, "role/web/token-bound-cidrs", `{"token_bound_cidrs":"10.1.2.3,10.2.0.0/16"}`)
	if got := fmt.Sprint(data(e.must(t, engine.OpRead, "role/web", ""))); !strings.Contains(got, "secret_id_bound_cidrs:[172.16.0.0/12]") ||
		!strings.Contains(got, "token_bound_cidrs:[10.1.2.3 10.2.0.0/16]") {
		t.Fatalf("role read after the writes: %s", got)
	}
	if _, err := e.do(t, engine.OpUpdate, "role/web/token-bound-cidrs", `{"token_bound_cidrs":"nope"}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("a bad token block: %v", err)
	}

	// Constraints: without bind_secret_id, the blocks are what remains.
	e.must(t, engine.OpUpdate, "role/web/bind-secret-id", `{"bind_secret_id":false}`)
	e.must(t, engine.OpDelete, "role/web/secret-id-bound-cidrs", "")
	if _, err := e.do(t, engine.OpDelete, "role/web/token-bound-cidrs", ""); !errors.Is(err, engine.ErrBadRequest) || !strings.Contains(err.Error(), msgNoConstraint) {
		t.Fatalf("deleting the last constraint: %v", err)
	}
	if got := fmt.Sprint(data(e.must(t, engine.OpRead, "role/web", ""))["token_bound_cidrs"]); got != "[10.1.2.3 10.2.0.0/16]" {
		t.Fatalf("the refused delete changed the role: %s", got)
	}
}

// TestRoleNamesIgnoreCase: a role written as "Web" is read, listed and
// logged in to as "web", as Vault keeps new role names in lower case.
func TestRoleNamesIgnoreCase(t *testing.T) {
	e := newEnv(t)
	e.must(t, engine.OpUpdate, "role/Web", `{"token_policies":"app"}`)
	if got := fmt.Sprint(data(e.must(t, engine.OpRead, "role/WEB/policies", ""))["token_policies"]); got != "[app]" {
		t.Fatalf("read as WEB: %s", got)
	}
	if got := fmt.Sprint(data(e.must(t, engine.OpList, "role/", ""))["keys"]); got != "[web]" {
		t.Fatalf("list: %s", got)
	}
	rid := data(e.must(t, engine.OpRead, "role/web/role-id", ""))["role_id"].(string)
	sid := data(e.must(t, engine.OpUpdate, "role/wEb/secret-id", ""))["secret_id"].(string)
	r, err := e.do(t, engine.OpUpdate, "login", `{"role_id":"`+rid+`","secret_id":"`+sid+`"}`)
	if err != nil || r.Auth.Metadata["role_name"] != "web" {
		t.Fatalf("login: %+v %v", r, err)
	}
}
