package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// hmacPrefix names the HMAC in every hashed value, as Vault's salt does.
const hmacPrefix = "hmac-sha256:"

// maxDepth bounds the nesting of request and response data. It stops a
// cyclic map from exhausting the stack; encoding/json gives up on cycles
// well before it, at 1000 levels.
const maxDepth = 1000

// hasher computes HMAC-SHA256 under one salt. It is safe for concurrent use.
type hasher struct {
	pool sync.Pool // of hash.Hash keyed with the salt
}

// newHasher keeps a copy of salt.
func newHasher(salt []byte) *hasher {
	key := bytes.Clone(salt)
	h := &hasher{}
	h.pool.New = func() any { return hmac.New(sha256.New, key) }
	return h
}

// hash returns "hmac-sha256:" and the hex HMAC-SHA256 of s, as Vault's
// salt.GetIdentifiedHMAC does.
func (h *hasher) hash(s string) string {
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(s))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	h.pool.Put(m)

	out := make([]byte, len(hmacPrefix)+hex.EncodedLen(len(sum)))
	copy(out, hmacPrefix)
	hex.Encode(out[len(hmacPrefix):], sum[:])
	return string(out)
}

// hashData returns a copy of data in which every string value, at any depth,
// is hashed. Keys are kept. Numbers, booleans and nil are kept as they are.
// Values of other types are encoded to JSON and decoded (numbers as
// json.Number) before the walk, as Vault's hashstructure does with its JSON
// copy, so a struct, a []byte or a time.Time is hashed in the form the log
// would show it. Unlike Vault, strings that look like timestamps are hashed
// too. data is not modified. where names the data in errors ("request data").
func (h *hasher) hashData(data map[string]any, where string) (map[string]any, error) {
	if data == nil {
		return nil, nil
	}
	out, err := h.hashMap(data, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEncode, where, err)
	}
	return out, nil
}

func (h *hasher) hashMap(m map[string]any, depth int) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		hv, err := h.hashValue(v, depth+1)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = hv
	}
	return out, nil
}

func (h *hasher) hashValue(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch v := v.(type) {
	case nil, bool, json.Number,
		int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64:
		return v, nil
	case string:
		return h.hash(v), nil
	case []byte:
		if v == nil {
			return nil, nil
		}
		// encoding/json writes a []byte as base64; Vault hashes that text.
		return h.hash(base64.StdEncoding.EncodeToString(v)), nil
	case map[string]any:
		if v == nil {
			return nil, nil
		}
		return h.hashMap(v, depth)
	case map[string]string:
		if v == nil {
			return nil, nil
		}
		out := make(map[string]any, len(v))
		for k, s := range v {
			out[k] = h.hash(s)
		}
		return out, nil
	case []any:
		if v == nil {
			return nil, nil
		}
		out := make([]any, len(v))
		for i, e := range v {
			he, err := h.hashValue(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("index %d: %w", i, err)
			}
			out[i] = he
		}
		return out, nil
	case []map[string]any:
		if v == nil {
			return nil, nil
		}
		out := make([]any, len(v))
		for i, m := range v {
			if m == nil {
				continue
			}
			hm, err := h.hashMap(m, depth+1)
			if err != nil {
				return nil, fmt.Errorf("index %d: %w", i, err)
			}
			out[i] = hm
		}
		return out, nil
	case []string:
		if v == nil {
			return nil, nil
		}
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = h.hash(s)
		}
		return out, nil
	}
	// Any other type: take the JSON form, as Vault does, and walk that.
	generic, err := jsonCopy(v)
	if err != nil {
		return nil, err
	}
	return h.hashValue(generic, depth+1)
}

// errTooDeep reports data nested deeper than maxDepth, which is most likely
// a cycle.
var errTooDeep = fmt.Errorf("nested deeper than %d levels (a cycle?)", maxDepth)

// jsonCopy returns the JSON form of v as maps, slices, strings, json.Number,
// booleans and nil.
func jsonCopy(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, describeJSONError(v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, describeJSONError(v, err)
	}
	return out, nil
}

// describeJSONError says what encoding/json refused, without the value:
// a MarshalJSON's error text may quote secrets, so only types are named.
func describeJSONError(v any, err error) error {
	var (
		typeErr      *json.UnsupportedTypeError
		valueErr     *json.UnsupportedValueError
		marshalerErr *json.MarshalerError
	)
	switch {
	case errors.As(err, &typeErr):
		return fmt.Errorf("unsupported type %s", typeErr.Type)
	case errors.As(err, &valueErr):
		// Str is a float's text (NaN, +Inf) or names a cycle's type.
		return fmt.Errorf("unsupported value %s", valueErr.Str)
	case errors.As(err, &marshalerErr):
		return fmt.Errorf("MarshalJSON of %s failed", marshalerErr.Type)
	}
	return fmt.Errorf("value of type %T cannot be encoded", v)
}
