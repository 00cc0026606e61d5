package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

// teamPolicy writes a policy of 20 rules for team i, of the shapes real
// policies have: globs, exact paths, "+" rules, parameter constraints, and
// rules every team shares (which the ACL merges).
func teamPolicy(i int) string {
	var b strings.Builder
	rule := func(path, caps, extra string) {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [%s]\n%s}\n", path, caps, extra)
	}
	t := fmt.Sprintf("team%d", i)
	rule("secret/data/"+t+"/*", `"create", "read", "update", "delete", "list"`, "")
	rule("secret/metadata/"+t+"/*", `"list", "read"`, "")
	rule("secret/data/"+t+"/prod/*", `"read"`, "")
	rule("secret/data/shared/+/config", `"read"`, "")
	rule("transit/encrypt/"+t+"-key", `"update"`, "")
	rule("transit/decrypt/"+t+"-key", `"update"`, "")
	rule("transit/keys/"+t+"-key", `"read"`, "")
	rule("kv/+/"+t+"/*", `"read", "list"`, "")
	rule("auth/token/lookup-self", `"read"`, "")
	rule("sys/capabilities-self", `"update"`, "")
	rule("pki/issue/"+t, `"update"`, fmt.Sprintf("  allowed_parameters = {\n    \"common_name\" = [\"*.%s.example.com\"]\n    \"ttl\" = []\n  }\n", t))
	rule("database/creds/"+t+"-ro", `"read"`, "")
	rule("secret/data/"+t+"/restricted", `"deny"`, "")
	rule("+/"+t+"/+/status", `"read"`, "")
	rule("cubbyhole/*", `"create", "read", "update", "delete", "list"`, "")
	rule("sys/mounts", `"read"`, "")
	rule("sys/policies/acl/"+t+"-*", `"read", "update"`, "")
	rule("aws/creds/"+t, `"read"`, "")
	rule("identity/entity/name/"+t, `"read"`, "")
	rule("secret/data/"+t+"/apps/+/config", `"read", "update"`, "  denied_parameters = {\n    \"admin\" = []\n  }\n")
	return b.String()
}

func benchACL(b *testing.B) *ACL {
	var ps []*Policy
	for i := range 10 {
		p := mustParse(b, fmt.Sprintf("team%d", i), teamPolicy(i))
		if len(p.Paths) != 20 {
			b.Fatalf("policy has %d rules", len(p.Paths))
		}
		ps = append(ps, p)
	}
	return NewACL(ps...)
}

// BenchmarkAllow measures the per-request decision with 10 policies of 20
// rules each.
func BenchmarkAllow(b *testing.B) {
	acl := benchACL(b)
	cases := []struct {
		name  string
		req   Request
		allow bool
	}{
		{"exact", Request{Path: "transit/keys/team3-key", Operation: engine.OpRead}, true},
		{"glob", Request{Path: "secret/data/team5/app/db", Operation: engine.OpRead}, true},
		{"deep-glob", Request{Path: "secret/data/team5/prod/db/primary", Operation: engine.OpRead}, true},
		{"plus", Request{Path: "kv/v1/team7/x", Operation: engine.OpRead}, true},
		{"plus-vs-glob", Request{Path: "secret/data/team2/apps/web/config", Operation: engine.OpUpdate,
			Params: map[string]any{"data": map[string]any{"k": "v"}}}, true},
		{"params", Request{Path: "pki/issue/team2", Operation: engine.OpUpdate,
			Params: map[string]any{"common_name": "a.team2.example.com", "ttl": "1h"}}, true},
		{"params-refused", Request{Path: "pki/issue/team2", Operation: engine.OpUpdate,
			Params: map[string]any{"common_name": "a.team3.example.com", "ttl": json.Number("3600")}}, false},
		{"list", Request{Path: "secret/metadata/team1/", Operation: engine.OpList}, true},
		{"miss", Request{Path: "secret/data/other/x", Operation: engine.OpRead}, false},
		{"denied", Request{Path: "secret/data/team4/restricted", Operation: engine.OpRead}, false},
	}
	for _, c := range cases {
		if got := acl.Allow(c.req); got.Allowed != c.allow {
			b.Fatalf("%s: allowed %v (%s by %q), want %v", c.name, got.Allowed, got.Reason, got.Rule, c.allow)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				acl.Allow(c.req)
			}
		})
	}
}

func BenchmarkNewACL(b *testing.B) {
	var ps []*Policy
	for i := range 10 {
		ps = append(ps, mustParse(b, fmt.Sprintf("team%d", i), teamPolicy(i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		NewACL(ps...)
	}
}

func BenchmarkParse(b *testing.B) {
	text := teamPolicy(1)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse("p", text); err != nil {
			b.Fatal(err)
		}
	}
}
