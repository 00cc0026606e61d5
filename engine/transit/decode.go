package transit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"

	fastjson "github.com/segmentio/encoding/json"

	"github.com/strongroom/strongroom/engine"
)

// MaxBatchItems is the most items one batch_input may hold. Vault sets no
// count (only the request size); Strongroom refuses a larger batch with 400
// so that one request cannot hold a worker for long.
const MaxBatchItems = 10_000

// Request bodies are decoded into typed structs. Vault's framework accepts
// loosely typed values ("key_version": "2", "derived": "true"), which is
// what the vault CLI sends for key=value arguments; the flex types below
// accept the same.

// flexInt is an integer given as a JSON number or a string.
type flexInt int

// UnmarshalJSON reads a number, a numeric string, an empty string (0) or null.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := unmarshal(b, &s); err != nil {
			return err
		}
		if s = strings.TrimSpace(s); s == "" {
			*f = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		// JSON numbers such as 2.0 or 1e3 that are integers.
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || fl != float64(int64(fl)) {
			return badRequest("cannot parse %s as an integer", b)
		}
		n = int64(fl)
	}
	*f = flexInt(n)
	return nil
}

// flexBool is a boolean given as a JSON boolean or a string ("true", "1").
type flexBool bool

// UnmarshalJSON reads true, false, a strconv.ParseBool string, or null.
func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch s {
	case "null":
		return nil
	case "true":
		*f = true
		return nil
	case "false":
		*f = false
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*f = false
			return nil
		}
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return badRequest("cannot parse %s as a boolean", b)
	}
	*f = flexBool(v)
	return nil
}

// flexString is a string given as a JSON string, number or boolean.
type flexString string

// UnmarshalJSON reads a string, or the text of a number or boolean.
func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	switch s := string(b); {
	case s == "null":
		return nil
	case s == "true" || s == "false" || (len(s) > 0 && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))):
		*f = flexString(s)
		return nil
	}
	return badRequest("expected a string, got %s", b)
}

// batch is a batch_input list. Besides a JSON array it accepts a string
// holding one, which is what `vault write ... batch_input=@file.json` sends.
type batch[T any] []T

// UnmarshalJSON reads the list and refuses more than MaxBatchItems items.
func (b *batch[T]) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := unmarshal(data, &s); err != nil {
			return err
		}
		data = []byte(s)
	}
	var items []T
	if err := unmarshal(data, &items); err != nil {
		return badRequest("failed to parse batch input: %v", err)
	}
	if len(items) > MaxBatchItems {
		return badRequest("batch_input has %d items; at most %d are allowed", len(items), MaxBatchItems)
	}
	if items == nil {
		items = []T{}
	}
	*b = items
	return nil
}

// decode reads the request's parameters into dst: the JSON body of a
// write, or the query of a read, list or delete (Vault's CLI sends read
// arguments as query parameters).
func decode(req *engine.Request, dst any) error {
	if req.Operation != engine.OpUpdate && req.Operation != engine.OpPatch {
		if len(req.Query) == 0 {
			return nil
		}
		m := make(map[string]string, len(req.Query))
		for k, v := range req.Query {
			if len(v) > 0 {
				m[k] = v[0]
			}
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return decodeJSON(raw, dst)
	}
	return req.DecodeBody(dst, decodeJSON)
}

func decodeJSON(raw []byte, dst any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	err := unmarshal(raw, dst)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Type != nil && te.Type.Kind() == reflect.String && (te.Value == "number" || te.Value == "bool") {
		// Vault decodes top-level string parameters weakly
		// (mapstructure.WeakDecode in sdk/framework's FieldData): 1234
		// becomes "1234" and true "1". Only this rare path pays for the
		// rewrite; batch items stay strict, as in Vault.
		if weak, ok := weakenStrings(raw, dst); ok {
			reset(dst)
			err = json.Unmarshal(weak, dst)
		}
	}
	if err != nil {
		if isUserError(err) {
			return err
		}
		return badRequest("failed to parse JSON input: %v", err)
	}
	return nil
}

// unmarshal decodes the JSON value raw into dst, as encoding/json.Unmarshal
// does. The request hot path (a transit encrypt body is decoded on every
// call) goes through github.com/segmentio/encoding/json, which runs the
// standard library's own decode tests and takes about an eighth of its time
// on an encrypt body. Input it refuses is decoded again by encoding/json, so
// that every error, and its text, is the standard library's: Vault decodes
// with encoding/json, and segmentio's errors can quote the input (a
// plaintext). FuzzFastDecodeMatchesStd holds the two decoders to the same
// result on every input the fast one accepts.
func unmarshal(raw []byte, dst any) error {
	if fastjson.Unmarshal(raw, dst) == nil {
		return nil
	}
	reset(dst)
	return json.Unmarshal(raw, dst)
}

// reset zeroes the struct dst points to, so a second decode starts clean.
// decode and decodeJSON therefore expect dst to hold no defaults: every
// caller passes a zero request struct.
func reset(dst any) {
	if v := reflect.ValueOf(dst); v.Kind() == reflect.Pointer && !v.IsNil() {
		v.Elem().SetZero()
	}
}

// weakenStrings rewrites the top-level members of the JSON object raw that
// dst's struct declares as string (or *string) and that hold a number or a
// boolean into JSON strings: a number keeps its text, a boolean becomes
// "1" or "0" (mapstructure's weak conversion). ok is false when raw is not
// an object or dst not a pointer to a struct.
func weakenStrings(raw []byte, dst any) ([]byte, bool) {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	stringField := map[string]bool{}
	for f := range t.Elem().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name != "" && name != "-" && ft.Kind() == reflect.String {
			stringField[name] = true
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, false
	}
	for k, v := range obj {
		if !stringField[k] || len(v) == 0 || v[0] == '"' || string(v) == "null" {
			continue
		}
		switch s := string(v); {
		case s == "true":
			obj[k] = json.RawMessage(`"1"`)
		case s == "false":
			obj[k] = json.RawMessage(`"0"`)
		case s[0] == '-' || (s[0] >= '0' && s[0] <= '9'):
			q, _ := json.Marshal(s)
			obj[k] = q
		}
	}
	out, err := json.Marshal(obj)
	return out, err == nil
}

// decodeB64 decodes an optional base64 parameter; empty gives nil.
func decodeB64(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}
