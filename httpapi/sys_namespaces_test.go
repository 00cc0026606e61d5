package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzNamespaceEndpoint sends arbitrary names and bodies to
// sys/namespaces/<name> as the cluster's root: the answer is a success or
// a 4xx, never a 5xx, and a namespace that was created can be read back.
func FuzzNamespaceEndpoint(f *testing.F) {
	e := newCompatEnv(f)
	for _, s := range [][2]string{
		{"acme", `{}`}, {"acme/", `{"custom_metadata":{"a":"b"}}`}, {"a/b", `{}`}, {"root", `{}`},
		{"x", `{"seal_type":"auto"}`}, {"x", `{"custom_metadata":{"a":1}}`}, {"x", `{"custom_metadata":[1]}`},
		{"x/rename", `{"to":"y"}`}, {"x/rename", `{"to":"a/b"}`}, {"%2e%2e", `{`}, {"", `null`},
	} {
		f.Add(s[0], s[1], uint8(0))
	}
	methods := []string{http.MethodPut, http.MethodPatch, http.MethodGet, http.MethodDelete, http.MethodPost}
	f.Fuzz(func(t *testing.T, name, body string, m uint8) {
		method := methods[int(m)%len(methods)]
		u := "/v1/sys/namespaces/" + (&url.URL{Path: name}).EscapedPath()
		req := httptest.NewRequest(method, u, strings.NewReader(body))
		req.Header.Set("X-Vault-Token", e.root)
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", mergePatchType)
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, u, body, w.Code, w.Body)
		}
		// A PUT that answers 200 created the namespace, unless it was a
		// rename (<name>/rename), whose path is no namespace to read.
		if method == http.MethodPut && w.Code == http.StatusOK && !strings.HasSuffix(strings.TrimSuffix(name, "/"), "/rename") {
			get := httptest.NewRequest(http.MethodGet, u, nil)
			get.Header.Set("X-Vault-Token", e.root)
			w = httptest.NewRecorder()
			e.srv.ServeHTTP(w, get)
			if w.Code != http.StatusOK {
				t.Fatalf("created %s but GET answers %d %s", u, w.Code, w.Body)
			}
		}
	})
}
