package engine

import (
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
	if fields == nil || !json.Valid(body) {
		return nil
	}
	var ignored []string
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
		name := t.String()
		if _, ok := fields[string(name)]; !ok && !slices.Contains(ignored, string(name)) {
			ignored = append(ignored, string(name))
		}
	}
	if t.Err != nil {
		return nil
	}
	slices.Sort(ignored)
	return ignored
}

// IgnoredWarning is Vault's warning for the parameters IgnoredParams finds.
func IgnoredWarning(names []string) string {
	return fmt.Sprintf("Endpoint ignored these unrecognized parameters: %v", names)
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
