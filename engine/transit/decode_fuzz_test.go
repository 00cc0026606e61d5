package transit

import (
	"encoding/json"
	"reflect"
	"testing"

	fastjson "github.com/segmentio/encoding/json"
)

// FuzzFastDecodeMatchesStd holds unmarshal's fast decoder to encoding/json:
// whatever body the fast decoder accepts, encoding/json accepts too, with
// the same result, for the request types of the hot paths and for a bare
// string (what the flex types decode). Input the fast decoder refuses goes
// to encoding/json anyway, so only acceptance has to agree.
func FuzzFastDecodeMatchesStd(f *testing.F) {
	for _, s := range []string{
		`{"plaintext":"QUFB"}`, `{"plaintext":"QUFB","context":"Y3R4","key_version":"2"}`,
		`{"PLAINTEXT":"QUFB"}`, `{"plaintext":"a","plaintext":"b"}`, `{"plaintext":"\ud800"}`,
		`{"plaintext":"\u00e9\u003c\\/"}`, "{\"plaintext\":\"\xff\"}", `{"key_version":1e3}`,
		`{"key_version":2.0}`, `{"key_version":-1}`, `{"batch_input":[{"plaintext":"QUFB","reference":"r"}]}`,
		`{"batch_input":"[{\"plaintext\":\"QUFB\"}]"}`, `{"batch_input":null}`, `{"convergent_encryption":"true"}`,
		`{"ciphertext":"vault:v1:AAAA"}`, `{"plaintext":null}`, `"QUFB"`, `""`, `"\u0000"`, `{} x`, `{"a":1}{`,
		`{"plaintext":"QUFB" }`, " \t\n{\"plaintext\":\"QUFB\"}\n", `{"hash_algorithm":"sha2-512","prehashed":true}`,
		`{"input":"QUFB","signature_algorithm":"pss","marshaling_algorithm":"jws"}`, `{"type":1234}`, `{"type":true}`,
	} {
		f.Add([]byte(s))
	}
	targets := []func() any{
		func() any { return new(encryptRequest) },
		func() any { return new(decryptRequest) },
		func() any { return new(rewrapRequest) },
		func() any { return new(signRequest) },
		func() any { return new(verifyRequest) },
		func() any { return new(hmacRequest) },
		func() any { return new(keyCreateRequest) },
		func() any { return new(string) },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			fast, std := target(), target()
			if fastjson.Unmarshal(body, fast) != nil {
				continue
			}
			if err := json.Unmarshal(body, std); err != nil {
				t.Fatalf("%T: fast decoder accepted %q, encoding/json refused it: %v", fast, body, err)
			}
			if !reflect.DeepEqual(fast, std) {
				t.Fatalf("%T: %q decodes to %+v (fast) and %+v (encoding/json)", fast, body, fast, std)
			}
		}
	})
}
