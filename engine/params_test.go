package engine

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

type paramsInner struct {
	Embedded string `json:"embedded"`
}

type paramsProbe struct {
	paramsInner
	Plaintext string          `json:"plaintext"`
	Context   json.RawMessage `json:"context,omitempty"`
	Skipped   string          `json:"-"`
	Untagged  int
}

func TestIgnoredParams(t *testing.T) {
	cases := []struct {
		body string
		want []string
	}{
		{`{"plaintext":"x","context":"y"}`, nil},
		{`{"plaintext":"x","embedded":"e","Untagged":2}`, nil},
		{`{"plaintext":"x","typo":1,"zeta":{"plaintext":1},"alpha":[1]}`, []string{"alpha", "typo", "zeta"}},
		{`{"typo":1,"typo":2}`, []string{"typo"}},
		{`{"Skipped":1,"hidden":1,"Plaintext":1}`, []string{"Plaintext", "Skipped", "hidden"}}, // exact names, as Vault's schema
		{`{"pl\u0061intext":"x","t\u00e9":1}`, []string{"té"}},
		{`{"nested":{"deep":{"x":1}},"plaintext":"p"}`, []string{"nested"}},
		{``, nil},
		{`null`, nil},
		{`[{"typo":1}]`, nil},
		{`{"typo":`, nil},
		{`{"plaintext":"x"} {"typo":1}`, nil},
	}
	for _, tc := range cases {
		got := IgnoredParams([]byte(tc.body), &paramsProbe{})
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.body, got, tc.want)
		}
	}
	if got := IgnoredParams([]byte(`{"a":1}`), map[string]any{}); got != nil {
		t.Errorf("a map takes every parameter: %q", got)
	}
	if w := IgnoredWarning([]string{"a", "b"}); w != "Endpoint ignored these unrecognized parameters: [a b]" {
		t.Errorf("warning %q is not Vault's", w)
	}
}

// FuzzIgnoredParams holds IgnoredParams to its definition on any body: for
// a valid JSON object, the sorted top-level member names (as encoding/json
// decodes them) that are not paramsProbe's; for anything else, nil.
func FuzzIgnoredParams(f *testing.F) {
	for _, s := range []string{`{"plaintext":"x","typo":1}`, `{"a":{"b":1},"a":2}`, `[]`, `{"\u00e9":1}`, `{"x":[{"y":1}]}`, ``} {
		f.Add([]byte(s))
	}
	fields := paramFields(reflectTypeOfProbe())
	f.Fuzz(func(t *testing.T, body []byte) {
		got := IgnoredParams(body, &paramsProbe{})
		obj, ok := stdObject(t, body, got)
		if !ok {
			return
		}
		var want []string
		for k := range obj {
			if _, ok := fields[k]; !ok {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%q: got %q, want %q", body, got, want)
		}
	})
}

func reflectTypeOfProbe() reflect.Type { return reflect.TypeOf(&paramsProbe{}) }

// TestNoteIgnoredInStages checks that a body decoded in stages (the token
// store reads "token" first, then the renewal's "increment") warns only of
// what no stage read.
func TestNoteIgnoredInStages(t *testing.T) {
	r := &Request{Body: []byte(`{"token":"t","increment":"1h","typo":1}`)}
	var first struct {
		Token string `json:"token"`
	}
	var second struct {
		Increment string `json:"increment"`
	}
	r.NoteIgnored(&first)
	if !slices.Equal(r.Ignored, []string{"increment", "typo"}) {
		t.Fatalf("after the first stage: %q", r.Ignored)
	}
	r.NoteIgnored(&second)
	if !slices.Equal(r.Ignored, []string{"typo"}) {
		t.Fatalf("after the second stage: %q", r.Ignored)
	}
	r.NoteIgnored(map[string]any{}) // takes everything
	if len(r.Ignored) != 0 {
		t.Fatalf("after a stage that takes any parameter: %q", r.Ignored)
	}
}

func BenchmarkIgnoredParamsEncryptBody(b *testing.B) {
	body := []byte(`{"plaintext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`)
	for b.Loop() {
		_ = IgnoredParams(body, &paramsProbe{})
	}
}

func TestIgnoredQuery(t *testing.T) {
	known := ParamSet([]string{"name", "version"}, &paramsProbe{})
	for _, n := range []string{"name", "version", "plaintext", "context", "embedded", "Untagged"} {
		if _, ok := known[n]; !ok {
			t.Errorf("%q missing from the set", n)
		}
	}
	q := url.Values{"version": {"1"}, "-format": {"json"}, "zeta": {""}, "plaintext": {"x"}}
	if got := IgnoredQuery(q, known); !slices.Equal(got, []string{"-format", "zeta"}) {
		t.Fatalf("IgnoredQuery = %q", got)
	}
	if got := IgnoredQuery(nil, known); got != nil {
		t.Fatalf("no query: %q", got)
	}
}

// TestDecodeBodyNotes checks that DecodeBody notes the parameters of a
// decoded body, and notes nothing when the engine's decoder refuses it.
func TestDecodeBodyNotes(t *testing.T) {
	r := &Request{Body: []byte(`{"plaintext":"x","typo":1}`)}
	var p paramsProbe
	if err := r.DecodeBody(&p, func(b []byte, v any) error { return json.Unmarshal(b, v) }); err != nil {
		t.Fatal(err)
	}
	if p.Plaintext != "x" || !slices.Equal(r.Ignored, []string{"typo"}) {
		t.Fatalf("decoded %+v, ignored %q", p, r.Ignored)
	}
	refused := errors.New("refused")
	r = &Request{Body: []byte(`{"typo":1}`)}
	if err := r.DecodeBody(&p, func([]byte, any) error { return refused }); err != refused || r.Ignored != nil {
		t.Fatalf("refused body: %v, ignored %q", err, r.Ignored)
	}
}

func TestBodyKeysAmong(t *testing.T) {
	names := []string{"name", "path"}
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"plaintext":"aGk="}`, nil},
		{`{"path":"x","name":"y","name":"z"}`, []string{"name", "path"}},
		{`{"data":{"path":"v"},"x":["name"]}`, nil}, // deeper, or a value
		{`{"data":"name"}`, nil},
		{`{"na\u006de":1}`, []string{"name"}}, // an escaped member name
		{`["name"]`, nil},
		{`{"name":`, nil}, // truncated
		{``, nil},
	} {
		if got := BodyKeysAmong([]byte(tc.body), names); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.body, got, tc.want)
		}
	}
}

// FuzzBodyKeysAmong holds BodyKeysAmong to encoding/json's view of the
// body's top-level member names.
func FuzzBodyKeysAmong(f *testing.F) {
	for _, s := range []string{`{"name":1}`, `{"a":{"name":1}}`, `{"n\u0061me":1,"path":[]}`, `"name"`, `{"name"`, ``} {
		f.Add([]byte(s))
	}
	names := []string{"name", "path", "urlalgorithm"}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := BodyKeysAmong(body, names)
		obj, ok := stdObject(t, body, got)
		if !ok {
			return
		}
		var want []string
		for _, n := range names {
			if _, ok := obj[n]; ok {
				want = append(want, n)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: got %q, want %q", body, got, want)
		}
	})
}

// stdObject is encoding/json's view of body as an object, for the fuzz
// targets; ok is false when there is nothing to compare (a body with
// invalid UTF-8, where decoders repair names differently, or one that is
// not an object, for which got must be nil).
func stdObject(t *testing.T, body []byte, got []string) (obj map[string]json.RawMessage, ok bool) {
	t.Helper()
	if !utf8.Valid(body) {
		return nil, false
	}
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		if got != nil {
			t.Fatalf("%q is not a JSON object, got %q", body, got)
		}
		return nil, false
	}
	return obj, true
}
