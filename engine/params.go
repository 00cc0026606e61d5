package engine

import (
	"fmt"
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
