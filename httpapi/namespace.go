package httpapi

import (
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/tenant"
)

// resolveNamespace picks the tenant a request is for, as Vault Enterprise
// and OpenBao do: the X-Vault-Namespace header, else a path prefix
// (/v1/<ns>/...) naming an existing namespace. "root" and "" are the root
// namespace. Namespaces are one level deep: with the header set, the path
// is inside that namespace and no prefix is looked for.
//
// What a caller without a valid token learns: a namespace that does not
// exist answers the seal endpoints (which work without a token, as a
// Vault node's do) with 404 "namespace not found", and every other path
// with 403, as an existing namespace does without a valid token.
func (s *Server) resolveNamespace(c echo.Context, r *request) error {
	name := strings.Trim(header(c.Request().Header, "X-Vault-Namespace"), "/")
	if name == "root" {
		name = ""
	}
	if name == "" && s.opts.Tenants != nil {
		first, rest, _ := strings.Cut(r.path, "/")
		if first != "" && first != "sys" && first != "auth" && s.opts.Tenants.Has(r.ctx, first) {
			name, r.path = first, rest
		}
	}
	if name == "" {
		return nil
	}
	r.ns = name
	if s.opts.Tenants == nil {
		return s.unknownNamespace(r, name)
	}
	if s.root.Sys.Barrier.Sealed() {
		return seal.ErrSealed // the registry is the cluster's
	}
	t, err := s.opts.Tenants.Lookup(r.ctx, name)
	if errors.Is(err, tenant.ErrNotFound) {
		return s.unknownNamespace(r, name)
	}
	if err != nil {
		return err
	}
	r.t = t
	return nil
}

// unknownNamespace answers a request for a namespace that does not exist.
func (s *Server) unknownNamespace(r *request, name string) error {
	if rt, ok := s.routes[r.path]; ok && rt.sealedOK {
		return engine.Errorf(engine.ErrUnsupportedPath, "namespace %q not found", name)
	}
	return engine.ErrPermissionDenied
}

// namespace names the request's namespace for the audit log: "root" or
// the namespace's path ("acme/").
func (r *request) namespace() string {
	if r.ns == "" {
		return "root"
	}
	return r.ns + "/"
}
