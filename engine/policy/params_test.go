package policy

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

// body decodes a JSON request body as the front door does.
func body(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// TestParameters covers each parameter rule, with the examples of Vault's
// policy documentation where it has them.
func TestParameters(t *testing.T) {
	type check struct {
		body string
		want bool
	}
	tests := []struct {
		name   string
		rules  string
		checks []check
	}{
		{"docs: allowed values, any other key", `
  allowed_parameters = {
    "bar" = ["zip", "zap"]
    "*"   = []
  }`, []check{
			{`{}`, true},
			{`{"bar": "zip"}`, true},
			{`{"bar": "zap", "other": "x"}`, true},
			{`{"bar": "zop"}`, false},
			{`{"BAR": "zop"}`, false}, // names compare lowercased
			{`{"other": 1}`, true},
		}},
		{"docs: only bar, any value", `
  allowed_parameters = {
    "bar" = []
  }`, []check{
			{`{"bar": "anything"}`, true},
			{`{"bar": 1, "baz": 2}`, false},
			{`{"Bar": {"nested": true}}`, true},
			{`{}`, true},
		}},
		{"allowed * alone", `
  allowed_parameters = {
    "*" = []
  }`, []check{
			{`{"a": 1, "b": [1, 2]}`, true},
		}},
		{"allowed * ignores its values", `
  allowed_parameters = {
    "*" = ["only-this"]
  }`, []check{
			{`{"a": "other"}`, true},
		}},
		{"empty allowed_parameters restrict nothing", `
  allowed_parameters = {}`, []check{
			{`{"a": 1}`, true},
		}},
		{"docs: denied values", `
  denied_parameters = {
    "bar" = ["zip", "zap"]
  }`, []check{
			{`{"bar": "zip"}`, false},
			{`{"Bar": "zap"}`, false},
			{`{"bar": "zop"}`, true},
			{`{"baz": "zip"}`, true},
		}},
		{"denied key, any value", `
  denied_parameters = {
    "bar" = []
  }`, []check{
			{`{"bar": ""}`, false},
			{`{"bar": null}`, false},
			{`{"baz": 1}`, true},
			{`{}`, true},
		}},
		{"docs: denied *", `
  denied_parameters = {
    "*" = []
  }`, []check{
			{`{}`, true},
			{`{"anything": 1}`, false},
		}},
		{"denied before allowed", `
  allowed_parameters = {
    "bar" = []
  }
  denied_parameters = {
    "bar" = ["zip"]
  }`, []check{
			{`{"bar": "zap"}`, true},
			{`{"bar": "zip"}`, false},
		}},
		{"docs: required", `
  required_parameters = ["bar", "baz"]`, []check{
			{`{"bar": 1, "baz": 2}`, true},
			{`{"bar": 1, "baz": 2, "other": 3}`, true},
			{`{"bar": 1}`, false},
			{`{}`, false},
			{`{"BAR": 1, "baz": 2}`, false}, // request names are not lowercased for this check
		}},
		{"required names lowercased", `
  required_parameters = ["Bar"]`, []check{
			{`{"bar": 1}`, true},
			{`{"Bar": 1}`, false},
		}},
		{"required before the empty body", `
  required_parameters = ["bar"]
  denied_parameters = { "*" = [] }`, []check{
			{`{}`, false},
			{`{"bar": 1}`, false},
		}},
		{"docs: globs", `
  allowed_parameters = {
    "pre" = ["foo-*"]
    "suf" = ["*-foo"]
    "mid" = ["*oo*"]
    "star" = ["*"]
    "stars" = ["**"]
  }`, []check{
			{`{"pre": "foo-bar"}`, true},
			{`{"pre": "bar-foo"}`, false},
			{`{"suf": "bar-foo"}`, true},
			{`{"suf": "foo-bar"}`, false},
			{`{"mid": "a-oo-b"}`, true},
			{`{"mid": "a-o-b"}`, false},
			{`{"star": "*"}`, true}, // a lone "*" matches only itself
			{`{"star": "x"}`, false},
			{`{"stars": "anything"}`, true},
		}},
		{"denied globs", `
  denied_parameters = {
    "path" = ["sys/*", "*secret*"]
  }`, []check{
			{`{"path": "sys/seal"}`, false},
			{`{"path": "a-secret-b"}`, false},
			{`{"path": "kv/x"}`, true},
		}},
		{"numbers and bools compare by text", `
  allowed_parameters = {
    "ttl" = [30, "1h", "6*"]
    "flag" = [true]
  }`, []check{
			{`{"ttl": 30}`, true},
			{`{"ttl": 30.0}`, true},
			{`{"ttl": 3e1}`, true},
			{`{"ttl": "30"}`, true},
			{`{"ttl": "1h"}`, true},
			{`{"ttl": 60}`, true}, // the glob "6*" on its text
			{`{"ttl": 31}`, false},
			{`{"ttl": null}`, false},
			{`{"flag": true}`, true},
			{`{"flag": "true"}`, true},
			{`{"flag": false}`, false},
		}},
		{"list values: each element allowed", `
  allowed_parameters = {
    "policies" = ["default", "dev-*"]
  }`, []check{
			{`{"policies": ["default", "dev-a"]}`, true},
			{`{"policies": ["default", "admin"]}`, false},
			{`{"policies": []}`, true},
			{`{"policies": "default,dev-b"}`, true},   // comma-separated string
			{`{"policies": "default, dev-b "}`, true}, // parts are trimmed
			{`{"policies": "default,admin"}`, false},
			{`{"policies": ""}`, true}, // Vault: no parts, nothing to refuse
			{`{"policies": {"a": "default"}}`, false},
		}},
		{"list values: any element denied", `
  denied_parameters = {
    "policies" = ["root", "admin*"]
  }`, []check{
			{`{"policies": ["default", "admin-x"]}`, false},
			{`{"policies": ["default"]}`, true},
			{`{"policies": "default, root"}`, false},
			{`{"policies": "default"}`, true},
			{`{"policies": ""}`, true},
			{`{"policies": [["root"]]}`, true}, // nested lists are not looked into
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acl := aclOf(t, "path \"secret/foo\" {\n  capabilities = [\"create\", \"update\", \"read\", \"patch\", \"delete\", \"list\"]\n"+tt.rules+"\n}\n")
			for _, c := range tt.checks {
				params := body(t, c.body)
				for _, op := range []Request{
					{Operation: engine.OpUpdate, Create: true},
					{Operation: engine.OpUpdate},
					{Operation: engine.OpPatch},
					{Operation: engine.OpRead},
				} {
					op.Path, op.Params = "secret/foo", params
					res := acl.Allow(op)
					if res.Allowed != c.want {
						t.Errorf("%v (create %v) %s: allowed %v (%s), want %v", op.Operation, op.Create, c.body, res.Allowed, res.Reason, c.want)
					}
				}
				// Parameters are not checked for deletes and lists.
				for _, op := range []engine.Operation{engine.OpDelete, engine.OpList} {
					if res := acl.Allow(Request{Path: "secret/foo", Operation: op, Params: params}); !res.Allowed {
						t.Errorf("%v %s: refused (%s)", op, c.body, res.Reason)
					}
				}
			}
		})
	}
}

// TestParameterGoTypes checks request values that did not come from
// encoding/json with UseNumber.
func TestParameterGoTypes(t *testing.T) {
	acl := aclOf(t, `path "a" {
  capabilities = ["update"]
  allowed_parameters = { "n" = [30, 0.5], "s" = ["x", "y"] }
}`)
	tests := []struct {
		v    any
		want bool
	}{
		{float64(30), true}, {float32(0.5), true}, {int(30), true}, {int8(30), true}, {int16(30), true},
		{int32(30), true}, {int64(30), true}, {uint(30), true}, {uint8(30), true}, {uint16(30), true},
		{uint32(30), true}, {uint64(30), true}, {int64(31), false}, {0.25, false},
		{json.Number("3.0e1"), true}, {json.Number("0.50"), true},
	}
	for _, tt := range tests {
		if res := acl.Allow(Request{Path: "a", Operation: engine.OpUpdate, Params: map[string]any{"n": tt.v}}); res.Allowed != tt.want {
			t.Errorf("n = %T(%v): allowed %v, want %v", tt.v, tt.v, res.Allowed, tt.want)
		}
	}
	for _, v := range []any{[]string{"x", "y"}, []any{"y"}} {
		if res := acl.Allow(Request{Path: "a", Operation: engine.OpUpdate, Params: map[string]any{"s": v}}); !res.Allowed {
			t.Errorf("s = %#v refused", v)
		}
	}
	if res := acl.Allow(Request{Path: "a", Operation: engine.OpUpdate, Params: map[string]any{"s": []string{"x", "z"}}}); res.Allowed {
		t.Error("s = [x z] allowed")
	}
}

func TestCanonicalNumber(t *testing.T) {
	tests := map[string]string{
		"30": "30", "30.0": "30", "3e1": "30", "-0": "0", "0.5": "0.5", "1e21": "1e+21",
		"9007199254740993": "9007199254740993", "1e999999": "1e+999999", "x": "x",
	}
	for in, want := range tests {
		if got := canonicalNumber(in); got != want {
			t.Errorf("canonicalNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
