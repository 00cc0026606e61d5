package policy

import (
	"encoding/json"
	"strconv"
	"strings"
)

// value is a compiled entry of an allowed_parameters or denied_parameters
// list.
type value struct {
	glob bool   // a string entry, matched as Vault's GlobbedStringsMatch
	text string // the string, or a number or bool in canonical text
	mode globMode
	core string // text without its leading and trailing "*"
}

type globMode uint8

const (
	globExact globMode = iota
	globPrefix
	globSuffix
	globContains
)

// compileValues compiles a list of policy values (strings, bools and
// json.Number, as Parse makes them).
func compileValues(vs []any) []value {
	out := make([]value, 0, len(vs))
	for _, v := range vs {
		switch x := v.(type) {
		case string:
			out = append(out, compileGlob(x))
		default:
			if s, ok := scalarText(x); ok {
				out = append(out, value{text: s})
			}
		}
	}
	return out
}

// compileGlob compiles a string entry as Vault's GlobbedStringsMatch reads
// it: a leading and/or trailing "*" matches any text there; an entry
// shorter than two characters (so "*" itself) matches only itself.
func compileGlob(s string) value {
	v := value{glob: true, text: s, core: s}
	if len(s) < 2 {
		return v
	}
	pre, suf := s[0] == '*', s[len(s)-1] == '*'
	switch {
	case pre && suf:
		v.mode, v.core = globContains, s[1:len(s)-1]
	case pre:
		v.mode, v.core = globSuffix, s[1:]
	case suf:
		v.mode, v.core = globPrefix, s[:len(s)-1]
	}
	return v
}

// matches reports whether the request value's text s matches the entry.
func (v *value) matches(s string) bool {
	if !v.glob {
		return s == v.text
	}
	switch v.mode {
	case globPrefix:
		return strings.HasPrefix(s, v.core)
	case globSuffix:
		return strings.HasSuffix(s, v.core)
	case globContains:
		return strings.Contains(s, v.core)
	}
	return s == v.text
}

// scalarText gives the text a request value is compared by: strings as
// they are, numbers in canonical form (canonicalNumber), bools as "true"
// and "false". Other values (nil, lists, objects) have none.
//
// Vault compares non-string values with reflect.DeepEqual, so that a JSON
// number in a request (a json.Number) never equals a number in a policy;
// Strongroom compares numbers by their text instead, as it does strings.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return canonicalNumber(string(x)), true
	case float64:
		return floatText(x), true
	case float32:
		return floatText(float64(x)), true
	case int:
		return strconv.FormatInt(int64(x), 10), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// inList is Vault's valueInParameterList: whether the request value v
// matches an entry of list. Policy entries are never null, so a null
// request value matches none.
func inList(v any, list []value) bool {
	s, ok := scalarText(v)
	if !ok {
		return false
	}
	for i := range list {
		if list[i].matches(s) {
			return true
		}
	}
	return false
}

// allowedValue is Vault's valueInAllowedParameterList: an empty list allows
// any value; otherwise the value must match an entry, or, for a list, each
// of its elements must, or, for a string, each of its comma-separated and
// trimmed parts must (Vault assumes the field may be a comma-separated
// list). As in Vault, that makes the empty string, which has no parts,
// allowed whatever the list.
func allowedValue(v any, list []value) bool {
	if len(list) == 0 || inList(v, list) {
		return true
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !inList(e, list) {
				return false
			}
		}
		return true
	case []string:
		for _, e := range x {
			if !inList(e, list) {
				return false
			}
		}
		return true
	case string:
		if x == "" {
			return true
		}
		for rest := x; ; {
			part, tail, more := strings.Cut(rest, ",")
			if !inList(strings.TrimSpace(part), list) {
				return false
			}
			if !more {
				return true
			}
			rest = tail
		}
	}
	return false
}

// deniedValue is Vault's valueInDeniedParameterList: an empty list denies
// any value; otherwise the value is denied if it matches an entry, or, for
// a list, if any element does, or, for a string, if any comma-separated
// trimmed part does.
func deniedValue(v any, list []value) bool {
	if len(list) == 0 || inList(v, list) {
		return true
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if inList(e, list) {
				return true
			}
		}
	case []string:
		for _, e := range x {
			if inList(e, list) {
				return true
			}
		}
	case string:
		if x == "" {
			return false
		}
		for rest := x; ; {
			part, tail, more := strings.Cut(rest, ",")
			if inList(strings.TrimSpace(part), list) {
				return true
			}
			if !more {
				return false
			}
			rest = tail
		}
	}
	return false
}
