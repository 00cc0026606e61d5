package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine/approle"
	"github.com/strongroom/strongroom/engine/kv"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/engine/transit"
	"github.com/strongroom/strongroom/metrics"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/bolt"
	"github.com/strongroom/strongroom/tenant"
)

// The API compatibility table, docs/api-compatibility.md, is checked
// against the server by the tests below. Its convention:
//
//   - A row is a markdown table line whose first cell is a path in
//     backticks; it has five cells: path, engine, methods, status, notes.
//   - The path is Vault's documented form without /v1/: ":name" is a
//     parameter (one segment; ":path" may span segments, or be empty),
//     "(/...)" an optional part, "*" anything below.
//   - Methods are a comma-separated list of GET, HEAD, POST, PUT, DELETE,
//     LIST, PATCH, or "—" for a row that is not supported. POST and PUT
//     stand for each other.
//   - The status is supported, partial, extension or "not supported".
//   - Served rows (every status but "not supported") live on the mount
//     points of compatMounts, and their engine cell names that mount's
//     engine.
//
// TestCompatRoutes keeps the front door strict: every route key of
// srv.routes has a served row with exactly that path, every prefix of
// srv.prefixes ("sys/mounts/") has a served row "<prefix>:<param>...", and
// every served sys/ row is such a route key or prefix. A row's methods must
// be registered on its route, and probing every registered method must
// reach a handler exactly for the documented ones.
//
// TestCompatEngines probes every documented method of every served row
// outside sys/ (the token store, AppRole, KV and transit) and requires that
// it reaches a handler; compatEnginePaths, the engines' paths, must each be
// documented by a served row.
//
// TestCompatUnsupported probes every row marked "not supported" with every
// method and requires that none reaches a handler.

const compatDoc = "../docs/api-compatibility.md"

// compatMounts are the mount points the table uses for served rows, and
// the engine each is documented with.
var compatMounts = []struct{ prefix, engine string }{
	{"sys/", "sys"},
	{"auth/token/", "token"},
	{"auth/approle/", "approle"},
	{"secret/", "kv-v2"},
	{"kv/", "kv-v1"},
	{"transit/", "transit"},
	{"cubbyhole/", "cubbyhole"},
}

// compatEnginePaths are the paths the engines serve, below their mounts
// as compatMounts names them.
var compatEnginePaths = []string{
	"auth/token/create", "auth/token/create-orphan", "auth/token/create/r", "auth/token/lookup",
	"auth/token/lookup-self", "auth/token/lookup-accessor", "auth/token/renew", "auth/token/renew-self",
	"auth/token/revoke", "auth/token/revoke-self", "auth/token/revoke-accessor", "auth/token/revoke-orphan",
	"auth/token/roles", "auth/token/roles/r",
	"auth/approle/role", "auth/approle/role/r", "auth/approle/role/r/role-id", "auth/approle/role/r/secret-id",
	"auth/approle/role/r/secret-id/lookup", "auth/approle/role/r/secret-id/destroy",
	"auth/approle/role/r/secret-id-accessor/lookup", "auth/approle/role/r/secret-id-accessor/destroy", "auth/approle/login",
	"secret/config", "secret/data/a/b", "secret/metadata/a/b", "secret/metadata/", "secret/delete/a/b",
	"secret/undelete/a/b", "secret/destroy/a/b", "secret/subkeys/a/b",
	"kv/a/b", "cubbyhole/a/b",
	"transit/keys", "transit/keys/k", "transit/keys/k/config", "transit/keys/k/rotate", "transit/keys/k/trim",
	"transit/keys/k/import", "transit/keys/k/import_version", "transit/keys/k/soft-delete",
	"transit/keys/k/soft-delete-restore", "transit/config/keys", "transit/cache-config",
	"transit/encrypt/k", "transit/decrypt/k", "transit/rewrap/k", "transit/datakey/plaintext/k",
	"transit/datakey/wrapped/k", "transit/random", "transit/random/32", "transit/random/platform/32",
	"transit/hash", "transit/hash/sha2-512", "transit/hmac/k", "transit/hmac/k/sha2-512",
	"transit/sign/k", "transit/sign/k/sha2-256", "transit/verify/k", "transit/verify/k/sha2-256",
	"transit/export/encryption-key/k", "transit/export/signing-key/k/1", "transit/backup/k",
	"transit/restore", "transit/restore/k", "transit/wrapping_key",
}

// compatParams are the values probes use for path parameters; others get
// "x". ":path" names a path under the secret/ mount, so that the KV
// preflight sys/internal/ui/mounts/:path finds a mount.
var compatParams = map[string]string{
	"path": "secret/x", "name": "k", "role_name": "r", "type": "plaintext", "key_type": "encryption-key",
	"version": "1", "algorithm": "sha2-256", "hash_algorithm": "sha2-256", "source": "platform",
	"bytes": "32", "destination": "k",
}

const compatNotSupported = "not supported"

var (
	compatStatuses = map[string]bool{"supported": true, "partial": true, "extension": true, compatNotSupported: true}
	compatMethods  = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "LIST": true, "PATCH": true}
	compatPathRE   = regexp.MustCompile(`^[a-z0-9_./:()*-]+$`)
	compatParamRE  = regexp.MustCompile(`:([a-z_]+)`)
)

// compatRow is one row of the table.
type compatRow struct {
	line    int
	path    string
	engine  string
	methods map[string]bool // with POST and PUT standing for each other
	status  string
	re      *regexp.Regexp // matches the concrete paths the row covers
}

func (r *compatRow) served() bool { return r.status != compatNotSupported }

func (r *compatRow) String() string {
	return compatDoc + ":" + strconv.Itoa(r.line) + " `" + r.path + "`"
}

// compatReadDoc parses the table; format errors fail the test.
func compatReadDoc(t *testing.T) []*compatRow {
	t.Helper()
	raw, err := os.ReadFile(compatDoc)
	if err != nil {
		t.Fatalf("reading the compatibility table: %v", err)
	}
	var rows []*compatRow
	seen := map[string]int{}
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		parts := strings.Split(strings.Trim(line, "|"), "|")
		first := strings.TrimSpace(parts[0])
		if !strings.HasPrefix(first, "`") {
			continue // a header or separator row
		}
		r := &compatRow{line: i + 1}
		if len(parts) != 5 {
			t.Errorf("%s:%d: %d cells, want 5 (path, engine, methods, status, notes)", compatDoc, r.line, len(parts))
			continue
		}
		r.path = strings.Trim(first, "`")
		r.engine = strings.TrimSpace(parts[1])
		r.status = strings.TrimSpace(parts[3])
		if !strings.HasSuffix(first, "`") || !compatPathRE.MatchString(r.path) {
			t.Errorf("%s: path cell %q is not one path in backticks", r, first)
			continue
		}
		if prev, dup := seen[r.path]; dup {
			t.Errorf("%s: documented twice (also line %d)", r, prev)
		}
		seen[r.path] = r.line
		if !compatStatuses[r.status] {
			t.Errorf("%s: status %q is not one of supported, partial, extension, not supported", r, r.status)
			continue
		}
		r.methods = map[string]bool{}
		if m := strings.TrimSpace(parts[2]); m != "—" {
			for _, m := range strings.Split(m, ",") {
				m = strings.TrimSpace(m)
				if !compatMethods[m] {
					t.Errorf("%s: unknown method %q", r, m)
				}
				r.methods[m] = true
				if m == "POST" || m == "PUT" {
					r.methods["POST"], r.methods["PUT"] = true, true
				}
			}
		}
		if r.served() == (len(r.methods) == 0) {
			t.Errorf("%s: a served row lists its methods, a row not supported has \"—\"", r)
		}
		if r.re, err = compatPattern(r.path); err != nil {
			t.Errorf("%s: %v", r, err)
			continue
		}
		if r.served() {
			ok := false
			for _, m := range compatMounts {
				if strings.HasPrefix(r.path, m.prefix) {
					ok = true
					if r.engine != m.engine {
						t.Errorf("%s: engine %q, want %q for paths under %s", r, r.engine, m.engine, m.prefix)
					}
					break
				}
			}
			if !ok {
				t.Errorf("%s: a served row must be under one of the table's mount points", r)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) < 100 {
		t.Fatalf("only %d rows parsed from %s: the table format changed?", len(rows), compatDoc)
	}
	return rows
}

// compatPattern compiles a documented path into a regexp matching the
// concrete paths it covers.
func compatPattern(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '(':
			b.WriteString("(?:")
		case ')':
			b.WriteString(")?")
		case '*':
			b.WriteString(".*")
		case ':':
			m := compatParamRE.FindStringSubmatch(p[i:])
			if m == nil {
				return nil, errors.New("a ':' without a parameter name")
			}
			if m[1] == "path" {
				b.WriteString(".*")
			} else {
				b.WriteString("[^/]+")
			}
			i += len(m[0]) - 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// compatInstances returns the concrete paths a probe uses for a documented
// path: every combination of its optional parts, with parameters filled in.
func compatInstances(p string) []string {
	open := strings.IndexByte(p, '(')
	if open < 0 {
		p = compatParamRE.ReplaceAllStringFunc(p, func(s string) string {
			if v, ok := compatParams[s[1:]]; ok {
				return v
			}
			return "x"
		})
		return []string{strings.ReplaceAll(p, "*", "x")}
	}
	end := open + strings.IndexByte(p[open:], ')')
	with := compatInstances(p[:open] + p[open+1:end] + p[end+1:])
	return append(with, compatInstances(p[:open]+p[end+1:])...)
}

// compatEnv is a node with every engine mounted where the table documents
// it, unsealed, and a root token.
type compatEnv struct {
	srv  *Server
	sys  *sys.Sys
	key  string
	root string
}

func newCompatEnv(t testing.TB) *compatEnv {
	t.Helper()
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	parts := tenant.Parts{
		Engines:     map[string]mounts.Factory{"kv": kv.Factory, "transit": transit.Factory},
		AuthMethods: map[string]mounts.Factory{"approle": approle.Factory},
		StorageType: "bolt", Version: "test", TokenCacheSize: 100, TokenCacheAge: time.Second,
	}
	rt := tenant.New(st, []byte("root"), "", seal.Options{}, parts)
	sy := rt.Sys
	res, err := sy.Init(ctx, sys.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sy.Unseal(ctx, sys.UnsealRequest{Key: res.Keys[0]}); err != nil {
		t.Fatal(err)
	}
	for path, typ := range map[string]string{"secret": "kv-v2", "kv": "kv", "transit": "transit"} {
		if err := rt.Mounts.Mount(ctx, path, mounts.MountInput{Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.Auths.Mount(ctx, "approle", mounts.MountInput{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	srv := New(Options{
		Sys: sy, Mounts: rt.Mounts, Auths: rt.Auths, Policies: rt.Policies, Audits: rt.Audits, Store: st,
		TokenStore: rt.TokenStore, Tokens: rt.Tokens, Metrics: metrics.New(),
		Tenants: tenant.NewManager(mctx, tenant.Config{Store: st, Root: rt, Parts: parts}),
	})
	return &compatEnv{srv: srv, sys: sy, key: res.Keys[0], root: res.RootToken}
}

// freshRoot makes a root token for one probe (a probe may revoke it).
func (e *compatEnv) freshRoot(t *testing.T) string {
	t.Helper()
	var tok string
	err := e.sys.Barrier.Update(context.Background(), func(tx *seal.Tx) error {
		var err error
		tok, err = token.CreateRoot(tx, time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// probe sends one request as root, with an empty JSON object as the body
// of writes, and unseals the node again if the request sealed it.
func (e *compatEnv) probe(t *testing.T, method, path string) (int, string) {
	t.Helper()
	tok := e.root
	if strings.HasPrefix(path, "auth/token/") {
		tok = e.freshRoot(t)
	}
	var body io.Reader
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		body = strings.NewReader("{}")
	}
	req := httptest.NewRequest(method, "/v1/"+path, body)
	req.Header.Set("X-Vault-Token", tok)
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", mergePatchType)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	if e.sys.Barrier.Sealed() {
		if _, err := e.sys.Unseal(context.Background(), sys.UnsealRequest{Key: e.key}); err != nil {
			t.Fatalf("unsealing after %s %s: %v", method, path, err)
		}
	}
	out := w.Body.String()
	if len(out) > 300 {
		out = out[:300] + "..."
	}
	switch w.Code {
	case http.StatusForbidden, http.StatusServiceUnavailable:
		t.Errorf("%s /v1/%s as root: %d %s: the probe did not reach the route", method, path, w.Code, strings.TrimSpace(out))
	case http.StatusInternalServerError:
		t.Errorf("%s /v1/%s as root: %d %s", method, path, w.Code, strings.TrimSpace(out))
	}
	return w.Code, out
}

// Answers that mean no handler serves a path: the front door's and the
// engines' "unsupported path", the router's "no handler for route", and
// KV version 2's invalid-path 404 with a warning.
var compatNoPath = []string{"unsupported path", "no handler for route", "Invalid path for a versioned K/V", "Non-listing operations on the root"}

// compatReached reports that a probe reached a handler for the path and
// method: neither 405 nor a 404 for a path with no handler.
func compatReached(code int, body string) bool {
	if code == http.StatusMethodNotAllowed {
		return false
	}
	if code == http.StatusNotFound {
		for _, s := range compatNoPath {
			if strings.Contains(body, s) {
				return false
			}
		}
	}
	return true
}

// compatRefused reports that a probe was not served: not reached, or
// reached only to be refused as "not supported".
func compatRefused(code int, body string) bool {
	return !compatReached(code, body) || (code == http.StatusBadRequest && strings.Contains(body, "not supported"))
}

func compatSortedMethods(m map[string]handlerFunc) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestCompatRoutes: the front door's route table and the sys/ rows of the
// table describe the same routes and methods.
func TestCompatRoutes(t *testing.T) {
	rows := compatReadDoc(t)
	e := newCompatEnv(t)
	byPath := map[string]*compatRow{}
	for _, r := range rows {
		byPath[r.path] = r
	}
	prefixes := map[string]*route{}
	for _, p := range e.srv.prefixes {
		prefixes[p.prefix] = p.route
	}

	// Every route key and every prefix has a served row.
	var keys []string
	for k := range e.srv.routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if r := byPath[k]; r == nil || !r.served() {
			t.Errorf("route %q is served but %s has no supported, partial or extension row `%s`", k, compatDoc, k)
		}
	}
	for _, p := range e.srv.prefixes {
		found := false
		for _, r := range rows {
			if r.served() && strings.HasPrefix(r.path, p.prefix+":") {
				found = true
			}
		}
		if !found {
			t.Errorf("prefix route %q is served but %s has no served row `%s:param`", p.prefix, compatDoc, p.prefix)
		}
	}

	// Every served sys/ row is a route key or a prefix, its methods are
	// registered, and probing every registered method reaches a handler
	// exactly for the documented ones.
	probed := 0
	for _, r := range rows {
		if !r.served() || !strings.HasPrefix(r.path, "sys/") {
			continue
		}
		var rt *route
		if !strings.ContainsAny(r.path, ":(*") {
			rt = e.srv.routes[r.path]
			if rt == nil {
				t.Errorf("%s is documented as %s but is not in the route table", r, r.status)
				continue
			}
		} else {
			i := strings.IndexByte(r.path, ':')
			if i < 0 || strings.ContainsAny(r.path, "(*") {
				t.Errorf("%s: a sys/ row is a route key or <prefix>:<param>[/...], without optional parts or *", r)
				continue
			}
			if rt = prefixes[r.path[:i]]; rt == nil {
				t.Errorf("%s is documented as %s but %q is not a prefix route", r, r.status, r.path[:i])
				continue
			}
		}
		for m := range r.methods {
			if rt.methods[m] == nil {
				t.Errorf("%s documents %s, which the route does not register", r, m)
			}
		}
		path := compatInstances(r.path)[0]
		for _, m := range compatSortedMethods(rt.methods) {
			code, body := e.probe(t, m, path)
			probed++
			switch reached := compatReached(code, body); {
			case r.methods[m] && !reached:
				t.Errorf("%s documents %s, but %s /v1/%s answers %d %s", r, m, m, path, code, body)
			case !r.methods[m] && !compatRefused(code, body):
				t.Errorf("%s does not document %s, but %s /v1/%s is served: %d %s", r, m, m, path, code, body)
			}
		}
	}
	if probed < 50 {
		t.Fatalf("only %d probes of sys/ routes", probed)
	}
}

// TestCompatEngines: the engines' documented paths answer their documented
// methods, and every path the engines serve is documented.
func TestCompatEngines(t *testing.T) {
	rows := compatReadDoc(t)
	e := newCompatEnv(t)
	for _, p := range compatEnginePaths {
		found := false
		for _, r := range rows {
			if r.served() && r.re.MatchString(p) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("the engines serve %q but no supported, partial or extension row of %s covers it", p, compatDoc)
		}
	}
	probed := 0
	for _, r := range rows {
		if !r.served() || strings.HasPrefix(r.path, "sys/") {
			continue
		}
		for _, path := range compatInstances(r.path) {
			var methods []string
			for m := range r.methods {
				if m != http.MethodPut { // the same as POST
					methods = append(methods, m)
				}
			}
			sort.Strings(methods)
			for _, m := range methods {
				code, body := e.probe(t, m, path)
				probed++
				if !compatReached(code, body) {
					t.Errorf("%s documents %s, but %s /v1/%s answers %d %s", r, m, m, path, code, body)
				}
			}
		}
	}
	if probed < 60 {
		t.Fatalf("only %d probes of engine paths", probed)
	}
}

// TestCompatUnsupported: nothing the table marks "not supported" is served.
func TestCompatUnsupported(t *testing.T) {
	rows := compatReadDoc(t)
	e := newCompatEnv(t)
	probed := 0
	for _, r := range rows {
		if r.served() {
			continue
		}
		for _, path := range compatInstances(r.path) {
			for _, m := range []string{"GET", "POST", "PUT", "DELETE", "LIST", "PATCH"} {
				code, body := e.probe(t, m, path)
				probed++
				if !compatRefused(code, body) {
					t.Errorf("%s is marked not supported, but %s /v1/%s is served: %d %s", r, m, path, code, body)
				}
			}
		}
	}
	if probed < 100 {
		t.Fatalf("only %d probes of unsupported paths", probed)
	}
}
