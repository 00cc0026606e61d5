package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
)

// aclOf parses each text as a policy named p1, p2, ... and compiles them.
func aclOf(t testing.TB, texts ...string) *ACL {
	t.Helper()
	var ps []*Policy
	for i, text := range texts {
		ps = append(ps, mustParse(t, fmt.Sprintf("p%d", i+1), text))
	}
	return NewACL(ps...)
}

// rulesText writes one policy granting caps on each path.
func rulesText(paths []string, caps string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [%s]\n}\n", p, caps)
	}
	return b.String()
}

func read(path string) Request { return Request{Path: path, Operation: engine.OpRead} }

// TestPriority pins which rule decides when several match, following the
// rules of Vault's "Priority matching" documentation. Each case is tried
// with the rules in both orders.
func TestPriority(t *testing.T) {
	tests := []struct {
		name  string
		rules []string
		path  string
		want  string // the deciding rule, "" for none
	}{
		{"exact beats every wildcard", []string{"secret/*", "secret/+/x", "secret/a/*", "secret/a/x"}, "secret/a/x", "secret/a/x"},
		{"later first wildcard wins", []string{"secret/*", "secret/+/x", "secret/a/*"}, "secret/a/x", "secret/a/*"},
		{"glob loses to + at the same place", []string{"secret/*", "secret/+/x"}, "secret/a/x", "secret/+/x"},
		{"only the glob matches", []string{"secret/*", "secret/+/x"}, "secret/a/y", "secret/*"},
		{"docs: more + segments lose", []string{"secret/*", "secret/+/+/foo/*"}, "secret/a/b/foo/bar", "secret/*"},
		{"fewer + segments win", []string{"secret/+/+/x", "secret/+/b/x"}, "secret/a/b/x", "secret/+/b/x"},
		{"longer wins", []string{"secret/+/ab*", "secret/+/a*"}, "secret/x/abc", "secret/+/ab*"},
		{"lexicographically larger wins", []string{"secret/+/+/x", "secret/+/b/+"}, "secret/a/b/x", "secret/+/b/+"},
		{"non-glob beats glob", []string{"secret/+/x*", "secret/+/x"}, "secret/a/x", "secret/+/x"},
		{"foo/a* over foo/+", []string{"secret/a*", "secret/+"}, "secret/ab", "secret/a*"},
		{"foo/+ over foo/*", []string{"secret/*", "secret/+"}, "secret/ab", "secret/+"},
		{"foo/bar/+/baz over foo/+/bar/baz", []string{"foo/bar/+/baz", "foo/+/bar/baz"}, "foo/bar/bar/baz", "foo/bar/+/baz"},
		{"longest glob wins", []string{"secret/*", "secret/a/*", "secret/a*"}, "secret/a/b", "secret/a/*"},
		{"shorter glob when the longer does not prefix", []string{"secret/*", "secret/ab/*"}, "secret/ac/d", "secret/*"},
		{"glob needs its prefix", []string{"secret/a/*"}, "secret/a", ""},
		{"+ is one segment", []string{"secret/+"}, "secret/a/b", ""},
		{"+/* needs a segment after", []string{"secret/+/*"}, "secret/a", ""},
		{"+/* matches a trailing slash", []string{"secret/+/*"}, "secret/a/", "secret/+/*"},
		{"+ matches an empty segment", []string{"secret/+/x"}, "secret//x", "secret/+/x"},
		{"bare +", []string{"+"}, "anything", "+"},
		{"bare + is one segment", []string{"+"}, "any/thing", ""},
		{"leading +", []string{"+/x"}, "a/x", "+/x"},
		{"star is everything", []string{"*"}, "", "*"},
		{"star is everything 2", []string{"*"}, "sys/seal", "*"},
		{"docs: zip-*", []string{"secret/zip-*"}, "secret/zip-zap/zong", "secret/zip-*"},
		{"docs: zip-* not zip/", []string{"secret/zip-*"}, "secret/zip/zap", ""},
		{"docs: exact is exact", []string{"secret/foo"}, "secret/food", ""},
		{"docs: +/teamb", []string{"secret/+/teamb", "secret/+/+/teamb"}, "secret/foo/teamb", "secret/+/teamb"},
		{"docs: +/+/teamb", []string{"secret/+/teamb", "secret/+/+/teamb"}, "secret/foo/bar/teamb", "secret/+/+/teamb"},
		{"inner * is literal", []string{"secret/*/x"}, "secret/a/x", ""},
		{"inner * is literal 2", []string{"secret/*/x"}, "secret/*/x", "secret/*/x"},
		{"+ inside a segment is literal", []string{"x/a+b/+"}, "x/a+b/c", "x/a+b/+"},
		{"+ inside a segment is literal 2", []string{"x/a+b/+"}, "x/ab/c", ""},
		{"glob on the last + rule segment", []string{"x/+/ab*"}, "x/y/abc/d/e", "x/+/ab*"},
		{"leading slash in the rule", []string{"/secret/foo"}, "secret/foo", "secret/foo"},
		{"deep path", []string{"a/b/+/*", "a/*"}, "a/b/" + strings.Repeat("c/", 40) + "d", "a/b/+/*"},
		{"deep path, exact segments", []string{"a/+/+", "a/*"}, "a/b/" + strings.Repeat("c/", 40) + "d", "a/*"},
		{"leading slashes in the request", []string{"secret/foo"}, "//secret/foo", "secret/foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reversed := slices.Clone(tt.rules)
			slices.Reverse(reversed)
			for _, rules := range [][]string{tt.rules, reversed} {
				acl := aclOf(t, rulesText(rules, `"read"`))
				res := acl.Allow(read(tt.path))
				if res.Rule != tt.want || res.Allowed != (tt.want != "") {
					t.Errorf("rules %q, read %q: decided by %q (allowed %v), want %q", rules, tt.path, res.Rule, res.Allowed, tt.want)
				}
			}
		})
	}
}

// TestPriorityAcrossPolicies checks that the best rule decides even when a
// weaker rule in another policy would allow, and the other way round.
func TestPriorityAcrossPolicies(t *testing.T) {
	acl := aclOf(t,
		`path "secret/*" { capabilities = ["read", "create", "update"] }`,
		`path "secret/foo" { capabilities = ["read"] }`,
		`path "secret/super-secret" { capabilities = ["deny"] }`,
		`path "secret/+/public" { capabilities = ["read"] }`,
		`path "secret/team/*" { capabilities = ["deny"] }`,
	)
	tests := []struct {
		req  Request
		want bool
		rule string
	}{
		{Request{Path: "secret/foo", Operation: engine.OpRead}, true, "secret/foo"},
		{Request{Path: "secret/foo", Operation: engine.OpUpdate}, false, "secret/foo"},
		{Request{Path: "secret/bar", Operation: engine.OpUpdate}, true, "secret/*"},
		{Request{Path: "secret/super-secret", Operation: engine.OpRead}, false, "secret/super-secret"},
		// The glob on secret/team/ sits later than the + of
		// secret/+/public, so it wins even though it denies.
		{Request{Path: "secret/team/public", Operation: engine.OpRead}, false, "secret/team/*"},
		{Request{Path: "secret/other/public", Operation: engine.OpRead}, true, "secret/+/public"},
	}
	for _, tt := range tests {
		res := acl.Allow(tt.req)
		if res.Allowed != tt.want || res.Rule != tt.rule {
			t.Errorf("%v %s: allowed %v by %q (%s), want %v by %q", tt.req.Operation, tt.req.Path, res.Allowed, res.Rule, res.Reason, tt.want, tt.rule)
		}
	}
}

func TestMerge(t *testing.T) {
	t.Run("capabilities union", func(t *testing.T) {
		acl := aclOf(t,
			`path "secret/*" { capabilities = ["read"] }`,
			`path "secret/*" { capabilities = ["list", "read"] }`,
			`path "secret/*" { capabilities = ["update"] }`,
		)
		if got := acl.Capabilities("secret/x"); !slices.Equal(got, []string{"list", "read", "update"}) {
			t.Errorf("Capabilities = %q", got)
		}
		res := acl.Allow(read("secret/x"))
		if !res.Allowed || !slices.Equal(res.Policies, []string{"p1", "p2"}) {
			t.Errorf("read: %+v, want allowed, granted by p1 and p2", res)
		}
		if res := acl.Allow(Request{Path: "secret/x", Operation: engine.OpUpdate}); !slices.Equal(res.Policies, []string{"p3"}) {
			t.Errorf("update granted by %q, want p3", res.Policies)
		}
	})
	t.Run("deny wins, whichever comes first", func(t *testing.T) {
		for _, order := range [][2]string{{"read", "deny"}, {"deny", "read"}} {
			acl := aclOf(t,
				fmt.Sprintf(`path "secret/+/x" { capabilities = [%q] }`, order[0]),
				fmt.Sprintf(`path "secret/+/x" { capabilities = [%q] }`, order[1]),
				`path "secret/+/x" { capabilities = ["update", "sudo"] }`,
			)
			res := acl.Allow(read("secret/a/x"))
			if res.Allowed || res.RootPrivs || !slices.Equal(res.Capabilities, []string{"deny"}) {
				t.Errorf("order %q: %+v, want denied", order, res)
			}
		}
	})
	t.Run("same path twice in one policy", func(t *testing.T) {
		acl := aclOf(t, "path \"a\" {\n capabilities = [\"read\"]\n}\npath \"a\" {\n capabilities = [\"list\"]\n}\n")
		if got := acl.Capabilities("a"); !slices.Equal(got, []string{"list", "read"}) {
			t.Errorf("Capabilities = %q", got)
		}
	})
	t.Run("different patterns do not merge", func(t *testing.T) {
		acl := aclOf(t,
			`path "secret/foo" { capabilities = ["read"] }`,
			`path "secret/foo*" { capabilities = ["update"] }`,
			`path "secret/+" { capabilities = ["delete"] }`,
		)
		if got := acl.Capabilities("secret/foo"); !slices.Equal(got, []string{"read"}) {
			t.Errorf("Capabilities = %q, want the exact rule's only", got)
		}
	})

	// Parameter merges, as Vault's mergePermissions.
	tests := []struct {
		name     string
		policies []string
		params   map[string]any
		want     bool
	}{
		{"allowed values concatenate", []string{
			`path "a" { allowed_parameters = { "k" = ["x"] } }`,
			`path "a" { allowed_parameters = { "k" = ["y"] } }`,
		}, map[string]any{"k": "y"}, true},
		{"allowed values concatenate 2", []string{
			`path "a" { allowed_parameters = { "k" = ["x"] } }`,
			`path "a" { allowed_parameters = { "k" = ["y"] } }`,
		}, map[string]any{"k": "z"}, false},
		{"empty allowed list wins", []string{
			`path "a" { allowed_parameters = { "k" = ["x"] } }`,
			`path "a" { allowed_parameters = { "k" = [] } }`,
		}, map[string]any{"k": "z"}, true},
		{"empty allowed list wins, either order", []string{
			`path "a" { allowed_parameters = { "k" = [] } }`,
			`path "a" { allowed_parameters = { "k" = ["x"] } }`,
		}, map[string]any{"k": "z"}, true},
		{"allowed keys union", []string{
			`path "a" { allowed_parameters = { "k" = [] } }`,
			`path "a" { allowed_parameters = { "j" = [] } }`,
		}, map[string]any{"k": 1, "j": 2}, true},
		{"a stanza without allowed_parameters lifts nothing", []string{
			`path "a" { allowed_parameters = { "k" = [] } }`,
			`path "a" { capabilities = ["read"] }`,
		}, map[string]any{"other": 1}, false},
		{"denied values concatenate", []string{
			`path "a" { denied_parameters = { "k" = ["x"] } }`,
			`path "a" { denied_parameters = { "k" = ["y"] } }`,
		}, map[string]any{"k": "x"}, false},
		{"empty denied list wins", []string{
			`path "a" { denied_parameters = { "k" = ["x"] } }`,
			`path "a" { denied_parameters = { "k" = [] } }`,
		}, map[string]any{"k": "anything"}, false},
		{"required union", []string{
			`path "a" { required_parameters = ["k"] }`,
			`path "a" { required_parameters = ["j", "k"] }`,
		}, map[string]any{"k": 1}, false},
		{"required union satisfied", []string{
			`path "a" { required_parameters = ["k"] }`,
			`path "a" { required_parameters = ["j", "k"] }`,
		}, map[string]any{"k": 1, "j": 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			texts := append([]string{`path "a" { capabilities = ["update"] }`}, tt.policies...)
			res := aclOf(t, texts...).Allow(Request{Path: "a", Operation: engine.OpUpdate, Params: tt.params})
			if res.Allowed != tt.want {
				t.Errorf("params %v: allowed %v (%s), want %v", tt.params, res.Allowed, res.Reason, tt.want)
			}
		})
	}
}

func TestOperations(t *testing.T) {
	acl := aclOf(t, `
path "kv/create-only/*" {
  capabilities = ["create"]
}
path "kv/update-only/*" {
  capabilities = ["update"]
}
path "kv/all/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "kv/read/*" {
  capabilities = ["read"]
}
path "kv/none/*" {
  capabilities = []
}
path "kv/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"]
}
`)
	ops := []struct {
		name   string
		op     engine.Operation
		create bool
	}{
		{"create", engine.OpUpdate, true},
		{"update", engine.OpUpdate, false},
		{"read", engine.OpRead, false},
		{"patch", engine.OpPatch, false},
		{"delete", engine.OpDelete, false},
		{"list", engine.OpList, false},
	}
	tests := []struct {
		prefix string
		allow  []string
	}{
		{"kv/create-only/", []string{"create"}},
		{"kv/update-only/", []string{"update"}},
		{"kv/all/", []string{"create", "update", "read", "patch", "delete", "list"}},
		{"kv/read/", []string{"read"}},
		{"kv/none/", nil},
	}
	for _, tt := range tests {
		for _, op := range ops {
			path := tt.prefix + "x"
			if op.op == engine.OpList {
				path = tt.prefix + "x/"
			}
			res := acl.Allow(Request{Path: path, Operation: op.op, Create: op.create})
			if want := slices.Contains(tt.allow, op.name); res.Allowed != want {
				t.Errorf("%s on %s: allowed %v (%s), want %v", op.name, path, res.Allowed, res.Reason, want)
			}
			if res.RootPrivs {
				t.Errorf("%s on %s: RootPrivs without sudo", op.name, path)
			}
		}
	}
	if res := acl.Allow(Request{Path: "kv/x", Operation: engine.OpUnknown}); res.Allowed {
		t.Error("an unknown operation was allowed")
	}
	res := acl.Allow(Request{Path: "kv/x", Operation: engine.OpDelete})
	if !res.Allowed || !res.RootPrivs || res.Rule != "kv/*" {
		t.Errorf("sudo rule: %+v, want allowed with RootPrivs", res)
	}
	// RootPrivs comes with the rule, even when the operation is refused.
	acl = aclOf(t, `path "sys/x" { capabilities = ["sudo"] }`)
	if res := acl.Allow(read("sys/x")); res.Allowed || !res.RootPrivs {
		t.Errorf("sudo-only rule: %+v, want refused with RootPrivs", res)
	}
}

// TestList pins Vault's fallbacks for LIST requests, whose paths end in "/".
func TestList(t *testing.T) {
	tests := []struct {
		name string
		rule string
		req  Request
		want bool
	}{
		{"exact with slash", "secret/metadata/", Request{Path: "secret/metadata/", Operation: engine.OpList}, true},
		{"exact without slash", "secret/metadata", Request{Path: "secret/metadata/", Operation: engine.OpList}, true},
		{"glob", "secret/metadata/*", Request{Path: "secret/metadata/", Operation: engine.OpList}, true},
		{"glob without slash", "secret/meta*", Request{Path: "secret/metadata/", Operation: engine.OpList}, true},
		{"+ rule without slash (Vault PR 23874)", "+/sys/policies/acl", Request{Path: "ns1/sys/policies/acl/", Operation: engine.OpList}, true},
		{"+ rule with slash", "+/sys/policies/acl/", Request{Path: "ns1/sys/policies/acl/", Operation: engine.OpList}, true},
		{"no fallback for reads", "secret/metadata", Request{Path: "secret/metadata/", Operation: engine.OpRead}, false},
		{"list without slash", "secret/metadata", Request{Path: "secret/metadata", Operation: engine.OpList}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acl := aclOf(t, fmt.Sprintf("path %q {\n  capabilities = [\"list\", \"read\"]\n}\n", tt.rule))
			if res := acl.Allow(tt.req); res.Allowed != tt.want {
				t.Errorf("allowed %v (%s), want %v", res.Allowed, res.Reason, tt.want)
			}
		})
	}

	// Vault looks for a non-exact match of the path without its slash
	// before one of the path as given, so a shorter glob can win here.
	// (OpenBao looks the other way round.)
	acl := aclOf(t, `
path "secret/foo/*" {
  capabilities = ["deny"]
}
path "secret/fo*" {
  capabilities = ["list"]
}
`)
	res := acl.Allow(Request{Path: "secret/foo/", Operation: engine.OpList})
	if !res.Allowed || res.Rule != "secret/fo*" {
		t.Errorf("Vault's LIST order: %+v", res)
	}
	if res := acl.Allow(Request{Path: "secret/foo/bar", Operation: engine.OpList}); res.Allowed {
		t.Errorf("list below the denied glob: %+v", res)
	}
}

func TestWrappingTTL(t *testing.T) {
	acl := aclOf(t, `
path "min" {
  capabilities = ["read"]
  min_wrapping_ttl = "1m"
}
path "max" {
  capabilities = ["read"]
  max_wrapping_ttl = "1h"
}
path "both" {
  capabilities = ["read"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = "1h"
}
`, `
path "both" {
  capabilities = ["read"]
  max_wrapping_ttl = "30m"
}
`)
	tests := []struct {
		path string
		ttl  time.Duration
		want bool
	}{
		{"min", 0, false},
		{"min", 30 * time.Second, false},
		{"min", time.Minute, true},
		{"min", 48 * time.Hour, true},
		{"max", 0, false},
		{"max", time.Second, true},
		{"max", time.Hour, true},
		{"max", time.Hour + 1, false},
		{"both", 10 * time.Minute, true},
		{"both", 40 * time.Minute, false}, // merged: the smaller max wins
		{"both", 30 * time.Second, false},
	}
	for _, tt := range tests {
		if res := acl.Allow(Request{Path: tt.path, Operation: engine.OpRead, WrapTTL: tt.ttl}); res.Allowed != tt.want {
			t.Errorf("%s with wrap TTL %v: allowed %v (%s), want %v", tt.path, tt.ttl, res.Allowed, res.Reason, tt.want)
		}
	}
}

func TestCapabilities(t *testing.T) {
	acl := aclOf(t, `
path "secret/*" {
  capabilities = ["update", "read", "list", "create", "delete", "patch", "sudo"]
}
path "secret/foo" {
  capabilities = ["read", "list"]
}
path "secret/deny/*" {
  capabilities = ["deny"]
}
path "secret/empty" {
  capabilities = []
}
path "kv/dir" {
  capabilities = ["list"]
}
path "kv/+/x" {
  capabilities = ["subscribe", "read"]
}
`)
	tests := []struct {
		path string
		want []string
	}{
		{"secret/bar", []string{"create", "delete", "list", "patch", "read", "sudo", "update"}},
		{"secret/foo", []string{"list", "read"}},
		{"/secret/foo", []string{"list", "read"}},
		{"secret/deny/x", []string{"deny"}},
		{"secret/empty", []string{"deny"}},
		{"nowhere", []string{"deny"}},
		{"kv/dir/", []string{"list"}}, // the LIST fallback
		{"kv/a/x", []string{"read", "subscribe"}},
	}
	for _, tt := range tests {
		got := acl.Capabilities(tt.path)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Capabilities(%q) = %q, want %q", tt.path, got, tt.want)
		}
		if !slices.IsSorted(got) {
			t.Errorf("Capabilities(%q) = %q, not sorted", tt.path, got)
		}
	}
	// The result is the caller's to change.
	got := acl.Capabilities("secret/foo")
	got[0] = "changed"
	if again := acl.Capabilities("secret/foo"); again[0] != "list" {
		t.Errorf("Capabilities shares its slice: %q", again)
	}
	if got := NewACL().Capabilities("secret/foo"); !slices.Equal(got, []string{"deny"}) {
		t.Errorf("no policies: %q", got)
	}
}

func TestRoot(t *testing.T) {
	for _, acl := range []*ACL{
		NewACL(RootPolicy()),
		NewACL(mustParse(t, "Root", "")),
		NewACL(mustParse(t, "default", DefaultPolicy), RootPolicy()),
	} {
		if !acl.IsRoot() {
			t.Fatal("not a root ACL")
		}
		res := acl.Allow(Request{Path: "sys/anything", Operation: engine.OpDelete, Params: map[string]any{"x": 1}})
		if !res.Allowed || !res.RootPrivs || !res.IsRoot {
			t.Errorf("root Allow = %+v", res)
		}
		if got := acl.Capabilities("any/path"); !slices.Equal(got, []string{"root"}) {
			t.Errorf("root Capabilities = %q", got)
		}
		if !acl.HasMountAccess("secret/") {
			t.Error("root lacks mount access")
		}
	}
	if acl := aclOf(t, `path "*" { capabilities = ["sudo", "read"] }`); acl.IsRoot() {
		t.Error("a policy granting everything is not root")
	}
}

func TestHasMountAccess(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		mount  string
		want   bool
	}{
		{"nothing", ``, "secret/", false},
		{"rule below the mount", `path "secret/data/foo" { capabilities = ["read"] }`, "secret/", true},
		{"glob below the mount", `path "secret/data/*" { capabilities = ["list"] }`, "secret/", true},
		{"glob on the mount", `path "secret/*" { capabilities = ["read"] }`, "secret/", true},
		{"glob above the mount", `path "sec*" { capabilities = ["read"] }`, "secret/", true},
		{"star", `path "*" { capabilities = ["read"] }`, "secret/", true},
		{"exact mount path without slash", `path "secret" { capabilities = ["read"] }`, "secret/", true},
		{"mount given without slash", `path "secret/data/foo" { capabilities = ["read"] }`, "secret", true},
		{"other mount", `path "transit/*" { capabilities = ["read"] }`, "secret/", false},
		{"sibling prefix", `path "secretary/*" { capabilities = ["read"] }`, "secret/", false},
		{"deny only", `path "secret/*" { capabilities = ["deny"] }`, "secret/", false},
		{"empty capabilities", `path "secret/x" { capabilities = [] }`, "secret/", false},
		{"deny on the mount, grant below", "path \"secret/*\" {\n capabilities = [\"deny\"]\n}\npath \"secret/data/mine\" {\n capabilities = [\"read\"]\n}\n", "secret/", true},
		{"+ first segment", `path "+/data/*" { capabilities = ["read"] }`, "secret/", true},
		{"+ rule on another mount", `path "kv/+/x" { capabilities = ["read"] }`, "secret/", false},
		{"+ rule on this mount", `path "secret/+/x" { capabilities = ["read"] }`, "secret/", true},
		{"+ rule denying", `path "secret/+/x" { capabilities = ["deny"] }`, "secret/", false},
		{"bare +", `path "+" { capabilities = ["read"] }`, "secret/", true},
		{"bare + on a two-segment mount", `path "+" { capabilities = ["read"] }`, "auth/userpass/", false},
		{"+ on a two-segment mount", `path "auth/+/login" { capabilities = ["update"] }`, "auth/userpass/", true},
		{"+ glob on a two-segment mount", `path "auth/+/*" { capabilities = ["update"] }`, "auth/userpass/", true},
		{"+ rule on another auth mount", `path "auth/+/login" { capabilities = ["update"] }`, "sys/userpass/", false},
		{"+ rule too deep for its prefix", `path "x/+/y" { capabilities = ["read"] }`, "x/", true},
		{"templated rules do not count", `path "secret/{{identity.entity.id}}/*" { capabilities = ["read"] }`, "secret/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := aclOf(t, tt.policy).HasMountAccess(tt.mount); got != tt.want {
				t.Errorf("HasMountAccess(%q) = %v, want %v", tt.mount, got, tt.want)
			}
		})
	}
}

func TestResultFields(t *testing.T) {
	acl := aclOf(t, `path "a/*" { capabilities = ["read"] }`, `path "a/*" { capabilities = ["read", "update"] }`)
	res := acl.Allow(read("a/b"))
	if !res.Allowed || res.Rule != "a/*" || res.Reason != "" || !slices.Equal(res.Policies, []string{"p1", "p2"}) ||
		!slices.Equal(res.Capabilities, []string{"read", "update"}) {
		t.Errorf("allowed result: %+v", res)
	}
	res = acl.Allow(Request{Path: "a/b", Operation: engine.OpDelete})
	if res.Allowed || !strings.Contains(res.Reason, `"delete"`) || res.Policies != nil {
		t.Errorf("refused result: %+v", res)
	}
	res = acl.Allow(read("b"))
	if res.Allowed || res.Rule != "" || res.Reason == "" || !slices.Equal(res.Capabilities, []string{"deny"}) {
		t.Errorf("unmatched result: %+v", res)
	}
}

// TestNilPolicies checks that NewACL skips nil policies and rules.
func TestNilPolicies(t *testing.T) {
	p := mustParse(t, "p", `path "a" { capabilities = ["read"] }`)
	p.Paths = append(p.Paths, nil)
	acl := NewACL(nil, p, nil)
	if !acl.Allow(read("a")).Allowed {
		t.Error("read refused")
	}
}

// refNonExact is a plain reading of Vault's CheckAllowedFromNonExactPaths,
// without the ACL's indexes: collect the longest matching glob rule and
// every matching "+" rule, order them by priority, take the highest.
func refNonExact(patterns []string, path string) string {
	type cand struct {
		prio
		pattern string
	}
	var cands []cand
	best := -1
	for i, p := range patterns {
		kind, key := classify(p)
		if kind == kindPrefix && strings.HasPrefix(path, key) && (best < 0 || len(key) > len(patterns[best])-1) {
			best = i
		}
	}
	if best >= 0 {
		key := strings.TrimSuffix(patterns[best], "*")
		cands = append(cands, cand{prio{firstWC: len(key), isPrefix: true, wcPath: key}, patterns[best]})
	}
	pathParts := strings.Split(path, "/")
next:
	for _, p := range patterns {
		if kind, _ := classify(p); kind != kindWildcard {
			continue
		}
		c := cand{pattern: p}
		c.firstWC = strings.Index(p, "+")
		c.wcPath, c.isPrefix = strings.CutSuffix(p, "*")
		parts := strings.Split(c.wcPath, "/")
		if len(pathParts) < len(parts) || (!c.isPrefix && len(parts) != len(pathParts)) {
			continue
		}
		for i, part := range parts {
			switch {
			case part == "+":
				c.wildcards++
			case part == pathParts[i]:
			case c.isPrefix && i == len(parts)-1 && strings.HasPrefix(pathParts[i], part):
			default:
				continue next
			}
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return ""
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.lower(&b.prio) {
			return -1
		}
		if b.lower(&a.prio) {
			return 1
		}
		return 0
	})
	return cands[len(cands)-1].pattern
}

// TestNonExactReference compares the ACL's indexed lookup with refNonExact
// on random rules and paths.
func TestNonExactReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"a", "b", "ab", "abc", "", "+"}
	pathSegs := []string{"a", "b", "ab", "abc", "", "abcd"}
	gen := func(alphabet []string, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return strings.Join(parts, "/")
	}
	for round := range 2000 {
		var patterns []string
		seen := map[string]bool{}
		for range 1 + rng.IntN(12) {
			p := gen(segs, 1+rng.IntN(4))
			if rng.IntN(2) == 0 {
				p += "*"
			}
			// Parse strips one leading "/": leave those out.
			if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "+*") || seen[p] {
				continue
			}
			seen[p] = true
			patterns = append(patterns, p)
		}
		acl := aclOf(t, rulesText(patterns, `"read"`))
		for range 20 {
			n := 1 + rng.IntN(5)
			if rng.IntN(10) == 0 {
				n = 29 + rng.IntN(6) // either side of maxSegs
			}
			path := strings.TrimLeft(gen(pathSegs, n), "/")
			var want string
			if seen[path] && !strings.HasSuffix(path, "*") {
				if kind, _ := classify(path); kind == kindExact {
					want = path
				}
			}
			if want == "" {
				want = refNonExact(patterns, path)
			}
			if got := acl.Allow(read(path)).Rule; got != want {
				t.Fatalf("round %d: rules %q, path %q: ACL chose %q, reference %q", round, patterns, path, got, want)
			}
		}
	}
}
