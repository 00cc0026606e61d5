package engine

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/segmentio/encoding/json"
)

// IgnoredParams returns, sorted and without repeats, the names of the
// top-level members of the JSON object body that no field of dst's struct
// type reads: the parameters an engine ignores. Vault's framework warns of
// them ("Endpoint ignored these unrecognized parameters: [...]",
// sdk/framework/backend.go HandleRequest), matching names exactly against
// the path's field schema; here the schema is dst's JSON field names (a
// field's tag, else its Go name; embedded structs' fields included). A
// body that is empty, not an object or malformed gives nil (the decoders
// refuse malformed bodies themselves). Nested objects are not checked, as
// in Vault.
func IgnoredParams(body []byte, dst any) []string {
	fields := paramFields(reflect.TypeOf(dst))
	if fields == nil {
		return nil
	}
	return memberNames(body, func(name []byte) bool {
		_, known := fields[string(name)]
		return !known
	})
}

// memberNames returns, sorted and without repeats, the names of the
// top-level members of the JSON object body for which keep reports true;
// nil when body is not a valid JSON object.
func memberNames(body []byte, keep func(name []byte) bool) []string {
	if !json.Valid(body) {
		return nil
	}
	var out []string
	t := json.NewTokenizer(body)
	first := true
	for t.Next() {
		if first {
			if t.Delim != '{' {
				return nil
			}
			first = false
			continue
		}
		if t.Depth != 1 || !t.IsKey {
			continue
		}
		if name := t.String(); keep(name) && !slices.Contains(out, string(name)) {
			out = append(out, string(name))
		}
	}
	if t.Err != nil {
		return nil
	}
	slices.Sort(out)
	return out
}

// IgnoredWarning is Vault's warning for the parameters IgnoredParams finds.
func IgnoredWarning(names []string) string {
	return fmt.Sprintf("Endpoint ignored these unrecognized parameters: %v", names)
}

// ReplacedWarning is Vault's warning for request parameters whose values
// the path's captures override (sdk/framework/backend.go HandleRequest).
func ReplacedWarning(names []string) string {
	return fmt.Sprintf("Endpoint replaced the value of these parameters with the values captured from the endpoint's path: %v", names)
}

// PathCapturer is implemented by an engine whose Vault paths capture
// parameters from the URL path, as sdk/framework patterns do with
// (?P<name>...): Vault gives a request parameter of the same name the
// path's value instead, and says so in a warning rather than calling the
// parameter unrecognized.
type PathCapturer interface {
	// PathCaptures returns the names that the pattern serving path (below
	// the mount) captures, the optional ones included, matched or not (the
	// framework sets every named group), or nil.
	PathCaptures(path string) []string
}

// BodyKeysAmong returns, sorted, those of names that are members of the
// top level of the JSON object body; nil when there are none, or when
// body is not a valid JSON object.
func BodyKeysAmong(body []byte, names []string) []string {
	if len(names) == 0 || len(body) == 0 {
		return nil
	}
	// A member name in plain text needs its quoted form in the body; only
	// a body with an escape could spell one otherwise. This keeps the
	// scan off the hot path (an encrypt body names no capture).
	if bytes.IndexByte(body, '\\') < 0 && !slices.ContainsFunc(names, func(n string) bool { return containsQuoted(body, n) }) {
		return nil
	}
	return memberNames(body, func(name []byte) bool { return slices.Contains(names, string(name)) })
}

// containsQuoted reports whether body holds "name", quotes included.
func containsQuoted(body []byte, name string) bool {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(name))
		if j < 0 {
			return false
		}
		k := i + j
		if k > 0 && body[k-1] == '"' && k+len(name) < len(body) && body[k+len(name)] == '"' {
			return true
		}
		i = k + 1
	}
}

// NoteIgnored records in r.Ignored the parameters of r's body that dst,
// a struct the body was decoded into, does not read; the front door warns
// of them on a response with data, as Vault does. A handler that decodes
// the body in stages calls it for each: a parameter stays ignored only if
// none of them reads it.
func (r *Request) NoteIgnored(dst any) {
	if !r.noted {
		r.noted = true
		r.Ignored = IgnoredParams(r.Body, dst)
		return
	}
	fields := paramFields(reflect.TypeOf(dst))
	r.Ignored = slices.DeleteFunc(r.Ignored, func(name string) bool {
		_, read := fields[name]
		return read || fields == nil
	})
}

// DecodeBody decodes r's body into dst with the engine's decode function,
// then notes the parameters dst does not take (NoteIgnored). decode's
// errors are returned as they are, and nothing is noted then.
func (r *Request) DecodeBody(dst any, decode func(body []byte, dst any) error) error {
	if err := decode(r.Body, dst); err != nil {
		return err
	}
	r.NoteIgnored(dst)
	return nil
}

var paramFieldCache sync.Map // reflect.Type -> map[string]struct{}

// paramFields returns the JSON member names that the struct type t (or the
// struct t points to) decodes, or nil when t is not a struct.
func paramFields(t reflect.Type) map[string]struct{} {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	if m, ok := paramFieldCache.Load(t); ok {
		return m.(map[string]struct{})
	}
	m := map[string]struct{}{}
	addParamFields(m, t)
	paramFieldCache.Store(t, m)
	return m
}

func addParamFields(m map[string]struct{}, t reflect.Type) {
	for f := range t.Fields() {
		tag, hasTag := f.Tag.Lookup("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" && !strings.Contains(tag, ",") {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addParamFields(m, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if !hasTag || name == "" {
			name = f.Name
		}
		m[name] = struct{}{}
	}
}

// ParamNamer is implemented by an engine that can name every parameter of
// every one of its paths. A read's query parameters become its data in
// Vault, checked against the path's whole field schema (the fields of
// every operation on the path); an engine's names are a superset of any
// one path's, so a query parameter outside them is one Vault would warn
// of too. An engine whose paths take arbitrary input (KV version 1,
// cubbyhole) does not implement it.
type ParamNamer interface {
	ParamNames() map[string]struct{}
}

// ParamSet returns names together with the JSON member names of the
// structs dsts decode (see IgnoredParams).
func ParamSet(names []string, dsts ...any) map[string]struct{} {
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	for _, d := range dsts {
		for n := range paramFields(reflect.TypeOf(d)) {
			m[n] = struct{}{}
		}
	}
	return m
}

// IgnoredQuery returns, sorted, the names of q that known does not hold.
func IgnoredQuery(q url.Values, known map[string]struct{}) []string {
	var out []string
	for k := range q {
		if _, ok := known[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
