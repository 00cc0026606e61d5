package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/cubbyhole"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/transit"
)

var methodOps = map[string]engine.Operation{
	http.MethodGet: engine.OpRead, http.MethodPut: engine.OpUpdate, http.MethodPost: engine.OpUpdate,
	http.MethodDelete: engine.OpDelete, "LIST": engine.OpList, http.MethodPatch: engine.OpPatch,
}

// logical serves a path of a mounted engine: authenticate, authorise, route
// to the mount, and write the engine's response in Vault's envelope.
func (s *Server) logical(c echo.Context, r *request, method string) error {
	ctx := r.ctx
	op, ok := methodOps[method]
	if !ok {
		return engine.ErrUnsupportedOperation
	}
	if op == engine.OpPatch {
		// Vault's HTTP layer (http/logical.go) answers 415 before any engine.
		if ct := header(c.Request().Header, "Content-Type"); ct != mergePatchType {
			return engine.Errorf(errUnsupportedMediaType, "PATCH requires Content-Type of %s, provided %s", mergePatchType, ct)
		}
	}
	mountPath, backend, rest, err := s.route(ctx, r, r.path)
	if err == nil {
		r.family = mountPath
	}
	if errors.Is(err, engine.ErrUnsupportedPath) {
		// A path that does not exist looks like one that does to a caller
		// whose policies do not allow it: 403. Only a caller they allow
		// learns it is not there (Vault checks the ACL before routing).
		if aerr := s.deniedUnknown(ctx, r, op); aerr != nil {
			return aerr
		}
	}
	if err != nil {
		return err
	}
	sudo := false
	if !(strings.HasPrefix(mountPath, "auth/") && rest == "login" && op == engine.OpUpdate) {
		// Every path but an auth method's login needs a token the policies
		// allow; logins are how a caller gets one.
		e, err := s.authenticate(ctx, r)
		if err != nil {
			return err
		}
		r.displayName = e.DisplayName
		var exists func() (bool, error)
		if ec, ok := backend.(engine.ExistenceChecker); ok {
			exists = func() (bool, error) {
				return ec.Exists(ctx, &engine.Request{ID: r.id, Operation: op, MountPath: mountPath, Path: rest, Body: r.body, ClientToken: r.token})
			}
		}
		if sudo, err = s.authorize(ctx, e, r, op, exists); err != nil {
			return err
		}
		done, err := s.useToken(ctx, r, e)
		if err != nil {
			return err
		}
		defer done()
	}
	var q url.Values // nil, which reads as empty, when there is no query
	if c.Request().URL.RawQuery != "" {
		q = c.QueryParams()
		q.Del("list")
	}
	ereq := &engine.Request{
		ID: r.id, Operation: op, MountPath: mountPath, Path: rest, Body: r.body,
		ContentType: header(c.Request().Header, "Content-Type"), Query: q,
		ClientToken: r.token, Sudo: sudo, RemoteAddr: r.remote,
	}
	resp, err := backend.HandleRequest(ctx, ereq)
	if err != nil {
		return err
	}
	if pn, ok := backend.(engine.ParamNamer); ok && op == engine.OpRead && len(q) > 0 {
		// Vault makes a read's query its data, checked against the path's
		// fields like a body (http/logical.go buildLogicalRequestNoAuth).
		ereq.Ignored = append(ereq.Ignored, engine.IgnoredQuery(q, pn.ParamNames())...)
	}
	if pc, ok := backend.(engine.PathCapturer); ok {
		noteReplaced(ereq, pc.PathCaptures(rest))
	}
	return s.respondLogical(c, r, warnIgnored(ereq, resp))
}

// deniedUnknown authorises a request to a path nothing serves as if it
// were served: it returns the 403 of a missing or unknown token, or of
// policies that do not allow op on the path, and nil when the caller may
// learn that the path does not exist.
func (s *Server) deniedUnknown(ctx context.Context, r *request, op engine.Operation) error {
	e, err := s.authenticate(ctx, r)
	if err != nil {
		return err
	}
	_, err = s.authorize(ctx, e, r, op, nil)
	return err
}

// route finds the engine serving path: the token store at auth/token/, or
// a secrets engine mount.
func (s *Server) route(ctx context.Context, r *request, path string) (string, engine.Backend, string, error) {
	const tokenMount = "auth/token/"
	if strings.HasPrefix(path, tokenMount) && r.t.TokenStore != nil {
		return tokenMount, r.t.TokenStore, strings.TrimPrefix(path, tokenMount), nil
	}
	if rest, ok := strings.CutPrefix(path, cubbyhole.MountPath); ok && r.t.Cubbyhole != nil {
		return cubbyhole.MountPath, r.t.Cubbyhole, rest, nil
	}
	if strings.HasPrefix(path, "auth/") && r.t.Auths != nil {
		entry, backend, rest, err := r.t.Auths.Route(ctx, strings.TrimPrefix(path, "auth/"))
		if err == nil {
			return "auth/" + entry.Path, backend, rest, nil
		}
		if !errors.Is(err, mounts.ErrNoMount) {
			return "", nil, "", err
		}
		return "", nil, "", engine.Errorf(engine.ErrUnsupportedPath, "no handler for route %q. route entry not found.", path)
	}
	if r.t.Mounts == nil {
		return "", nil, "", engine.Errorf(engine.ErrUnsupportedPath, "no handler for route %q. route entry not found.", path)
	}
	entry, backend, rest, err := r.t.Mounts.Route(ctx, path)
	if errors.Is(err, mounts.ErrNoMount) {
		return "", nil, "", engine.Errorf(engine.ErrUnsupportedPath, "no handler for route %q. route entry not found.", path)
	}
	if err != nil {
		return "", nil, "", err
	}
	return entry.Path, backend, rest, nil
}

// noteReplaced sets req.Replaced to those of captures (the names the
// path's Vault pattern captures) that req also gives as parameters, in its
// query for a read or its body for a write: Vault gives them the path's
// values instead. They are not ignored parameters, whatever the engine
// decoded.
func noteReplaced(req *engine.Request, captures []string) {
	if len(captures) == 0 {
		return
	}
	switch req.Operation {
	case engine.OpRead:
		for _, name := range captures {
			if _, ok := req.Query[name]; ok {
				req.Replaced = append(req.Replaced, name)
			}
		}
	case engine.OpUpdate, engine.OpPatch:
		req.Replaced = engine.BodyKeysAmong(req.Body, captures)
	}
	if len(req.Replaced) > 0 {
		req.Ignored = slices.DeleteFunc(req.Ignored, func(n string) bool { return slices.Contains(captures, n) })
	}
}

// warnIgnored adds to resp the warnings for the parameters of req that the
// engine did not read, then for those the path replaced. Vault's framework
// gives them on any response it writes, after the handler's own warnings;
// a handler answering nothing (204) gets none.
func warnIgnored(req *engine.Request, resp *engine.Response) *engine.Response {
	if len(req.Ignored)+len(req.Replaced) == 0 || resp == nil || (resp.Data == nil && resp.Auth == nil && len(resp.Warnings) == 0) {
		return resp
	}
	resp.Warnings = slices.Clip(resp.Warnings)
	if len(req.Ignored) > 0 {
		resp.Warnings = append(resp.Warnings, engine.IgnoredWarning(req.Ignored))
	}
	if len(req.Replaced) > 0 {
		resp.Warnings = append(resp.Warnings, engine.ReplacedWarning(req.Replaced))
	}
	return resp
}

// respondLogical writes an engine response: 204 without data, else the
// envelope with the engine's status (200 by default). A request for
// response wrapping gets a successful response with data or auth wrapped.
func (s *Server) respondLogical(c echo.Context, r *request, resp *engine.Response) error {
	if resp == nil || (resp.Data == nil && resp.Auth == nil && resp.Status == 0 && len(resp.Warnings) == 0) {
		return c.NoContent(http.StatusNoContent)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	env := envelope{RequestID: r.id, Data: resp.Data, Warnings: resp.Warnings, LeaseDuration: int(resp.LeaseDuration)}
	if resp.Auth != nil {
		env.Auth = resp.Auth
	}
	if r.wrapTTL > 0 && status == http.StatusOK && (resp.Data != nil || resp.Auth != nil) {
		return wrapEnvelope(c, r, env, wrappedAccessor(resp))
	}
	return writeJSON(c, status, env)
}

// wrappedAccessor is the wrap_info's wrapped_accessor of a wrapped
// response (Vault's wrapInCubbyhole): the accessor of the token it issues,
// or of the AppRole secret ID it creates.
func wrappedAccessor(resp *engine.Response) string {
	if resp.Auth != nil {
		return resp.Auth.Accessor
	}
	if m, ok := resp.Data.(map[string]any); ok {
		if a, ok := m["secret_id_accessor"].(string); ok {
			return a
		}
	}
	return ""
}

// prefixTable lists the sys/ routes that take a path argument.
func (s *Server) prefixTable() []prefixRoute {
	_, nsItem := s.namespaceRoutes()
	return []prefixRoute{
		{"sys/namespaces/", nsItem},
		{"sys/internal/ui/mounts/", &route{methods: map[string]handlerFunc{http.MethodGet: s.uiMount}}},
		{"sys/audit/", &route{methods: map[string]handlerFunc{
			http.MethodPut: s.auditPath, http.MethodPost: s.auditPath, http.MethodDelete: s.auditPath}}},
		{"sys/audit-hash/", &route{methods: map[string]handlerFunc{http.MethodPost: s.auditHash, http.MethodPut: s.auditHash}}},
		{"sys/remount/status/", &route{methods: map[string]handlerFunc{http.MethodGet: s.remountStatus}}},
		{"sys/tools/random/", s.toolsRoute()},
		{"sys/tools/hash/", s.toolsRoute()},
		{"sys/policy/", s.policyRouteAll()},
		{"sys/policies/acl/", s.policyRouteAll()},
		{"sys/auth/", &route{methods: map[string]handlerFunc{
			http.MethodGet: s.authRead, http.MethodPost: s.authEnable, http.MethodPut: s.authEnable, http.MethodDelete: s.authDisable}}},
		{"sys/mounts/", &route{methods: map[string]handlerFunc{
			http.MethodGet: s.mountRead, http.MethodPost: s.mountWrite, http.MethodPut: s.mountWrite, http.MethodDelete: s.mountDelete}}},
	}
}

func (s *Server) prefixRoute(path string) (*route, string, bool) {
	for _, p := range s.prefixes {
		if strings.HasPrefix(path, p.prefix) {
			return p.route, p.prefix, true
		}
	}
	return nil, "", false
}

const mergePatchType = "application/merge-patch+json"

var errUnsupportedMediaType = errors.New("unsupported media type")

// toolsRoute serves sys/tools/random and sys/tools/hash (Vault's
// SystemBackend tools paths), with transit's code.
func (s *Server) toolsRoute() *route {
	h := func(c echo.Context, r *request) error {
		if err := s.check(c, r); err != nil {
			return err
		}
		ereq := &engine.Request{ID: r.id, Operation: engine.OpUpdate,
			Path: strings.TrimPrefix(r.path, "sys/tools/"), Body: r.body}
		resp, err := transit.Tools(r.ctx, ereq)
		if err != nil {
			return err
		}
		noteReplaced(ereq, transit.ToolsCaptures(ereq.Path))
		return s.respondLogical(c, r, warnIgnored(ereq, resp))
	}
	return &route{methods: map[string]handlerFunc{http.MethodPost: h, http.MethodPut: h}}
}

// policyRouteAll serves every method of the policy paths.
func (s *Server) policyRouteAll() *route {
	h := s.policyRoute
	return &route{methods: map[string]handlerFunc{
		http.MethodGet: h, http.MethodPut: h, http.MethodPost: h, http.MethodDelete: h, "LIST": h}}
}
