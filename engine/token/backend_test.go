package token

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newBackend(t testing.TB) (*Backend, *clock, string) {
	t.Helper()
	b := unsealed(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	var root string
	if err := b.Update(context.Background(), func(tx *seal.Tx) error {
		var err error
		root, err = CreateRoot(tx, c.t)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return &Backend{Barrier: b, Now: c.now, Cache: NewCache(100, time.Minute)}, c, root
}

func do(t *testing.T, b *Backend, op engine.Operation, path, caller, body string, sudo bool) (*engine.Response, error) {
	t.Helper()
	return b.HandleRequest(context.Background(), &engine.Request{Operation: op, Path: path, ClientToken: caller, Body: []byte(body), Sudo: sudo})
}

func mustCreate(t *testing.T, b *Backend, caller, body string, sudo bool) *engine.Auth {
	t.Helper()
	resp, err := do(t, b, engine.OpUpdate, "create", caller, body, sudo)
	if err != nil {
		t.Fatalf("create %s: %v", body, err)
	}
	return resp.Auth
}

func valid(t *testing.T, b *Backend, tok string) bool {
	t.Helper()
	_, err := do(t, b, engine.OpRead, "lookup-self", tok, "", false)
	return err == nil
}

func TestHierarchyAndPolicies(t *testing.T) {
	b, _, root := newBackend(t)
	parent := mustCreate(t, b, root, `{"policies":["app","ops"],"ttl":"1h"}`, true)
	if len(parent.Policies) != 3 || parent.Policies[0] != "app" || parent.Policies[1] != "default" || parent.LeaseDuration != 3600 || parent.Orphan {
		t.Fatalf("parent auth: %+v", parent)
	}
	child := mustCreate(t, b, parent.ClientToken, `{"policies":["app"]}`, false)
	if len(child.Policies) != 2 || child.Policies[0] != "app" || child.Policies[1] != "default" {
		t.Fatalf("child policies: %v", child.Policies)
	}
	if _, err := do(t, b, engine.OpUpdate, "create", parent.ClientToken, `{"policies":["admin"]}`, false); !errors.Is(err, engine.ErrBadRequest) || err.Error() != "child policies must be subset of parent" {
		t.Fatalf("policy escalation: %v", err)
	}
	if _, err := do(t, b, engine.OpUpdate, "create", parent.ClientToken, `{"policies":["root"]}`, false); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("root from non-root: %v", err)
	}
	if _, err := do(t, b, engine.OpUpdate, "create", parent.ClientToken, `{"no_parent":true}`, false); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("orphan without sudo: %v", err)
	}
	inherit := mustCreate(t, b, parent.ClientToken, `{}`, false)
	if len(inherit.Policies) != 3 {
		t.Fatalf("inherited policies: %v", inherit.Policies)
	}
	grandchild := mustCreate(t, b, child.ClientToken, `{}`, false)
	orphan := mustCreate(t, b, parent.ClientToken, `{}`, false)
	if _, err := do(t, b, engine.OpUpdate, "create-orphan", parent.ClientToken, `{}`, false); err != nil {
		t.Fatalf("create-orphan: %v", err)
	}
	// revoke-orphan: orphan's children survive... here: revoke the parent of
	// "orphan" only, with revoke-orphan, needs sudo.
	if _, err := do(t, b, engine.OpUpdate, "revoke-orphan", root, `{"token":"`+orphan.ClientToken+`"}`, false); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("revoke-orphan without sudo: %v", err)
	}
	// Revoking the parent revokes the whole tree.
	if _, err := do(t, b, engine.OpUpdate, "revoke", root, `{"token":"`+parent.ClientToken+`"}`, true); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"parent": parent.ClientToken, "child": child.ClientToken, "grandchild": grandchild.ClientToken, "inherit": inherit.ClientToken} {
		if valid(t, b, tok) {
			t.Errorf("%s survived the revocation of its ancestor", name)
		}
	}
	if !valid(t, b, root) {
		t.Fatal("root revoked")
	}
}

func TestRevokeOrphanKeepsChildren(t *testing.T) {
	b, _, root := newBackend(t)
	p := mustCreate(t, b, root, `{"policies":["a"]}`, true)
	c := mustCreate(t, b, p.ClientToken, `{}`, false)
	if _, err := do(t, b, engine.OpUpdate, "revoke-orphan", root, `{"token":"`+p.ClientToken+`"}`, true); err != nil {
		t.Fatal(err)
	}
	if valid(t, b, p.ClientToken) || !valid(t, b, c.ClientToken) {
		t.Fatal("revoke-orphan: parent must go, child must stay")
	}
	resp, _ := do(t, b, engine.OpRead, "lookup-self", c.ClientToken, "", false)
	if resp.Data.(map[string]any)["orphan"] != true {
		t.Fatal("child is not an orphan after revoke-orphan")
	}
}

func TestTTLExpiryWithClock(t *testing.T) {
	b, clk, root := newBackend(t)
	a := mustCreate(t, b, root, `{"ttl":"60s","explicit_max_ttl":"90s"}`, true)
	kid := mustCreate(t, b, a.ClientToken, `{"ttl":"1h"}`, false)
	clk.t = clk.t.Add(50 * time.Second)
	if !valid(t, b, a.ClientToken) {
		t.Fatal("token invalid before its TTL")
	}
	// Renew: capped by explicit_max_ttl (90 s from creation).
	resp, err := do(t, b, engine.OpUpdate, "renew-self", a.ClientToken, `{"increment":"1h"}`, false)
	if err != nil || resp.Auth.LeaseDuration != 40 {
		t.Fatalf("renew capped by explicit max: %+v %v", resp, err)
	}
	clk.t = clk.t.Add(41 * time.Second)
	if valid(t, b, a.ClientToken) {
		t.Fatal("token valid past its explicit max TTL")
	}
	// Tidy revokes the expired token and its children.
	if n, err := b.Tidy(context.Background(), 100); err != nil || n != 1 {
		t.Fatalf("tidy: %d %v", n, err)
	}
	if valid(t, b, kid.ClientToken) {
		t.Fatal("child of an expired token survived tidy")
	}
	if n, _ := b.Tidy(context.Background(), 100); n != 0 {
		t.Fatalf("second tidy found %d", n)
	}
	// A non-renewable token refuses renewal.
	nr := mustCreate(t, b, root, `{"renewable":false,"ttl":"1m"}`, true)
	if _, err := do(t, b, engine.OpUpdate, "renew-self", nr.ClientToken, `{}`, false); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("renew of a non-renewable token: %v", err)
	}
	// Default TTL of a non-root token is the system max, 768h.
	d := mustCreate(t, b, root, `{"policies":["x"]}`, true)
	if d.LeaseDuration != int64(SystemMaxTTL.Seconds()) {
		t.Fatalf("default TTL %d", d.LeaseDuration)
	}
}

func TestNumUses(t *testing.T) {
	b, clk, root := newBackend(t)
	a := mustCreate(t, b, root, `{"num_uses":2}`, true)
	var last bool
	for i := range 2 {
		if err := b.Barrier.Update(context.Background(), func(tx *seal.Tx) error {
			th, err := Hash(&tx.ReadTx, a.ClientToken)
			if err != nil {
				return err
			}
			last, err = Use(tx, th, clk.t)
			return err
		}); err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
		if last != (i == 1) {
			t.Fatalf("use %d reported last=%v", i+1, last)
		}
	}
	// A third use is refused while the revocation is pending.
	if err := b.Barrier.Update(context.Background(), func(tx *seal.Tx) error {
		th, _ := Hash(&tx.ReadTx, a.ClientToken)
		_, err := Use(tx, th, clk.t)
		return err
	}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("use after the last: %v", err)
	}
	limited := mustCreate(t, b, root, `{"num_uses":5}`, true)
	if _, err := do(t, b, engine.OpUpdate, "create", limited.ClientToken, `{}`, false); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("child of a limited-use token: %v", err)
	}
	if _, err := do(t, b, engine.OpUpdate, "create", root, `{"num_uses":-1}`, true); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("negative num_uses: %v", err)
	}
}

func TestAccessorAndRoles(t *testing.T) {
	b, _, root := newBackend(t)
	a := mustCreate(t, b, root, `{"policies":["p1"],"meta":{"user":"ann"},"display_name":"ann's token"}`, true)
	resp, err := do(t, b, engine.OpUpdate, "lookup-accessor", root, `{"accessor":"`+a.Accessor+`"}`, true)
	if err != nil {
		t.Fatal(err)
	}
	d := resp.Data.(map[string]any)
	if d["id"] != "" || d["display_name"] != "token-ann-s-token" || d["meta"].(map[string]string)["user"] != "ann" {
		t.Fatalf("lookup-accessor: %v", d)
	}
	if _, err := do(t, b, engine.OpUpdate, "revoke-accessor", root, `{"accessor":"`+a.Accessor+`"}`, true); err != nil || valid(t, b, a.ClientToken) {
		t.Fatalf("revoke-accessor: %v", err)
	}
	if _, err := do(t, b, engine.OpUpdate, "lookup-accessor", root, `{"accessor":"nope"}`, true); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("unknown accessor: %v", err)
	}
	if _, err := do(t, b, engine.OpUpdate, "roles/web", root, `{"allowed_policies":["web","db"],"orphan":true,"period":"1h"}`, true); err != nil {
		t.Fatal(err)
	}
	r, err := do(t, b, engine.OpUpdate, "create/web", root, `{"policies":["web"]}`, true)
	if err != nil || !r.Auth.Orphan || r.Auth.LeaseDuration != 3600 {
		t.Fatalf("create/web: %+v %v", r, err)
	}
	if _, err := do(t, b, engine.OpUpdate, "create/web", root, `{"policies":["admin"]}`, true); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("role policy escalation: %v", err)
	}
	if _, err := do(t, b, engine.OpUpdate, "create/nope", root, `{}`, true); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("unknown role: %v", err)
	}
	l, err := do(t, b, engine.OpList, "roles", root, "", true)
	if err != nil || len(l.Data.(map[string]any)["keys"].([]string)) != 1 {
		t.Fatalf("list roles: %v %v", l, err)
	}
}

// FuzzBackend: arbitrary token-store requests never panic and fail only
// with client errors.
func FuzzBackend(f *testing.F) {
	f.Add("create", `{"policies":"a,b","ttl":"1h","num_uses":3,"meta":{"k":"v"}}`)
	f.Add("roles/r", `{"allowed_policies":["x"],"period":"5m"}`)
	f.Add("lookup-accessor", `{"accessor":"abc"}`)
	f.Add("renew-self", `{"increment":"-5s"}`)
	b, _, root := newBackend(f)
	f.Fuzz(func(t *testing.T, path, body string) {
		for _, op := range []engine.Operation{engine.OpRead, engine.OpUpdate, engine.OpList, engine.OpDelete} {
			_, err := b.HandleRequest(context.Background(), &engine.Request{Operation: op, Path: path, ClientToken: root, Body: []byte(body), Sudo: true})
			if err != nil && !errors.Is(err, engine.ErrBadRequest) && !errors.Is(err, engine.ErrNotFound) &&
				!errors.Is(err, engine.ErrUnsupportedPath) && !errors.Is(err, engine.ErrUnsupportedOperation) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v %q %q: %v", op, path, body, err)
			}
		}
	})
}

func TestCreateTTLWarnings(t *testing.T) {
	h := time.Hour
	for _, tc := range []struct {
		ttl, period, max time.Duration
		root             bool
		want             time.Duration
		warn             string
	}{
		{0, 0, 0, false, SystemMaxTTL, ""},
		{h, 0, 20 * time.Minute, false, 20 * time.Minute, `TTL of "1h" exceeded the effective max_ttl of "20m"; TTL value is capped accordingly`},
		{0, 0, 2 * h, false, 2 * h, `TTL of "768h" exceeded the effective max_ttl of "2h"; TTL value is capped accordingly`},
		{1000 * h, 0, 0, false, SystemMaxTTL, `TTL of "1000h" exceeded the effective max_ttl of "768h"; TTL value is capped accordingly`},
		{0, 3 * h, h, false, h, `period of "3h" exceeded the effective max_ttl of "1h"; period value is capped accordingly`},
		{0, 90 * time.Second, 0, false, 90 * time.Second, ""},
		{0, 0, 0, true, 0, ""},
		{0, 0, h, true, h, ""},
	} {
		got, warns := createTTL(Config{}, tc.ttl, tc.period, tc.max, tc.root)
		if got != tc.want || strings.Join(warns, "|") != tc.warn {
			t.Errorf("%+v: %v %q", tc, got, warns)
		}
	}
	// A tuned token store: its default never exceeds its max, silently,
	// and a longer TTL is capped with the warning.
	cfg := Config{DefaultLeaseTTL: 3600 * 24, MaxLeaseTTL: 3600 * 2}
	if got, warns := createTTL(cfg, 0, 0, 0, false); got != 2*h || len(warns) != 0 {
		t.Errorf("tuned, no TTL: %v %q", got, warns)
	}
	if got, warns := createTTL(cfg, 5*h, 0, 0, false); got != 2*h || len(warns) != 1 {
		t.Errorf("tuned, 5h: %v %q", got, warns)
	}
	if got, _ := createTTL(Config{DefaultLeaseTTL: 600}, 0, 0, 0, false); got != 10*time.Minute {
		t.Errorf("tuned default: %v", got)
	}
}

// TestCreateRefusesNegativeTTLs: Vault's texts, in its order.
func TestCreateRefusesNegativeTTLs(t *testing.T) {
	b, _, root := newBackend(t)
	for body, want := range map[string]string{
		`{"ttl":"-1s"}`:                                  "ttl must be positive",
		`{"period":"-1s","ttl":"-1s"}`:                   "period must be positive",
		`{"explicit_max_ttl":-5,"period":"-1s","ttl":1}`: "explicit_max_ttl must be positive",
	} {
		_, err := do(t, b, engine.OpUpdate, "create", root, body, true)
		if !errors.Is(err, engine.ErrBadRequest) || err.Error() != want {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// TestWrongOperationIs405: a known path asked with an operation it does not
// serve is ErrUnsupportedOperation (405, as Vault), an unknown path
// ErrUnsupportedPath (404).
func TestWrongOperationIs405(t *testing.T) {
	b, _, root := newBackend(t)
	for path, want := range map[string]error{
		"create": engine.ErrUnsupportedOperation, "create/r": engine.ErrUnsupportedOperation,
		"revoke": engine.ErrUnsupportedOperation, "nope": engine.ErrUnsupportedPath,
	} {
		if _, err := do(t, b, engine.OpRead, path, root, "", true); !errors.Is(err, want) {
			t.Errorf("read %s: %v, want %v", path, err, want)
		}
	}
}

// TestLookupTTLRoundsUp: a token's ttl on lookup is its expiry less the
// clock rounded to the second, as Vault's leaseEntry.ttl: its full TTL
// until the clock rounds past its creation's second.
func TestLookupTTLRoundsUp(t *testing.T) {
	b, c, root := newBackend(t)
	a := mustCreate(t, b, root, `{"ttl":"1h"}`, true)
	for _, tc := range []struct {
		after time.Duration
		want  int64
	}{{400 * time.Millisecond, 3600}, {600 * time.Millisecond, 3599}, {1400 * time.Millisecond, 3599}, {1600 * time.Millisecond, 3598}} {
		b.Now = func() time.Time { return c.t.Add(tc.after) }
		resp, err := do(t, b, engine.OpUpdate, "lookup", root, `{"token":"`+a.ClientToken+`"}`, true)
		if err != nil || resp.Data.(map[string]any)["ttl"] != tc.want {
			t.Fatalf("ttl %v after creation: %v %v, want %d", tc.after, resp, err, tc.want)
		}
	}
}

// TestRenewWarnsWhenCapped: a renewal past the explicit max TTL is capped
// with Vault's warning; one within it has none.
func TestRenewWarnsWhenCapped(t *testing.T) {
	b, c, root := newBackend(t)
	a := mustCreate(t, b, root, `{"ttl":"10m","explicit_max_ttl":"20m"}`, true)
	c.t = c.t.Add(time.Minute)
	resp, err := do(t, b, engine.OpUpdate, "renew", root, `{"token":"`+a.ClientToken+`","increment":"5m"}`, true)
	if err != nil || len(resp.Warnings) != 0 || resp.Auth.LeaseDuration != 300 {
		t.Fatalf("within the max: %+v %v", resp, err)
	}
	resp, err = do(t, b, engine.OpUpdate, "renew", root, `{"token":"`+a.ClientToken+`","increment":"1h"}`, true)
	want := `TTL of "1h" exceeded the effective max_ttl of "19m"; TTL value is capped accordingly`
	if err != nil || strings.Join(resp.Warnings, "|") != want || resp.Auth.LeaseDuration != 19*60 {
		t.Fatalf("past the max: %+v %v", resp, err)
	}
}

// TestLoginTTL follows framework.CalculateTTL for a new login.
func TestLoginTTL(t *testing.T) {
	h := time.Hour
	for _, tc := range []struct {
		name                                        string
		mountDef, mountMax, ttl, max, period, exMax time.Duration
		want, wantMax                               time.Duration
		warn                                        string
	}{
		{"system defaults", 0, 0, 0, 0, 0, 0, SystemMaxTTL, SystemMaxTTL, ""},
		{"mount default", h, 0, 0, 0, 0, 0, h, SystemMaxTTL, ""},
		{"role ttl over the mount default", h, 0, 2 * h, 0, 0, 0, 2 * h, SystemMaxTTL, ""},
		{"mount max caps", 0, 2 * h, 3 * h, 0, 0, 0, 2 * h, 2 * h, `TTL of "3h" exceeded the effective max_ttl of "2h"`},
		{"role max below the mount's", 0, 2 * h, 0, h, 0, 0, h, h, `TTL of "2h" exceeded the effective max_ttl of "1h"`},
		{"mount max alone", 0, 2 * h, 0, 0, 0, 0, 2 * h, 2 * h, ""},
		{"role max above the mount's", 0, 2 * h, 0, 3 * h, 0, 0, 2 * h, 2 * h, ""},
		{"explicit max", 0, 0, 2 * h, 0, 0, h, h, h, `TTL of "2h" exceeded`},
		{"period", h, 2 * h, 5 * h, 0, 30 * time.Minute, 0, 30 * time.Minute, 2 * h, ""},
		{"period capped", 0, 2 * h, 0, 0, 3 * h, 0, 2 * h, 2 * h, `period of "3h" exceeded the effective max_ttl of "2h"`},
	} {
		got, gotMax, warns := LoginTTL(tc.mountDef, tc.mountMax, tc.ttl, tc.max, tc.period, tc.exMax)
		if got != tc.want || gotMax != tc.wantMax || (tc.warn == "") != (len(warns) == 0) ||
			(tc.warn != "" && !strings.Contains(warns[0], tc.warn)) {
			t.Errorf("%s: %v %v %q, want %v %v %q", tc.name, got, gotMax, warns, tc.want, tc.wantMax, tc.warn)
		}
	}
}
