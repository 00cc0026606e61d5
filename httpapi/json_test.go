package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	fastjson "github.com/segmentio/encoding/json"

	"github.com/strongroom/strongroom/engine"
)

// stdEncode is what echo's DefaultJSONSerializer writes for v.
func stdEncode(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return buf.Bytes()
}

// serialize is what the front door's serializer writes for v.
func serialize(t testing.TB, v any) []byte {
	t.Helper()
	e := echo.New()
	w := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), w)
	if err := (jsonSerializer{}).Serialize(c, v, ""); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return w.Body.Bytes()
}

// TestSerializerMatchesStd checks the response serializer against
// encoding/json on the shapes the front door writes and on strings that
// need escaping.
func TestSerializerMatchesStd(t *testing.T) {
	cases := map[string]any{
		"envelope": envelope{RequestID: "id", Data: map[string]any{
			"ciphertext": "vault:v1:AAAA", "key_version": 1, "nested": map[string]any{"b": []any{1.5, nil, true}, "a": "x"}}},
		"nil data":       envelope{RequestID: "id"},
		"auth":           envelope{Auth: &engine.Auth{ClientToken: "t", Policies: []string{"a"}, Metadata: map[string]string{"z": "1", "a": "2"}}},
		"warnings":       envelope{Warnings: []string{"w <&> \u2028 \u2029"}},
		"errors":         errorBody{Errors: []string{`bad "input" <script>`}},
		"empty errors":   errorBody{Errors: []string{}},
		"invalid utf-8":  map[string]string{"k\xff": "v\xfe\xff", "ok": "\x00\x1f\x7f"},
		"floats":         []float64{0, math.Copysign(0, -1), 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64},
		"json.Number":    map[string]any{"n": json.Number("12.50")},
		"raw message":    map[string]any{"r": json.RawMessage(` { "a" : [ 1 , 2 ] } `)},
		"bytes":          map[string]any{"b": []byte("\x00\x01binary")},
		"int keys":       map[int]string{10: "a", 2: "b", -1: "c"},
		"pointer fields": struct{ P *string }{},
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			if got, want := serialize(t, v), stdEncode(t, v); !bytes.Equal(got, want) {
				t.Fatalf("serializer wrote\n%s\nencoding/json writes\n%s", got, want)
			}
		})
	}
}

// TestSerializerRefusalIsStd checks that a value the encoders cannot
// write fails as the standard library fails.
func TestSerializerRefusalIsStd(t *testing.T) {
	e := echo.New()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	err := (jsonSerializer{}).Serialize(c, map[string]any{"x": math.NaN()}, "")
	var unsupported *json.UnsupportedValueError
	if !errors.As(err, &unsupported) {
		t.Fatalf("NaN: got %v, want encoding/json's UnsupportedValueError", err)
	}
}

// FuzzFastEncodeMatchesStd decodes the input with encoding/json (into
// any, with and without UseNumber) and checks that the fast encoder writes
// the same bytes as encoding/json for the value.
func FuzzFastEncodeMatchesStd(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"b":"<&>","a":[1.5,-0,1e21,1e-7,null,true]}`, `"\u2028\ud800"`,
		`{"data":{"data":{"k":"v"},"metadata":{"version":3,"destroyed":false}}}`, `[{"z":{},"y":[]}]`, `123456789012345678901234567890`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, useNumber := range []bool{false, true} {
			dec := json.NewDecoder(bytes.NewReader(in))
			if useNumber {
				dec.UseNumber()
			}
			var v any
			if dec.Decode(&v) != nil {
				return
			}
			want := stdEncode(t, v)
			got, err := fastjson.Append(nil, v, fastjson.EscapeHTML|fastjson.SortMapKeys)
			if err != nil {
				t.Fatalf("fast encoder refused %q: %v", in, err)
			}
			if got = append(got, '\n'); !bytes.Equal(got, want) {
				t.Fatalf("value of %q: fast encoder wrote %q, encoding/json %q", in, got, want)
			}
		}
	})
}
