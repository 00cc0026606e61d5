// Package httpapi is Strongroom's front door: an echo server that speaks
// Vault's HTTP API. It owns what is HTTP: routing, the response envelope,
// Vault's {"errors":[...]} format and status codes, request size and time
// limits, and the translation of the engines' sentinel errors into statuses.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/cubbyhole"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/policy"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/metrics"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/tenant"
)

// Defaults of the listener limits, as Vault's (max_request_size and
// max_request_duration).
const (
	DefaultMaxRequestSize     = 32 << 20
	DefaultMaxRequestDuration = 90 * time.Second
)

// Options configures the front door.
type Options struct {
	Sys    *sys.Sys
	Mounts *mounts.Table
	// Tokens caches token lookups; nil disables the cache.
	Tokens *token.Cache
	// Auths is the table of auth methods (sys/auth), routed at auth/.
	Auths *mounts.Table
	// Policies holds the ACL policies; nil denies every non-root token.
	Policies *policy.Store
	// Metrics records requests and serves sys/metrics; nil disables both.
	Metrics *metrics.Metrics
	// UnauthenticatedMetrics lets sys/metrics answer without a token
	// (Vault's telemetry unauthenticated_metrics_access).
	UnauthenticatedMetrics bool
	// Store is the node's store, for snapshots.
	Store storage.Store
	// Audits is the audit table; nil disables auditing.
	Audits *sys.Audits
	// TokenStore serves auth/token/*.
	TokenStore *token.Backend
	// Tenants, if set, serves the namespaces other than the root one
	// (X-Vault-Namespace or a path prefix) and sys/namespaces. The fields
	// above are the root namespace's.
	Tenants            *tenant.Manager
	MaxRequestSize     int64         // bytes; 0 means DefaultMaxRequestSize
	MaxRequestDuration time.Duration // 0 means DefaultMaxRequestDuration
	Logger             *slog.Logger
	Now                func() time.Time
}

// Server is the HTTP handler of one node.
type Server struct {
	opts     Options
	root     *tenant.Tenant // the root namespace's parts
	echo     *echo.Echo
	routes   map[string]*route
	prefixes []prefixRoute // routes that take the rest of the path, longest first

	migrations migrationLog // recent sys/remount moves
}

// prefixRoute serves every path under prefix (e.g. sys/mounts/<path>).
type prefixRoute struct {
	prefix string
	route  *route
}

// handlerFunc serves one method of one route.
type handlerFunc func(c echo.Context, r *request) error

// route is one row of the route table: a path under /v1/ and its methods.
type route struct {
	methods map[string]handlerFunc
	// sealedOK routes answer while the node is sealed; every other path
	// answers 503 "Vault is sealed".
	sealedOK bool
	// rootOnly routes concern the whole node (its store, its metrics): in
	// a namespace they do not exist.
	rootOnly bool
	// noWrap routes refuse a request for response wrapping before doing
	// anything: their answers are not Vault's envelope (the seal, quorum
	// and health endpoints, snapshots, metrics) or unwrap (see
	// wrapping.go). sealedOK routes never wrap either.
	noWrap bool
}

// request is what the front door knows of a request before an engine sees it.
type request struct {
	// ctx is the request's context (requestContext); handlers use it, not
	// the http.Request's.
	ctx   context.Context
	id    string
	path  string // below /v1/ and the namespace prefix, without leading slash
	t     *tenant.Tenant
	ns    string // the namespace's name; "" for the root namespace
	token string
	body  []byte
	// remote is the client's address as the connection gives it
	// (http.Request.RemoteAddr). X-Forwarded-For is not read: as Vault's
	// listener without x_forwarded_for_authorized_addrs, the address that
	// bound CIDRs are checked against is the TCP peer's.
	remote string

	bodyRead bool
	// start is when the request came in (a wrapping token's creation time).
	start time.Time
	// wrapTTL is the response wrapping the client asked for
	// (X-Vault-Wrap-TTL); 0 for none.
	wrapTTL time.Duration
	// displayName is the caller's token's display name, once known, which
	// a wrapping token inherits.
	displayName string
	// family names the route for metrics: the route-table path, a prefix
	// route, or the mount; "other" for everything else.
	family string
	// queryWarnings are Vault's warnings for the query of a read of a
	// system-backend path (sysQueryWarnings), which respondData adds to a
	// response with data.
	queryWarnings []string
}

// New returns the front door.
func New(opts Options) *Server {
	if opts.MaxRequestSize <= 0 {
		opts.MaxRequestSize = DefaultMaxRequestSize
	}
	if opts.MaxRequestDuration <= 0 {
		opts.MaxRequestDuration = DefaultMaxRequestDuration
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, echo: echo.New(), root: &tenant.Tenant{ID: []byte("root"),
		Sys: opts.Sys, Mounts: opts.Mounts, Auths: opts.Auths, Tokens: opts.Tokens,
		TokenStore: opts.TokenStore, Policies: opts.Policies, Audits: opts.Audits}}
	if opts.Sys != nil {
		s.root.Cubbyhole = &cubbyhole.Backend{Barrier: opts.Sys.Barrier}
	}
	s.echo.HideBanner = true
	s.echo.HidePort = true
	s.echo.HTTPErrorHandler = s.handleEchoError
	s.echo.JSONSerializer = jsonSerializer{}
	s.routes = s.table()
	s.prefixes = s.prefixTable()
	s.echo.Any("/v1/*", s.dispatch)
	s.echo.Add("LIST", "/v1/*", s.dispatch)
	s.echo.RouteNotFound("/*", func(c echo.Context) error {
		return writeErrors(c, http.StatusNotFound)
	})
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

func (s *Server) table() map[string]*route {
	rekeyInit, rekeyUpdate := s.rekeyRoutes(false)
	recoveryInit, recoveryUpdate := s.rekeyRoutes(true)
	nsList, _ := s.namespaceRoutes()
	t := map[string]*route{
		"sys/namespaces":                nsList,
		"sys/rekey/init":                rekeyInit,
		"sys/rekey/update":              rekeyUpdate,
		"sys/rekey-recovery-key/init":   recoveryInit,
		"sys/rekey-recovery-key/update": recoveryUpdate,
		"sys/generate-root/attempt":     s.generateRootAttempt(),
		"sys/generate-root/update": {noWrap: true, methods: map[string]handlerFunc{
			http.MethodPut: s.generateRootUpdate, http.MethodPost: s.generateRootUpdate}},
		"sys/rotate":                {methods: map[string]handlerFunc{http.MethodPut: s.rotate, http.MethodPost: s.rotate}},
		"sys/rotate/keyring":        {methods: map[string]handlerFunc{http.MethodPut: s.rotate, http.MethodPost: s.rotate}},
		"sys/key-status":            {methods: map[string]handlerFunc{http.MethodGet: s.keyStatus}},
		"sys/version-history":       {rootOnly: true, methods: map[string]handlerFunc{"LIST": s.versionHistory}},
		"sys/remount":               {methods: map[string]handlerFunc{http.MethodPost: s.remount, http.MethodPut: s.remount}},
		"sys/tools/random":          s.toolsRoute(),
		"sys/tools/hash":            s.toolsRoute(),
		"sys/mounts":                {methods: map[string]handlerFunc{http.MethodGet: s.mountList}},
		"sys/internal/ui/mounts":    {methods: map[string]handlerFunc{http.MethodGet: s.uiMounts}},
		"sys/auth":                  {methods: map[string]handlerFunc{http.MethodGet: s.authList}},
		"sys/audit":                 {methods: map[string]handlerFunc{http.MethodGet: s.auditList}},
		"sys/storage/snapshot":      {rootOnly: true, noWrap: true, methods: map[string]handlerFunc{http.MethodGet: s.snapshot}},
		"sys/metrics":               {rootOnly: true, noWrap: true, methods: map[string]handlerFunc{http.MethodGet: s.metricsEndpoint}},
		"sys/policy":                s.policyRouteAll(),
		"sys/policies/acl":          s.policyRouteAll(),
		"sys/capabilities":          {methods: map[string]handlerFunc{http.MethodPost: s.capabilities, http.MethodPut: s.capabilities}},
		"sys/capabilities-self":     {methods: map[string]handlerFunc{http.MethodPost: s.capabilities, http.MethodPut: s.capabilities}},
		"sys/capabilities-accessor": {methods: map[string]handlerFunc{http.MethodPost: s.capabilities, http.MethodPut: s.capabilities}},
		"sys/init": {sealedOK: true, methods: map[string]handlerFunc{
			http.MethodGet: s.initStatus, http.MethodPut: s.initialize, http.MethodPost: s.initialize}},
		"sys/seal-status": {sealedOK: true, methods: map[string]handlerFunc{http.MethodGet: s.sealStatus}},
		"sys/unseal": {sealedOK: true, methods: map[string]handlerFunc{
			http.MethodPut: s.unseal, http.MethodPost: s.unseal}},
		"sys/seal": {sealedOK: true, methods: map[string]handlerFunc{
			http.MethodPut: s.sealNode, http.MethodPost: s.sealNode}},
		"sys/health": {sealedOK: true, methods: map[string]handlerFunc{
			http.MethodGet: s.health, http.MethodHead: s.health}},
		"sys/leader": {sealedOK: true, methods: map[string]handlerFunc{http.MethodGet: s.leader}},
	}
	maps.Copy(t, s.wrappingRoutes())
	return t
}

// The headers every response carries.
var (
	noStore = []string{"no-store"}
	hsts    = []string{"max-age=31536000; includeSubDomains"}
)

// dispatch applies the limits, the seal gate and the route table.
func (s *Server) dispatch(c echo.Context) error {
	start := s.opts.Now()
	req := c.Request()
	ctx, cancel := newRequestContext(req.Context(), s.opts.MaxRequestDuration)
	defer cancel()
	h := c.Response().Header()
	// Keys already canonical, values shared (net/http only reads them).
	h["Cache-Control"] = noStore
	// Vault's default custom response header.
	h["Strict-Transport-Security"] = hsts

	r := &request{ctx: ctx, id: newRequestID(), path: strings.TrimPrefix(c.Param("*"), "/"), token: requestToken(req), family: "other", t: s.root, start: start, remote: req.RemoteAddr}
	var err error
	r.wrapTTL, err = checkWrapTTL(req.Header)
	if err == nil {
		err = s.resolveNamespace(c, r)
	}
	switch {
	case err != nil: // written below
	case s.auditable(r):
		err = s.serveAudited(c, r)
	default:
		err = s.serve(c, r)
	}
	if err != nil {
		err = s.writeError(c, r, err)
	}
	s.opts.Metrics.Request(r.family, c.Response().Status, s.opts.Now().Sub(start))
	if s.opts.Logger.Enabled(ctx, slog.LevelDebug) {
		s.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "request",
			slog.String("request_id", r.id), slog.String("method", req.Method),
			slog.String("path", r.path), slog.Int("status", c.Response().Status),
			slog.Duration("duration", s.opts.Now().Sub(start)))
	}
	return err
}

func (s *Server) serve(c echo.Context, r *request) error {
	req := c.Request()
	if err := s.readBody(c, r); err != nil {
		return err
	}

	rt, known := s.routes[r.path]
	if known {
		r.family = r.path
	} else {
		var prefix string
		rt, prefix, known = s.prefixRoute(r.path)
		if known {
			r.family = prefix
		}
	}
	if !(known && rt.sealedOK) && r.t.Sys.Barrier.Sealed() {
		return seal.ErrSealed
	}
	if r.wrapTTL > 0 && known && (rt.noWrap || rt.sealedOK) {
		return errWrappingUnsupported
	}
	method := req.Method
	if method == "LIST" || (method == http.MethodGet && req.URL.RawQuery != "" && req.URL.Query().Get("list") == "true") {
		method = "LIST"
		// Vault's buildLogicalRequest: a LIST names a directory.
		if !strings.HasSuffix(r.path, "/") {
			r.path += "/"
		}
	}
	if !known || (rt.rootOnly && r.ns != "") {
		if strings.HasPrefix(r.path, "sys/") {
			op, ok := methodOps[method]
			if !ok {
				return engine.ErrUnsupportedOperation
			}
			if err := s.deniedUnknown(r.ctx, r, op); err != nil {
				return err
			}
			// Vault's text for a path under the sys/ mount with no handler.
			return engine.Errorf(engine.ErrUnsupportedPath, "1 error occurred:\n\t* unsupported path\n\n")
		}
		return s.logical(c, r, method)
	}
	h, ok := rt.methods[method]
	if !ok {
		if rt.sealedOK {
			return errRawMethodNotAllowed
		}
		return engine.ErrUnsupportedOperation
	}
	if method == http.MethodGet && req.URL.RawQuery != "" {
		r.queryWarnings = sysQueryWarnings(r.path, c.QueryParams())
	}
	return h(c, r)
}

// errRawMethodNotAllowed is a 405 with an empty error list: the answer of
// the sys/ endpoints Vault serves with its own HTTP handlers (sys/init,
// sys/seal-status, sys/unseal, sys/health, ...: those that answer while
// sealed). Every other path answers a method it does not serve with the
// logical 405, "1 error occurred: * unsupported operation".
var errRawMethodNotAllowed = engine.Errorf(engine.ErrUnsupportedOperation, "")

var errRequestTooLarge = errors.New("http: request body too large")

// readBody reads the request body once, within the size limit.
func (s *Server) readBody(c echo.Context, r *request) error {
	if r.bodyRead {
		return nil
	}
	r.bodyRead = true
	req := c.Request()
	if req.ContentLength > s.opts.MaxRequestSize {
		return errRequestTooLarge
	}
	if req.ContentLength == 0 || req.Body == nil || req.Body == http.NoBody {
		return nil // nothing to read (a chunked body has length -1)
	}
	if req.ContentLength > 0 {
		// The length is known and within the limit: one exact read.
		body := make([]byte, req.ContentLength)
		if _, err := io.ReadFull(req.Body, body); err != nil {
			return engine.Errorf(engine.ErrBadRequest, "failed to read request body")
		}
		r.body = body
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, s.opts.MaxRequestSize))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errRequestTooLarge
	}
	if err != nil {
		return engine.Errorf(engine.ErrBadRequest, "failed to read request body")
	}
	r.body = body
	return nil
}

// authenticate returns the entry of the request's token, or
// engine.ErrPermissionDenied when there is none, it is not valid, or it is
// bound to address blocks that do not hold the client (token.UsableFrom).
func (s *Server) authenticate(ctx context.Context, r *request) (*token.Entry, error) {
	e, err := s.lookupToken(ctx, r)
	if err == nil && !e.UsableFrom(r.remote) {
		// Vault's CheckToken: a token bound to address blocks that do not
		// hold the client is a bare permission denied.
		return nil, engine.ErrPermissionDenied
	}
	return e, err
}

// lookupToken finds r's token (cache first) without checking where the
// client is: authenticate for the request's own token; alone for a token
// named in a body (sys/capabilities), which is not being used.
func (s *Server) lookupToken(ctx context.Context, r *request) (*token.Entry, error) {
	if r.token == "" {
		return nil, engine.ErrPermissionDenied
	}
	now := s.opts.Now()
	if r.t.Tokens != nil {
		if e, ok := r.t.Tokens.Get(r.token, now); ok {
			return e, nil
		}
	}
	var e *token.Entry
	err := r.t.Sys.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		e, err = token.Lookup(tx, r.token, now)
		return err
	})
	if errors.Is(err, token.ErrInvalid) {
		return nil, engine.ErrPermissionDenied
	}
	if err == nil && e.NumUses == token.RevocationPending {
		return nil, engine.ErrPermissionDenied
	}
	// Tokens with a use limit are never cached: each use is counted.
	if err == nil && r.t.Tokens != nil && e.NumUses == 0 {
		r.t.Tokens.Put(r.token, e, now)
	}
	return e, err
}

// useToken counts one use of a token with num_uses, once the request is
// authorised. On the last use it returns a function the caller runs when
// the request has completed, which revokes the token (Vault revokes after
// the last request, not before it).
func (s *Server) useToken(ctx context.Context, r *request, e *token.Entry) (func(), error) {
	if e.NumUses == 0 {
		return func() {}, nil
	}
	var last bool
	err := r.t.Sys.Barrier.Update(ctx, func(tx *seal.Tx) error {
		th, err := token.Hash(&tx.ReadTx, r.token)
		if err != nil {
			return err
		}
		last, err = token.Use(tx, th, s.opts.Now())
		return err
	})
	if errors.Is(err, token.ErrInvalid) {
		return nil, engine.ErrPermissionDenied
	}
	if err != nil || !last {
		return func() {}, err
	}
	return func() {
		_ = r.t.Sys.Barrier.Update(context.WithoutCancel(ctx), func(tx *seal.Tx) error {
			th, err := token.Hash(&tx.ReadTx, r.token)
			if err != nil {
				return err
			}
			return token.RevokeTree(tx, th)
		})
	}, nil
}

// requestToken reads X-Vault-Token, or an Authorization: Bearer header.
func requestToken(r *http.Request) string {
	if t := header(r.Header, "X-Vault-Token"); t != "" {
		return t
	}
	if a := header(r.Header, "Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// decodeJSON parses a request body into v as Vault's parseJSONRequest does:
// an empty body leaves v unchanged. Malformed JSON, or data after the JSON
// value, is an engine.ErrBadRequest.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return engine.Errorf(engine.ErrBadRequest, "failed to parse JSON input: %s", jsonReason(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return engine.Errorf(engine.ErrBadRequest, "failed to parse JSON input: unexpected data after the JSON value")
	}
	return nil
}

// jsonReason describes a JSON error without echoing the input.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be of type %s, got %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of JSON input"
	}
	return "invalid JSON"
}

var _ http.Handler = (*Server)(nil)
