package httpapi

import (
	"sync"

	"github.com/labstack/echo/v4"
	fastjson "github.com/segmentio/encoding/json"
)

// jsonSerializer is echo's JSONSerializer for every response the front door
// writes. It writes the bytes json.NewEncoder(w).Encode writes (echo's
// DefaultJSONSerializer): HTML-escaped strings, sorted map keys, a final
// newline. The encoding is github.com/segmentio/encoding/json's, which
// runs the standard library's own encoding tests and takes about half its
// time on a response envelope; FuzzFastEncodeMatchesStd holds the two to
// the same bytes. A value the fast encoder refuses, and an indented answer
// (echo's ?pretty), go to the standard library, so errors are its own.
type jsonSerializer struct{}

// maxPooledResponse is the largest encode buffer kept for reuse.
const maxPooledResponse = 64 << 10

var encodeBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// Serialize writes v as JSON to the response.
func (jsonSerializer) Serialize(c echo.Context, v any, indent string) error {
	if indent != "" {
		return echo.DefaultJSONSerializer{}.Serialize(c, v, indent)
	}
	bp := encodeBuffers.Get().(*[]byte)
	b, err := fastjson.Append((*bp)[:0], v, fastjson.EscapeHTML|fastjson.SortMapKeys)
	if err == nil {
		b = append(b, '\n')
		_, err = c.Response().Write(b)
	} else {
		err = echo.DefaultJSONSerializer{}.Serialize(c, v, "")
	}
	// A response can hold a secret (a KV value, a decrypted plaintext):
	// the buffer is wiped before it is reused.
	clear(b)
	if cap(b) <= maxPooledResponse {
		*bp = b[:0]
		encodeBuffers.Put(bp)
	}
	return err
}

// Deserialize is echo's: the front door reads request bodies itself.
func (jsonSerializer) Deserialize(c echo.Context, v any) error {
	return echo.DefaultJSONSerializer{}.Deserialize(c, v)
}
