package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// rawWrite sends body as JSON with the Vault client's WriteRaw and returns
// the status and the decoded answer, whether or not it is an error: a batch
// that fails answers 400 with its batch_results.
func rawWrite(t *testing.T, lg *vault.Logical, path string, body any) (int, map[string]any) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := lg.WriteRaw(path, raw)
	if resp == nil {
		t.Fatalf("write %s: no response: %v", path, err)
	}
	defer resp.Body.Close()
	out, rerr := io.ReadAll(resp.Body)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil && statusCode(err) != resp.StatusCode {
		t.Fatalf("write %s: %v", path, err)
	}
	var m map[string]any
	if len(out) > 0 {
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("write %s: answer %q: %v", path, out, err)
		}
	}
	return resp.StatusCode, m
}

// results returns the batch_results of a response's data as maps.
func results(t *testing.T, data map[string]any, n int) []map[string]any {
	t.Helper()
	list, ok := data["batch_results"].([]any)
	if !ok || len(list) != n {
		t.Fatalf("batch_results = %#v, want %d items", data["batch_results"], n)
	}
	out := make([]map[string]any, n)
	for i, it := range list {
		out[i] = it.(map[string]any)
	}
	return out
}

// TestTransitBatch covers batch_input on encrypt, decrypt, rewrap, sign,
// verify and hmac: references echoed in order, per-item errors, Vault's
// status codes (400 for encrypt and decrypt when an item fails, or
// partial_failure_response_code; 200 for the others), batch_input given as
// a JSON string (the CLI's batch_input=@file.json), and the refusal of a
// malformed or empty batch.
func TestTransitBatch(t *testing.T) {
	_, lg := transitServer(t)
	write(t, lg, "transit/keys/b", nil)
	pts := []string{"first", "second", "third"}
	items := make([]map[string]any, len(pts))
	for i, p := range pts {
		items[i] = map[string]any{"plaintext": b64s(p), "reference": "ref-" + strconv.Itoa(i)}
	}

	// Encrypt with a typed JSON list.
	enc := results(t, write(t, lg, "transit/encrypt/b", map[string]any{"batch_input": items}).Data, 3)
	cts := make([]string, 3)
	for i, r := range enc {
		cts[i] = str(t, r, "ciphertext")
		if r["reference"] != "ref-"+strconv.Itoa(i) || num(t, r["key_version"]) != 1 || r["error"] != nil || !strings.HasPrefix(cts[i], "vault:v1:") {
			t.Fatalf("encrypt item %d: %v", i, r)
		}
	}
	// Decrypt with batch_input as a string holding the JSON list.
	dItems := make([]map[string]any, 3)
	for i := range cts {
		dItems[i] = map[string]any{"ciphertext": cts[2-i], "reference": "d" + strconv.Itoa(i)}
	}
	listJSON, _ := json.Marshal(dItems)
	dec := results(t, write(t, lg, "transit/decrypt/b", map[string]any{"batch_input": string(listJSON)}).Data, 3)
	for i, r := range dec {
		if string(unb64(t, str(t, r, "plaintext"))) != pts[2-i] || r["reference"] != "d"+strconv.Itoa(i) {
			t.Fatalf("decrypt item %d: %v", i, r)
		}
	}

	// A failing item: 400 with the batch_results, the other items done.
	bad := []map[string]any{
		{"plaintext": b64s("ok"), "reference": "good"},
		{"plaintext": "not base64!", "reference": "bad"},
	}
	code, body := rawWrite(t, lg, "transit/encrypt/b", map[string]any{"batch_input": bad})
	if code != 400 {
		t.Fatalf("encrypt batch with a bad item: HTTP %d %v", code, body)
	}
	br := results(t, body["data"].(map[string]any), 2)
	if br[0]["reference"] != "good" || br[0]["error"] != nil || !strings.HasPrefix(str(t, br[0], "ciphertext"), "vault:v1:") {
		t.Fatalf("good item: %v", br[0])
	}
	if br[1]["reference"] != "bad" || !strings.Contains(str(t, br[1], "error"), "illegal base64") || br[1]["ciphertext"] != nil {
		t.Fatalf("bad item: %v", br[1])
	}
	// partial_failure_response_code: the client sees a success (207) with results.
	s := write(t, lg, "transit/encrypt/b", map[string]any{"batch_input": bad, "partial_failure_response_code": 207})
	if br := results(t, s.Data, 2); br[0]["ciphertext"] == nil || br[1]["error"] == nil {
		t.Fatalf("partial failure: %v", br)
	}
	// An out-of-range code is ignored, with a warning.
	code, body = rawWrite(t, lg, "transit/encrypt/b", map[string]any{"batch_input": bad, "partial_failure_response_code": 700})
	if code != 400 || !strings.Contains(fmt.Sprint(body["warnings"]), "invalid HTTP response code override") {
		t.Fatalf("partial_failure_response_code 700: HTTP %d warnings %v", code, body["warnings"])
	}
	// ...and it does not apply when every item fails.
	code, _ = rawWrite(t, lg, "transit/encrypt/b", map[string]any{"batch_input": bad[1:], "partial_failure_response_code": 207})
	if code != 400 {
		t.Fatalf("all items failed with partial_failure_response_code: HTTP %d", code)
	}

	// Decrypt: a tampered item fails alone, with the uniform message.
	_, raw := splitCiphertext(t, cts[0])
	raw[len(raw)-1] ^= 1
	tampered := "vault:v1:" + b64(raw)
	mixed := []map[string]any{
		{"ciphertext": cts[1], "reference": "r0"},
		{"ciphertext": tampered, "reference": "r1"},
		{"ciphertext": "vault:v1:@@", "reference": "r2"},
	}
	code, body = rawWrite(t, lg, "transit/decrypt/b", map[string]any{"batch_input": mixed})
	if code != 400 {
		t.Fatalf("decrypt batch with bad items: HTTP %d", code)
	}
	br = results(t, body["data"].(map[string]any), 3)
	if string(unb64(t, str(t, br[0], "plaintext"))) != "second" || br[0]["reference"] != "r0" {
		t.Fatalf("decrypt good item: %v", br[0])
	}
	if br[1]["error"] != msgAuthFailed || br[1]["reference"] != "r1" || br[1]["plaintext"] != "" {
		t.Fatalf("decrypt tampered item: %v", br[1])
	}
	if !strings.Contains(str(t, br[2], "error"), "invalid ciphertext") || br[2]["reference"] != "r2" {
		t.Fatalf("decrypt malformed item: %v", br[2])
	}
	s = write(t, lg, "transit/decrypt/b", map[string]any{"batch_input": mixed, "partial_failure_response_code": "207"})
	if br := results(t, s.Data, 3); br[1]["error"] != msgAuthFailed {
		t.Fatalf("decrypt partial failure: %v", br)
	}

	// Rewrap: 200 with per-item errors.
	write(t, lg, "transit/keys/b/rotate", nil)
	s = write(t, lg, "transit/rewrap/b", map[string]any{"batch_input": []map[string]any{
		{"ciphertext": cts[0], "reference": "w0"},
		{"ciphertext": tampered, "reference": "w1"},
		{"ciphertext": cts[2], "reference": "w2", "key_version": 1},
	}})
	rw := results(t, s.Data, 3)
	if !strings.HasPrefix(str(t, rw[0], "ciphertext"), "vault:v2:") || rw[0]["reference"] != "w0" || num(t, rw[0]["key_version"]) != 2 {
		t.Fatalf("rewrap item 0: %v", rw[0])
	}
	if rw[1]["error"] != msgAuthFailed || rw[1]["reference"] != "w1" {
		t.Fatalf("rewrap item 1: %v", rw[1])
	}
	if !strings.HasPrefix(str(t, rw[2], "ciphertext"), "vault:v1:") {
		t.Fatalf("rewrap item 2 with key_version 1: %v", rw[2])
	}
	if got := decrypt(t, lg, "b", rw[0]["ciphertext"].(string), nil); string(got) != "first" {
		t.Fatalf("rewrapped item decrypts to %q", got)
	}

	// Sign and verify (Ed25519): 200 with per-item errors and references.
	write(t, lg, "transit/keys/bs", map[string]any{"type": "ed25519"})
	s = write(t, lg, "transit/sign/bs", map[string]any{"batch_input": []map[string]any{
		{"input": b64s("a"), "reference": "s0"},
		{"input": "%%%", "reference": "s1"},
		{"input": b64s("c"), "reference": "s2"},
	}})
	sr := results(t, s.Data, 3)
	if sr[0]["reference"] != "s0" || sr[1]["reference"] != "s1" || sr[2]["reference"] != "s2" ||
		sr[0]["signature"] == nil || sr[2]["signature"] == nil || !strings.Contains(str(t, sr[1], "error"), "unable to decode input as base64") {
		t.Fatalf("sign batch: %v", sr)
	}
	s = write(t, lg, "transit/verify/bs", map[string]any{"batch_input": []map[string]any{
		{"input": b64s("a"), "signature": sr[0]["signature"], "reference": "v0"},
		{"input": b64s("a"), "signature": sr[2]["signature"], "reference": "v1"},
		{"input": b64s("c"), "signature": "vault:v1:%%", "reference": "v2"},
	}})
	vr := results(t, s.Data, 3)
	if vr[0]["valid"] != true || vr[0]["reference"] != "v0" || vr[1]["valid"] != false || vr[1]["reference"] != "v1" || vr[2]["error"] == nil {
		t.Fatalf("verify batch: %v", vr)
	}
	writeErr(t, lg, "transit/verify/bs", map[string]any{"batch_input": []map[string]any{
		{"input": b64s("a"), "signature": sr[0]["signature"]}, {"input": b64s("a")},
	}}, 400, "some elements of batch_input are missing 'signature'")
	writeErr(t, lg, "transit/verify/bs", map[string]any{"input": b64s("a"), "signature": sr[0]["signature"], "hmac": "vault:v1:AA=="}, 400, "provide one of 'signature' or 'hmac'")

	// HMAC and its verification.
	s = write(t, lg, "transit/hmac/b", map[string]any{"batch_input": []map[string]any{
		{"input": b64s("x"), "reference": "h0"},
		{"input": "%%%", "reference": "h1"},
	}})
	hr := results(t, s.Data, 2)
	if hr[0]["hmac"] == nil || hr[0]["reference"] != "h0" || hr[1]["error"] == nil || hr[1]["reference"] != "h1" {
		t.Fatalf("hmac batch: %v", hr)
	}
	s = write(t, lg, "transit/verify/b", map[string]any{"batch_input": []map[string]any{
		{"input": b64s("x"), "hmac": hr[0]["hmac"], "reference": "hv0"},
		{"input": b64s("y"), "hmac": hr[0]["hmac"], "reference": "hv1"},
	}})
	hv := results(t, s.Data, 2)
	if hv[0]["valid"] != true || hv[0]["reference"] != "hv0" || hv[1]["valid"] == true || hv[1]["reference"] != "hv1" {
		t.Fatalf("hmac verify batch: %v", hv)
	}

	// Whole-request refusals.
	writeErr(t, lg, "transit/encrypt/b", map[string]any{"batch_input": []map[string]any{}}, 400, "missing batch input to process")
	writeErr(t, lg, "transit/decrypt/b", map[string]any{"batch_input": []map[string]any{}}, 400, "missing batch input to process")
	writeErr(t, lg, "transit/encrypt/b", map[string]any{"batch_input": "[{not json"}, 400, "failed to parse batch input")
	writeErr(t, lg, "transit/encrypt/b", map[string]any{"batch_input": []map[string]any{{"plaintext": b64s("a")}, {"reference": "x"}}}, 400, "'[1].plaintext' missing plaintext to encrypt")
	writeErr(t, lg, "transit/decrypt/b", map[string]any{"batch_input": []map[string]any{{"reference": "x"}}}, 400, "'[0].ciphertext' missing ciphertext to decrypt")
	writeErr(t, lg, "transit/sign/bs", map[string]any{"batch_input": []map[string]any{}}, 400, "missing batch input to process")
}
