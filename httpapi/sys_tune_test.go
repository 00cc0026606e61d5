package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/strongroom/strongroom/engine/token"
)

// FuzzTuneEndpoint sends any body to the tune endpoints of a secrets
// engine and of an auth method: the answer is 204 or a 400 in Vault's
// format, never a 5xx, and a refused tune changes nothing.
func FuzzTuneEndpoint(f *testing.F) {
	fx := newFixture(f, Options{})
	root := fx.initUnseal(f)
	tbl, auths := walkMounts(f, fx.sys.Barrier)
	srv := New(Options{Sys: fx.sys, Mounts: tbl, Auths: auths, TokenStore: &token.Backend{Barrier: fx.sys.Barrier}})
	fx.srv.Config.Handler = srv
	for _, s := range []string{`{"default_lease_ttl":"1h","max_lease_ttl":"2h"}`, `{"default_lease_ttl":""}`, `{"max_lease_ttl":"system"}`,
		`{"default_lease_ttl":-5}`, `{"token_type":"batch"}`, `{"description":"x","options":{"version":"2"}}`, `{"default_lease_ttl":1e300}`, `[]`} {
		for i := range uint8(4) {
			f.Add(i, s)
		}
	}
	paths := []string{"/v1/sys/mounts/kv2/tune", "/v1/sys/auth/approle/tune", "/v1/sys/mounts/auth/approle/tune", "/v1/sys/auth/token/tune"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		read := func() string {
			st, b := fx.send(t, "GET", path, root, "", nil)
			var env struct {
				Data json.RawMessage `json:"data"`
			}
			if st != 200 || json.Unmarshal(b, &env) != nil {
				t.Fatalf("read %s: %d %s", path, st, b)
			}
			return string(env.Data)
		}
		before := read()
		st, b := fx.send(t, "POST", path, root, body, nil)
		switch st {
		case 204:
		case 400:
			if after := read(); before != after {
				t.Fatalf("%s %q refused (%s) but changed the mount:\n%s\n%s", path, body, b, before, after)
			}
		default:
			t.Fatalf("%s %q: %d %s", path, body, st, b)
		}
	})
}
