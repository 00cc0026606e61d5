package policy

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
)

func mustParse(t testing.TB, name, text string) *Policy {
	t.Helper()
	p, err := Parse(name, text)
	if err != nil {
		t.Fatalf("Parse(%q): %v", name, err)
	}
	return p
}

func TestParseFull(t *testing.T) {
	const text = `
# A comment, and a name Vault ignores.
name = "ignored"

path "/secret/data/*" {
  capabilities = ["update", "create", "read", "read", "patch", "delete", "list", "sudo"]
  allowed_parameters = {
    "Key" = ["v1", "v2*"]
    "*"   = []
  }
  denied_parameters = {
    "bad" = [1, 2.50, true]
  }
  required_parameters = ["a", "b"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
  comment = "kept out"
}

path "secret/+/x" {
  policy = "read"
}

// C++-style comments work too.
path "sys/deny-me" {
  capabilities = ["read", "deny"]
  allowed_parameters = { "ignored" = [] }
}

/* and block comments */
path "sys/nothing" {
  capabilities = []
}
`
	p := mustParse(t, "  MyPolicy ", text)
	if p.Name != "mypolicy" {
		t.Errorf("Name = %q, want mypolicy", p.Name)
	}
	if p.Raw != text {
		t.Errorf("Raw was not kept verbatim")
	}
	if len(p.Paths) != 4 {
		t.Fatalf("got %d paths, want 4", len(p.Paths))
	}
	want := &PathRules{
		Path:         "secret/data/*",
		Line:         5,
		Capabilities: []string{"create", "delete", "list", "patch", "read", "sudo", "update"},
		AllowedParameters: map[string][]any{
			"key": {"v1", "v2*"},
			"*":   {},
		},
		DeniedParameters:   map[string][]any{"bad": {json.Number("1"), json.Number("2.5"), true}},
		RequiredParameters: []string{"a", "b"},
		MinWrappingTTL:     time.Minute,
		MaxWrappingTTL:     time.Hour,
		bits:               bitCreate | bitRead | bitUpdate | bitDelete | bitList | bitSudo | bitPatch,
	}
	if got := p.Paths[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("path 0:\n got %+v\nwant %+v", *got, *want)
	}
	if got := p.Paths[1]; got.Path != "secret/+/x" || !slices.Equal(got.Capabilities, []string{"list", "read"}) {
		t.Errorf("path 1 = %+v, want secret/+/x with list, read", *got)
	}
	deny := p.Paths[2]
	if !slices.Equal(deny.Capabilities, []string{"deny"}) || deny.bits != bitDeny || deny.AllowedParameters != nil {
		t.Errorf("a denying rule keeps only the deny, got %+v", *deny)
	}
	if got := p.Paths[3]; len(got.Capabilities) != 0 || got.bits != 0 {
		t.Errorf("empty capabilities: got %+v", *got)
	}
}

func TestParseShorthand(t *testing.T) {
	tests := []struct {
		body string
		want []string
	}{
		{`policy = "deny"`, []string{"deny"}},
		{`policy = "read"`, []string{"list", "read"}},
		{`policy = "write"`, []string{"create", "delete", "list", "read", "update"}},
		{`policy = "sudo"`, []string{"create", "delete", "list", "read", "sudo", "update"}},
		{"capabilities = [\"patch\"]\npolicy = \"read\"", []string{"list", "patch", "read"}},
		{"capabilities = [\"patch\"]\npolicy = \"deny\"", []string{"deny"}},
		{`capabilities = ["subscribe", "recover"]`, []string{"recover", "subscribe"}},
	}
	for _, tt := range tests {
		p := mustParse(t, "p", "path \"x\" {\n"+tt.body+"\n}\n")
		if got := p.Paths[0].Capabilities; !slices.Equal(got, tt.want) {
			t.Errorf("%s: capabilities %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown top-level key", "path \"a\" {}\nbogus = 1\n", `failed to parse policy: invalid key "bogus" on line 2`},
		{"unknown top-level block", "other \"a\" {\n}\n", `failed to parse policy: invalid key "other" on line 1`},
		{"unknown path key", "path \"a\" {\n  capabilities = [\"read\"]\n  capabilites = [\"read\"]\n}\n", `failed to parse policy: path "a": invalid key "capabilites" on line 3`},
		{"unknown capability", "path \"a\" {\n  capabilities = [\n    \"read\",\n    \"foo\",\n  ]\n}\n", `failed to parse policy: path "a": invalid capability "foo" on line 4`},
		{"unknown capability after deny", "path \"a\" {\n  capabilities = [\"deny\", \"foo\"]\n}\n", `invalid capability "foo" on line 2`},
		{"root is not a capability", "path \"a\" {\n  capabilities = [\"root\"]\n}\n", `invalid capability "root" on line 2`},
		{"unknown shorthand", "path \"a\" {\n  policy = \"all\"\n}\n", `path "a": invalid policy "all" on line 2`},
		{"capabilities not a list", "path \"a\" {\n  capabilities = \"read\"\n}\n", `path "a": capabilities must be a list of strings on line 2`},
		{"capability not a string", "path \"a\" {\n  capabilities = [1]\n}\n", `capabilities must be a list of strings on line 2`},
		{"plus star", "path \"a/+*\" {\n  capabilities = [\"read\"]\n}\n", `path "a/+*": invalid use of wildcards ('+*' is forbidden) on line 1`},
		{"unclosed block", "path \"a\" {\n  capabilities = [\"read\"]\n", `failed to parse policy: At 1:10: Unclosed configuration block`},
		{"bad expression", "path \"a\" {\n  capabilities = [\"read\",,]\n}\n", `failed to parse policy: At 2:`},
		{"template in string", "path \"a\" {\n  capabilities = [\"${x}\"]\n}\n", `At 2:22: Variables not allowed`},
		{"function call", "path \"a\" {\n  capabilities = upper([\"read\"])\n}\n", `At 2:`},
		{"params not a map", "path \"a\" {\n  allowed_parameters = [\"x\"]\n}\n", `allowed_parameters must be a map of parameter names to lists of values on line 2`},
		{"param values not a list", "path \"a\" {\n  denied_parameters = {\n    \"x\" = \"y\"\n  }\n}\n", `denied_parameters: "x" must be a list of values on line 3`},
		{"nested param values", "path \"a\" {\n  allowed_parameters = {\n    x = [[\"y\"]]\n  }\n}\n", `values of "x" must be strings, numbers or bools on line 3`},
		{"required not strings", "path \"a\" {\n  required_parameters = [true]\n}\n", `required_parameters must be a list of strings on line 2`},
		{"bad ttl", "path \"a\" {\n  min_wrapping_ttl = \"soon\"\n}\n", `error parsing min_wrapping_ttl: invalid duration "soon" on line 2`},
		{"max below min", "path \"a\" {\n  min_wrapping_ttl = \"2h\"\n  max_wrapping_ttl = \"1h\"\n}\n", `max_wrapping_ttl cannot be less than min_wrapping_ttl on line 3`},
		{"control group", "path \"a\" {\n  capabilities = [\"read\"]\n  control_group = {}\n}\n", `path "a": control_group is a Vault Enterprise feature that Strongroom does not support on line 3`},
		{"mfa methods", "path \"a\" {\n  mfa_methods = [\"m\"]\n}\n", `mfa_methods is a Vault Enterprise feature`},
		{"unbalanced template", "path \"a/{{identity.entity.id\" {\n}\n", `failed to validate policy templating`},
		{"path without label", "path {\n}\n", `At 1:6: Missing name for path`},
		{"object form without equals", "path \"a\" {\n  allowed_parameters {\n    x = []\n  }\n}\n", `At 2:3: Unsupported block type`},
		{"json unknown key", "{\n  \"path\": {\n    \"a\": {\n      \"capabilities\": [\"read\"],\n      \"bogus\": 1\n    }\n  }\n}\n", `failed to parse policy: path "a": invalid key "bogus" on line 5`},
		{"json unknown capability", "{\n  \"path\": {\n    \"a\": {\n      \"capabilities\": [\n        \"foo\"\n      ]\n    }\n  }\n}\n", `invalid capability "foo" on line 5`},
		{"json syntax", "{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}", `failed to parse policy: At 1:`},
		{"json top-level key", "{\"path\": {}, \"x\": 1}", `invalid key "x" on line 1`},
		{"too deep", "path \"a\" {\n  capabilities = " + strings.Repeat("[", 100) + "\n}", `nesting deeper than 64 on line 2`},
		{"too big", strings.Repeat("#", MaxSize+1), `policy is larger than`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p", tt.text)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", p.Paths)
			}
			if !errors.Is(err, engine.ErrBadRequest) {
				t.Errorf("error %v does not match engine.ErrBadRequest", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\n does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "failed to parse policy: ") {
				t.Errorf("error %q lacks Vault's prefix", err)
			}
		})
	}
}

// TestParseJSON checks that the JSON form of a policy parses as its HCL form.
func TestParseJSON(t *testing.T) {
	const hclText = `
path "secret/*" {
  capabilities = ["read", "list"]
  allowed_parameters = {
    "a" = ["x", 30, false]
  }
  required_parameters = ["a"]
}
path "secret/*" {
  policy = "write"
}
path "sys/+/x" {
  capabilities = ["deny"]
}
`
	const jsonText = `  {
  "path": {
    "secret/*": [
      {"capabilities": ["read", "list"], "allowed_parameters": {"A": ["x", 3e1, false]}, "required_parameters": ["a"]},
      {"policy": "write"}
    ],
    "sys/+/x": {"capabilities": ["deny"]}
  }
}`
	h := mustParse(t, "h", hclText)
	j := mustParse(t, "j", jsonText)
	if len(h.Paths) != len(j.Paths) {
		t.Fatalf("HCL has %d paths, JSON %d", len(h.Paths), len(j.Paths))
	}
	for i := range h.Paths {
		hp, jp := *h.Paths[i], *j.Paths[i]
		hp.Line, jp.Line = 0, 0
		if !reflect.DeepEqual(hp, jp) {
			t.Errorf("path %d:\nHCL  %+v\nJSON %+v", i, hp, jp)
		}
	}
	// The array form of Vault's JSON policies.
	a := mustParse(t, "a", `{"path": [{"x": {"capabilities": ["read"]}}, {"y": {"policy": "deny"}}]}`)
	if len(a.Paths) != 2 || a.Paths[0].Path != "x" || a.Paths[1].Path != "y" || a.Paths[1].bits != bitDeny {
		t.Errorf("array form parsed as %+v", a.Paths)
	}
	// JSON strings are literal, "${" included.
	l := mustParse(t, "l", `{"path": {"a": {"capabilities": ["read"], "allowed_parameters": {"k": ["${x}"]}}}}`)
	if got := l.Paths[0].AllowedParameters["k"]; !reflect.DeepEqual(got, []any{"${x}"}) {
		t.Errorf("JSON string read as %q", got)
	}
}

func TestParseEscapes(t *testing.T) {
	p := mustParse(t, "p", `path "a" {
  allowed_parameters = { "k" = ["$${x}", "%%{y}", "tab\there"] }
}`)
	want := []any{"${x}", "%{y}", "tab\there"}
	if got := p.Paths[0].AllowedParameters["k"]; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseNumbers(t *testing.T) {
	p := mustParse(t, "p", `path "a" {
  allowed_parameters = { "n" = [30, 30.0, 3e1, 0.5, -2, 1e21, 9007199254740993] }
}`)
	want := []any{json.Number("30"), json.Number("30"), json.Number("30"), json.Number("0.5"),
		json.Number("-2"), json.Number("1e+21"), json.Number("9007199254740993")}
	if got := p.Paths[0].AllowedParameters["n"]; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, text := range []string{"", "\n# nothing\n", "{}"} {
		p := mustParse(t, "p", text)
		if len(p.Paths) != 0 {
			t.Errorf("%q: got paths %+v", text, p.Paths)
		}
	}
}

func TestParseTemplated(t *testing.T) {
	p := mustParse(t, "p", `
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "plain" {
  capabilities = ["read"]
}
`)
	if !p.Templated || !p.Paths[0].Templated || p.Paths[1].Templated {
		t.Errorf("Templated = %v, paths %v %v", p.Templated, p.Paths[0].Templated, p.Paths[1].Templated)
	}
	acl := NewACL(p)
	if r := acl.Allow(Request{Path: "identity/entity/id/{{identity.entity.id}}", Operation: engine.OpRead}); r.Allowed {
		t.Error("a templated rule matched its own text")
	}
	if r := acl.Allow(Request{Path: "plain", Operation: engine.OpRead}); !r.Allowed {
		t.Errorf("plain rule refused: %s", r.Reason)
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"my-policy", true},
		{"Default", true},
		{"", false},
		{"   ", false},
		{"root", false},
		{" ROOT ", false},
		{"response-wrapping", false},
		{"control-group", false},
	}
	for _, tt := range tests {
		err := ValidName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("ValidName(%q) = %v, not a bad request", tt.name, err)
		}
	}
	if got := NormalizeName(" Ops-Team\t"); got != "ops-team" {
		t.Errorf("NormalizeName = %q", got)
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := mustParse(t, DefaultPolicyName, DefaultPolicy)
	if p.Templated {
		t.Error("the default policy should hold no templated paths")
	}
	acl := NewACL(p)
	tests := []struct {
		path string
		op   engine.Operation
		want bool
	}{
		{"auth/token/lookup-self", engine.OpRead, true},
		{"auth/token/lookup-self", engine.OpUpdate, false},
		{"auth/token/renew-self", engine.OpUpdate, true},
		{"auth/token/revoke-self", engine.OpUpdate, true},
		{"sys/capabilities-self", engine.OpUpdate, true},
		{"sys/internal/ui/resultant-acl", engine.OpRead, true},
		{"cubbyhole/foo", engine.OpRead, true},
		{"cubbyhole/", engine.OpList, true},
		{"sys/tools/hash/sha2-256", engine.OpUpdate, true},
		{"sys/mounts", engine.OpRead, false},
		{"secret/data/foo", engine.OpRead, false},
		{"auth/token/create", engine.OpUpdate, false},
	}
	for _, tt := range tests {
		if got := acl.Allow(Request{Path: tt.path, Operation: tt.op}).Allowed; got != tt.want {
			t.Errorf("default policy: %v %s = %v, want %v", tt.op, tt.path, got, tt.want)
		}
	}
}
