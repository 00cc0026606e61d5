package kv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/strongroom/strongroom/engine"
)

// Request bodies are decoded in two steps: the body into a typed request
// struct whose fields are json.RawMessage (so presence and null are
// visible, as Vault's FieldData.GetOk sees them), then each field by the
// converter of its Vault field type below. The converters accept what
// Vault's weakly typed decoding (mapstructure.WeakDecode) accepts for that
// type: an integer may come as a JSON number or a numeric string, a boolean
// as true/false, "true"/"1"/... or a number literal, and so on.

// decodeBody decodes a JSON request body into v (a pointer to a struct of
// json.RawMessage fields). An empty body or JSON null leaves v unchanged,
// as Vault treats a missing body. See checkBody for the errors.
func decodeBody(body []byte, v any) error {
	obj, err := checkBody(body)
	if err != nil || obj == nil {
		return err
	}
	if err := json.Unmarshal(obj, v); err != nil {
		return badRequest("failed to parse JSON input: malformed JSON")
	}
	return nil
}

// checkBody returns the body trimmed of whitespace when it is one JSON
// object, nil when it is empty or JSON null. Malformed JSON, trailing data
// and a top-level value that is not an object are engine.ErrBadRequest with
// Vault's "failed to parse JSON input: ..." message, which never echoes the
// input.
func checkBody(body []byte) ([]byte, error) {
	body = bytes.Trim(body, " \t\r\n")
	if len(body) == 0 || bytes.Equal(body, []byte("null")) {
		return nil, nil
	}
	var probe struct{}
	err := json.Unmarshal(body, &probe)
	if err == nil {
		return body, nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field == "" {
		return nil, badRequest("failed to parse JSON input: json: cannot unmarshal %s into Go value of type map[string]interface {}", te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return nil, badRequest("failed to parse JSON input: %s", se.Error())
	}
	return nil, badRequest("failed to parse JSON input: malformed JSON")
}

// fieldError is Vault's error for a field whose value does not convert to
// its type. input is shown only for fields that hold no secret (versions,
// numbers, durations); pass "" to leave it out.
func fieldError(field, input, reason string) error {
	if input != "" {
		return badRequest("Field validation failed: error converting input %s for field %q: %s", input, field, reason)
	}
	return badRequest("Field validation failed: error converting input for field %q: %s", field, reason)
}

// present reports whether a field was given in the body (null included).
func present(raw json.RawMessage) bool { return len(raw) > 0 }

// isNull reports whether a given field is JSON null.
func isNull(raw json.RawMessage) bool { return bytes.Equal(raw, []byte("null")) }

// kindOf names the JSON value's Go kind as mapstructure reports it.
func kindOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "invalid"
	}
	switch raw[0] {
	case '{':
		return "map"
	case '[':
		return "slice"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "invalid"
	default:
		return "string" // json.Number is a string kind
	}
}

// shown returns raw for an error message when it is a short scalar.
func shown(raw json.RawMessage) string {
	if len(raw) == 0 || len(raw) > 64 || raw[0] == '{' || raw[0] == '[' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// scalar returns the text of a string, number or boolean JSON value, and
// whether it was a string.
func scalar(raw json.RawMessage) (text string, isString bool, ok bool) {
	switch kindOf(raw) {
	case "string":
		if raw[0] == '"' {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", false, false
			}
			return s, true, true
		}
		return string(raw), false, true
	case "bool":
		return string(raw), false, true
	}
	return "", false, false
}

// intField converts a TypeInt field: null is 0, a number must be an
// integer, a string is parsed as an integer in base 0 ("" is 0), a boolean
// is 1 or 0.
func intField(field string, raw json.RawMessage) (int64, error) {
	if isNull(raw) {
		return 0, nil
	}
	text, isString, ok := scalar(raw)
	if !ok {
		return 0, fieldError(field, "", fmt.Sprintf("'' expected type 'int', got unconvertible type '%s'", kindOf(raw)))
	}
	switch {
	case text == "true":
		if !isString {
			return 1, nil
		}
	case text == "false":
		if !isString {
			return 0, nil
		}
	}
	if !isString {
		n, err := json.Number(text).Int64()
		if err != nil {
			return 0, fieldError(field, text, fmt.Sprintf("error decoding json.Number into int: %v", err))
		}
		return n, nil
	}
	return parseIntString(field, text)
}

func parseIntString(field, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, fieldError(field, shortInput(s), fmt.Sprintf("cannot parse '' as int: %v", err))
	}
	return n, nil
}

// shortInput returns s for an error message, cut to 64 bytes.
func shortInput(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// boolField converts a TypeBool field: null is false, a string or a number
// literal is parsed by strconv.ParseBool ("" is false).
func boolField(field string, raw json.RawMessage) (bool, error) {
	if isNull(raw) {
		return false, nil
	}
	text, _, ok := scalar(raw)
	if !ok {
		return false, fieldError(field, "", fmt.Sprintf("'' expected type 'bool', got unconvertible type '%s'", kindOf(raw)))
	}
	return parseBoolString(field, text)
}

func parseBoolString(field, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fieldError(field, shortInput(s), fmt.Sprintf("cannot parse '' as bool: %v", err))
	}
	return b, nil
}

// queryValue returns the first value of a query parameter and whether it
// was given.
func queryValue(q url.Values, name string) (string, bool) {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return "", ok
	}
	return v[0], true
}

// queryInt converts a TypeInt query parameter; a missing one is 0.
func queryInt(q url.Values, name string) (int64, error) {
	s, _ := queryValue(q, name)
	return parseIntString(name, s)
}

// queryBool converts a TypeBool query parameter; a missing one is false.
func queryBool(q url.Values, name string) (bool, error) {
	s, _ := queryValue(q, name)
	return parseBoolString(name, s)
}

// intSliceField converts a TypeCommaIntSlice field (versions): a number, a
// comma-separated string, or a list of numbers and numeric strings. null
// is the empty list.
func intSliceField(field string, raw json.RawMessage) ([]int64, error) {
	if !present(raw) || isNull(raw) {
		return nil, nil
	}
	if kindOf(raw) == "slice" {
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, fieldError(field, "", "expected a list of integers")
		}
		out := make([]int64, 0, len(elems))
		for _, e := range elems {
			n, err := intField(field, e)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	}
	text, _, ok := scalar(raw)
	if !ok {
		return nil, fieldError(field, "", fmt.Sprintf("'' expected type 'int', got unconvertible type '%s'", kindOf(raw)))
	}
	if text == "" {
		return nil, nil
	}
	var out []int64
	for part := range strings.SplitSeq(text, ",") {
		n, err := parseIntString(field, strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// durationField converts a TypeDurationSecond (signed false) or
// TypeSignedDurationSecond field to whole seconds: a number of seconds, or
// a string such as "3600", "30m", "3d". null is reported as absent (ok
// false), as Vault does.
func durationField(field string, raw json.RawMessage, signed bool) (d time.Duration, ok bool, err error) {
	if !present(raw) || isNull(raw) {
		return 0, false, nil
	}
	text, isString, sok := scalar(raw)
	if !sok || text == "true" || text == "false" {
		return 0, false, fieldError(field, "", "could not parse duration from input")
	}
	if isString {
		if err := durationInRange(text); err != nil {
			return 0, false, fieldError(field, shortInput(text), err.Error())
		}
		d, err = engine.ParseDuration(text)
		if err != nil {
			return 0, false, fieldError(field, shortInput(text), fmt.Sprintf("time: invalid duration %q", shortInput(text)))
		}
	} else {
		n := json.Number(text)
		if i, err := n.Int64(); err == nil {
			if i > math.MaxInt64/int64(time.Second) || i < math.MinInt64/int64(time.Second) {
				return 0, false, fieldError(field, text, "duration out of range")
			}
			d = time.Duration(i) * time.Second
		} else if f, err := n.Float64(); err == nil && math.Abs(f) < float64(math.MaxInt64/int64(time.Second)) {
			d = time.Duration(f * float64(time.Second))
		} else {
			return 0, false, fieldError(field, shortInput(text), "duration out of range")
		}
	}
	d = d.Truncate(time.Second)
	if !signed && d < 0 {
		return 0, false, fieldError(field, shown(raw), fmt.Sprintf("cannot provide negative value '%d'", int64(d/time.Second)))
	}
	return d, true, nil
}

// objectField converts a TypeMap field holding secret data: a JSON object,
// decoded with numbers kept as json.Number so that 64-bit integers round
// trip exactly. null is the empty object. The error never shows the input.
func objectField(field string, raw json.RawMessage) (map[string]any, error) {
	if isNull(raw) {
		return map[string]any{}, nil
	}
	if kindOf(raw) != "map" {
		return nil, fieldError(field, "", fmt.Sprintf("'' expected a map, got '%s'", kindOf(raw)))
	}
	m, err := decodeObject(raw)
	if err != nil {
		return nil, fieldError(field, "", "malformed object")
	}
	return m, nil
}

// decodeObject decodes a JSON object with json.Number numbers.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// Vault's limits on custom_metadata (path_metadata.go).
const (
	maxCustomMetadataKeys        = 64
	maxCustomMetadataKeyLength   = 128
	maxCustomMetadataValueLength = 512
	customMetadataPrefix         = "custom_metadata validation failed"
)

// customMetadataField converts custom_metadata: an object whose values are
// strings, numbers or booleans (a number keeps its literal, a boolean
// becomes "1" or "0", as WeakDecode does). With forPatch, null values are
// returned in deletes instead of becoming "" (Vault's parseCustomMetadata
// with filterNils); the converted values are then validated as Vault's
// validateCustomMetadata does.
func customMetadataField(raw json.RawMessage, forPatch bool) (values map[string]string, deletes []string, err error) {
	if isNull(raw) {
		return map[string]string{}, nil, nil
	}
	if kindOf(raw) != "map" {
		return nil, nil, fieldError("custom_metadata", "", fmt.Sprintf("'' expected a map, got '%s'", kindOf(raw)))
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, nil, fieldError("custom_metadata", "", "malformed object")
	}
	values = make(map[string]string, len(in))
	for k, v := range in {
		if isNull(v) {
			if forPatch {
				deletes = append(deletes, k)
				continue
			}
			values[k] = ""
			continue
		}
		text, _, ok := scalar(v)
		if !ok {
			return nil, nil, badRequest("%s: value for key %q must be a string, got unconvertible type '%s'", customMetadataPrefix, k, kindOf(v))
		}
		switch {
		case v[0] == 't':
			text = "1"
		case v[0] == 'f':
			text = "0"
		}
		values[k] = text
	}
	if err := validateCustomMetadata(values); err != nil {
		return nil, nil, err
	}
	sort.Strings(deletes)
	return values, deletes, nil
}

// validateCustomMetadata applies Vault's rules and formats its
// multierror message: at most 64 keys; each key 1..128 bytes and each
// value 1..512 bytes, both printable.
func validateCustomMetadata(cm map[string]string) error {
	if n := len(cm); n > maxCustomMetadataKeys {
		return badRequest("%s", multiError([]string{fmt.Sprintf("%s: payload must contain at most %d keys, provided %d",
			customMetadataPrefix, maxCustomMetadataKeys, n)}))
	}
	keys := make([]string, 0, len(cm))
	for k := range cm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []string
	for _, k := range keys {
		v := cm[k]
		if n := len(k); n == 0 || n > maxCustomMetadataKeyLength {
			errs = append(errs, fmt.Sprintf("%s: length of key %q is %d but must be 0 < len(key) <= %d",
				customMetadataPrefix, k, n, maxCustomMetadataKeyLength))
		}
		if n := len(v); n == 0 || n > maxCustomMetadataValueLength {
			errs = append(errs, fmt.Sprintf("%s: length of value for key %q is %d but must be 0 < len(value) <= %d",
				customMetadataPrefix, k, n, maxCustomMetadataValueLength))
		}
		if !printable(k) {
			errs = append(errs, fmt.Sprintf("%s: key %q (%s) contains unprintable characters", customMetadataPrefix, k, k))
		}
		if !printable(v) {
			errs = append(errs, fmt.Sprintf("%s: value for key %q contains unprintable characters", customMetadataPrefix, k))
		}
	}
	if len(errs) > 0 {
		return badRequest("%s", multiError(errs))
	}
	return nil
}

func printable(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// multiError formats errors as hashicorp/go-multierror does.
func multiError(errs []string) string {
	if len(errs) == 1 {
		return fmt.Sprintf("1 error occurred:\n\t* %s\n\n", errs[0])
	}
	points := make([]string, len(errs))
	for i, e := range errs {
		points[i] = "* " + e
	}
	return fmt.Sprintf("%d errors occurred:\n\t%s\n\n", len(errs), strings.Join(points, "\n\t"))
}

// durationInRange refuses the forms engine.ParseDuration multiplies
// without an overflow check: a bare number of seconds and a number of
// days ("3d") whose duration does not fit in a time.Duration.
func durationInRange(s string) error {
	s = strings.TrimSpace(s)
	unit := time.Second
	if t, ok := strings.CutSuffix(s, "d"); ok {
		s, unit = t, 24*time.Hour
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil // not one of these forms; ParseDuration decides
	}
	if n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
		return errors.New("duration out of range")
	}
	return nil
}
