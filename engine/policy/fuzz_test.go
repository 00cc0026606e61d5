package policy

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/strongroom/strongroom/engine"
)

// FuzzParse checks that Parse never panics, that it refuses only with
// ErrBadRequest, that an accepted policy parses the same from its Raw text
// and from its JSON form, and that the ACL compiled from it answers
// without panicking.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		DefaultPolicy,
		"",
		`path "secret/*" { capabilities = ["read"] }`,
		"path \"secret/+/x*\" {\n  policy = \"write\"\n  allowed_parameters = {\n    \"k\" = [\"a*\", 1, true]\n    \"*\" = []\n  }\n  denied_parameters = { \"K\" = [] }\n  required_parameters = [\"k\"]\n  min_wrapping_ttl = \"1m\"\n  max_wrapping_ttl = 7200\n}\n",
		`{"path": {"a/+": {"capabilities": ["deny"]}, "b*": [{"policy": "sudo"}]}}`,
		`{"path": [{"x": {"capabilities": ["list"], "subscribe_event_types": ["*"]}}]}`,
		"path \"/{{identity.entity.id}}/*\" {\n  capabilities = [\"read\"]\n}\n",
		`path "a" { capabilities = ["$${x}", "%%{y}"] }`,
		`path "a" {`,
		`path "+*" {}`,
		"path \"a\" {\n  capabilities = [\"read\"]\n  capabilities = [\"list\"]\n}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse("Fuzz", text)
		if err != nil {
			if !errors.Is(err, engine.ErrBadRequest) || !strings.HasPrefix(err.Error(), "failed to parse policy: ") {
				t.Fatalf("refusal %q is not a bad request from the parser", err)
			}
			return
		}
		if p.Name != "fuzz" || p.Raw != text {
			t.Fatalf("name %q, raw kept %v", p.Name, p.Raw == text)
		}
		again, err := Parse("fuzz", p.Raw)
		if err != nil {
			t.Fatalf("Raw does not parse again: %v", err)
		}
		if !reflect.DeepEqual(p, again) {
			t.Fatalf("Raw parses differently:\n%+v\n%+v", p, again)
		}
		for _, r := range p.Paths {
			checkRule(t, r)
		}
		if js, ok := jsonForm(p); ok {
			j, err := Parse("fuzz", js)
			if err != nil {
				t.Fatalf("JSON form %s does not parse: %v", js, err)
			}
			if len(j.Paths) != len(p.Paths) {
				t.Fatalf("JSON form has %d paths, want %d", len(j.Paths), len(p.Paths))
			}
			for i := range p.Paths {
				a, b := *p.Paths[i], *j.Paths[i]
				a.Line, b.Line = 0, 0
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("path %d differs in JSON form %s:\n%+v\n%+v", i, js, a, b)
				}
			}
		}
		exercise(t, p)
	})
}

// checkRule checks the invariants of a parsed rule.
func checkRule(t *testing.T, r *PathRules) {
	t.Helper()
	if strings.Contains(r.Path, "+*") {
		t.Fatalf("path %q accepted with +*", r.Path)
	}
	if !slices.IsSorted(r.Capabilities) {
		t.Fatalf("capabilities %q not sorted", r.Capabilities)
	}
	for _, c := range r.Capabilities {
		if _, ok := capBits[c]; !ok {
			t.Fatalf("unknown capability %q accepted", c)
		}
	}
	if slices.Contains(r.Capabilities, CapDeny) && (len(r.Capabilities) != 1 || r.AllowedParameters != nil || r.DeniedParameters != nil) {
		t.Fatalf("deny rule keeps more: %+v", *r)
	}
	if r.MinWrappingTTL < 0 || r.MaxWrappingTTL < 0 {
		t.Fatalf("negative wrapping TTL: %+v", *r)
	}
	for _, m := range []map[string][]any{r.AllowedParameters, r.DeniedParameters} {
		for k := range m {
			if k != strings.ToLower(k) {
				t.Fatalf("parameter name %q not lowercased", k)
			}
		}
	}
}

// jsonForm writes p in Vault's JSON policy form, or reports that its strings
// cannot be written as JSON unchanged.
func jsonForm(p *Policy) (string, bool) {
	var stanzas []map[string]map[string]any
	valid := true
	check := func(s string) {
		valid = valid && utf8.ValidString(s)
	}
	for _, r := range p.Paths {
		check(r.Path)
		body := map[string]any{"capabilities": r.Capabilities}
		for name, m := range map[string]map[string][]any{"allowed_parameters": r.AllowedParameters, "denied_parameters": r.DeniedParameters} {
			if m == nil {
				continue
			}
			body[name] = m
			for k, vs := range m {
				check(k)
				for _, v := range vs {
					if s, ok := v.(string); ok {
						check(s)
					}
				}
			}
		}
		if r.RequiredParameters != nil {
			body["required_parameters"] = r.RequiredParameters
			for _, s := range r.RequiredParameters {
				check(s)
			}
		}
		if r.SubscribeEventTypes != nil {
			body["subscribe_event_types"] = r.SubscribeEventTypes
			for _, s := range r.SubscribeEventTypes {
				check(s)
			}
		}
		if r.MinWrappingTTL != 0 {
			body["min_wrapping_ttl"] = r.MinWrappingTTL.String()
		}
		if r.MaxWrappingTTL != 0 {
			body["max_wrapping_ttl"] = r.MaxWrappingTTL.String()
		}
		// Parse strips one leading "/" from the path: give it one.
		stanzas = append(stanzas, map[string]map[string]any{"/" + r.Path: body})
	}
	if !valid {
		return "", false
	}
	doc := map[string]any{}
	if len(stanzas) > 0 {
		doc["path"] = stanzas
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// exercise runs the ACL of p on paths drawn from its rules.
func exercise(t *testing.T, p *Policy) {
	acl := NewACL(p)
	params := []map[string]any{
		nil,
		{"k": "a", "K": json.Number("1"), "x": []any{"a", true, nil}},
		{"k": "a,b, c", "n": 1.5, "m": map[string]any{"z": 1}},
	}
	for _, r := range p.Paths {
		base := strings.TrimSuffix(r.Path, "*")
		for _, path := range []string{r.Path, base, base + "x", base + "/", base + "a/b", strings.ReplaceAll(base, "+", "seg")} {
			for _, op := range []engine.Operation{engine.OpRead, engine.OpList, engine.OpUpdate, engine.OpDelete, engine.OpPatch} {
				for _, ps := range params {
					res := acl.Allow(Request{Path: path, Operation: op, Params: ps, Create: len(ps) == 0})
					if res.Allowed && res.Reason != "" {
						t.Fatalf("allowed with a reason: %+v", res)
					}
					if len(res.Capabilities) == 0 {
						t.Fatalf("no capabilities reported: %+v", res)
					}
				}
			}
			if caps := acl.Capabilities(path); len(caps) == 0 || !slices.IsSorted(caps) {
				t.Fatalf("Capabilities(%q) = %q", path, caps)
			}
			first, _, _ := strings.Cut(path, "/")
			acl.HasMountAccess(first + "/")
			acl.HasMountAccess(path)
		}
	}
}
