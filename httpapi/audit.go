package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/engine/token"
)

// notAudited are the status endpoints Vault does not audit either.
var notAudited = map[string]bool{"sys/health": true, "sys/seal-status": true, "sys/leader": true}

// streamed are the responses too large to hold for auditing.
var streamed = map[string]bool{"sys/storage/snapshot": true}

// errAudit fails a request that could not be audited, as Vault does.
var errAudit = errors.New("internal error: no audit device succeeded in logging the request")

// auditable reports whether the request goes to the audit devices.
func (s *Server) auditable(r *request) bool {
	return r.t.Audits != nil && !notAudited[r.path] && !r.t.Sys.Barrier.Sealed()
}

// recorder holds a response until it is audited: a response that cannot
// be audited is never sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// serveAudited logs the request to every audit device before serving it,
// and the response before sending it; if no device can log either, the
// request fails with 500 and the response is withheld (fail closed).
func (s *Server) serveAudited(c echo.Context, r *request) error {
	ctx := r.ctx
	if err := r.t.Audits.Load(ctx); err != nil {
		s.opts.Logger.Error("audit table unavailable", "request_id", r.id, "error", err.Error())
		return errAudit
	}
	if !r.t.Audits.Enabled() {
		return s.serve(c, r)
	}
	if err := s.readBody(c, r); err != nil {
		return err
	}
	var auth *audit.Auth
	if r.token != "" {
		if e, err := s.authenticate(ctx, r); err == nil {
			auth = auditAuth(r.token, e)
		}
	}
	areq := &audit.Request{
		ID: r.id, Operation: auditOperation(c), Path: r.path, ClientToken: r.token,
		Data: bodyParams(r.body), RemoteAddr: c.Request().RemoteAddr, Namespace: r.namespace(),
	}
	areq.MountType, areq.MountPoint = auditMount(ctx, r)
	if auth != nil {
		areq.ClientTokenAccessor = auth.Accessor
	}
	if err := r.t.Audits.Broker.LogRequest(ctx, auth, areq, nil); err != nil {
		s.opts.Logger.Error("audit failed", "request_id", r.id, "error", err.Error())
		s.opts.Metrics.AuditFailure()
		return errAudit
	}

	if streamed[r.path] {
		// Too large to hold: served directly, its response audited
		// without a body once it is sent.
		err := s.serve(c, r)
		status := c.Response().Status
		if err != nil {
			status, _ = statusOf(err)
		}
		if lerr := r.t.Audits.Broker.LogResponse(ctx, auth, areq, &audit.Response{Status: status}, err); lerr != nil {
			s.opts.Logger.Error("audit failed after a streamed response", "request_id", r.id, "error", lerr.Error())
		}
		return err
	}
	orig := c.Response().Writer
	rec := &recorder{header: http.Header{}}
	c.Response().Writer = rec
	if err := s.serve(c, r); err != nil {
		_ = s.writeError(c, r, err) // written to the recorder
	}
	c.Response().Writer = orig

	aresp, respErr := auditResponse(rec)
	if err := r.t.Audits.Broker.LogResponse(ctx, auth, areq, aresp, respErr); err != nil {
		s.opts.Logger.Error("audit failed", "request_id", r.id, "error", err.Error())
		s.opts.Metrics.AuditFailure()
		c.Response().Committed = false
		return errAudit
	}
	for k, v := range rec.header {
		orig.Header()[k] = v
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	orig.WriteHeader(rec.status)
	_, _ = orig.Write(rec.body.Bytes()) // the client went away: nothing to do
	return nil
}

func auditAuth(tok string, e *token.Entry) *audit.Auth {
	return &audit.Auth{
		ClientToken: tok, Accessor: e.Accessor, DisplayName: e.DisplayName,
		Policies: e.Policies, TokenPolicies: e.Policies, Metadata: e.Meta,
		TokenType: e.Type, TokenTTL: int64(e.TTL.Seconds()),
	}
}

func auditOperation(c echo.Context) string {
	switch c.Request().Method {
	case http.MethodGet:
		if c.QueryParam("list") == "true" {
			return "list"
		}
		return "read"
	case "LIST":
		return "list"
	case http.MethodDelete:
		return "delete"
	case http.MethodPatch:
		return "patch"
	}
	return "update"
}

// auditResponse turns a recorded response into its audit record: the
// envelope's data, auth and warnings, or a raw body as data, or the errors.
func auditResponse(rec *recorder) (*audit.Response, error) {
	out := &audit.Response{Status: rec.status}
	if rec.body.Len() == 0 {
		return out, nil
	}
	var env struct {
		Data     json.RawMessage `json:"data"`
		Auth     *engine.Auth    `json:"auth"`
		Warnings []string        `json:"warnings"`
		Errors   []string        `json:"errors"`
		WrapInfo *wrapInfo       `json:"wrap_info"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &env); err != nil {
		return out, nil
	}
	if env.Errors != nil && rec.status >= 400 {
		return out, errors.New(strings.Join(env.Errors, "; "))
	}
	if env.Data != nil {
		_ = json.Unmarshal(env.Data, &out.Data)
	} else {
		_ = json.Unmarshal(rec.body.Bytes(), &out.Data)
	}
	out.Warnings = env.Warnings
	if w := env.WrapInfo; w != nil {
		out.WrapInfo = &audit.WrapInfo{Token: w.Token, Accessor: w.Accessor, CreationTime: w.CreationTime,
			CreationPath: w.CreationPath, WrappedAccessor: w.WrappedAccessor, TTL: w.TTL}
	}
	if a := env.Auth; a != nil {
		out.Auth = &audit.Auth{ClientToken: a.ClientToken, Accessor: a.Accessor, Policies: a.Policies,
			TokenPolicies: a.TokenPolicies, Metadata: a.Metadata, TokenType: a.TokenType, TokenTTL: a.LeaseDuration}
	}
	return out, nil
}

// The sys/audit endpoints (Vault's handleAuditTable, handleEnableAudit,
// handleDisableAudit, handleAuditHash).

func (s *Server) audits(r *request) (*sys.Audits, error) {
	if r.t.Audits == nil {
		return nil, engine.ErrUnsupportedPath
	}
	return r.t.Audits, nil
}

// GET sys/audit
func (s *Server) auditList(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	a, err := s.audits(r)
	if err != nil {
		return err
	}
	data, err := a.List(r.ctx)
	if err != nil {
		return err
	}
	return respondData(c, r, data, nil)
}

// PUT and DELETE sys/audit/<path>
func (s *Server) auditPath(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	a, err := s.audits(r)
	if err != nil {
		return err
	}
	path := strings.TrimPrefix(r.path, "sys/audit/")
	ctx := r.ctx
	if c.Request().Method == http.MethodDelete {
		if err := a.Disable(ctx, path); err != nil {
			return err
		}
		return respondRaw(c, 0, nil)
	}
	var in sys.AuditInput
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	if err := a.Enable(ctx, path, in); err != nil {
		return err
	}
	return respondRaw(c, 0, nil)
}

// POST sys/audit-hash/<path>
func (s *Server) auditHash(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	a, err := s.audits(r)
	if err != nil {
		return err
	}
	var in struct {
		Input string `json:"input"`
	}
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	h, err := a.Hash(r.ctx, strings.TrimPrefix(r.path, "sys/audit-hash/"), in.Input)
	if err != nil {
		return err
	}
	return respondData(c, r, map[string]any{"hash": h}, nil)
}

// auditMount names the mount serving r's path, as Vault's audit entries do
// (mount_type, mount_point): the system backend for sys/, the token store
// for auth/token/, else the auth method or secrets engine whose mount the
// path falls under; nothing for a path under no mount.
func auditMount(ctx context.Context, r *request) (typ, point string) {
	switch {
	case strings.HasPrefix(r.path, "sys/"):
		return "system", "sys/"
	case strings.HasPrefix(r.path, "auth/token/"):
		return "token", "auth/token/"
	case strings.HasPrefix(r.path, "auth/"):
		if r.t.Auths != nil {
			if e, _, _, err := r.t.Auths.Route(ctx, strings.TrimPrefix(r.path, "auth/")); err == nil {
				return e.Type, "auth/" + e.Path
			}
		}
	case r.t.Mounts != nil:
		if e, _, _, err := r.t.Mounts.Route(ctx, r.path); err == nil {
			return e.Type, e.Path
		}
	}
	return "", ""
}
