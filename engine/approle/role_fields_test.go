package approle

import (
	"errors"
	"fmt"
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
	if _, err := e.do(t, engine.OpRead, "role/web/bound-cidr-list", ""); !errors.Is(err, engine.ErrUnsupportedPath) {
		t.Fatalf("bound-cidr-list: %v", err)
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
