package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/policy"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
)

// The policy endpoints (Vault's sys/policy and sys/policies/acl, and
// sys/capabilities, capabilities-self, capabilities-accessor).

func (s *Server) policyStore(r *request) (*policy.Store, error) {
	if r.t.Policies == nil {
		return nil, engine.ErrUnsupportedPath
	}
	return r.t.Policies, nil
}

// policyRoute serves sys/policy[/<name>] and sys/policies/acl[/<name>].
func (s *Server) policyRoute(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	st, err := s.policyStore(r)
	if err != nil {
		return err
	}
	ctx := r.ctx
	legacy := strings.HasPrefix(r.path, "sys/policy")
	name := strings.TrimPrefix(strings.TrimPrefix(r.path, "sys/policies/acl"), "sys/policy")
	name = strings.Trim(name, "/")
	method := c.Request().Method
	list := method == "LIST" || c.QueryParam("list") == "true"
	if name == "" {
		if !(list || (legacy && method == http.MethodGet)) {
			return engine.ErrUnsupportedOperation
		}
		names, err := st.List(ctx)
		if err != nil {
			return err
		}
		data := map[string]any{"keys": names}
		if legacy {
			data["policies"] = names
		}
		return respondData(c, r, data, nil)
	}
	switch method {
	case http.MethodGet:
		text, ok, err := st.Get(ctx, name)
		if err != nil {
			return err
		}
		if !ok {
			return engine.ErrNotFound
		}
		data := map[string]any{"name": policy.NormalizeName(name)}
		if legacy {
			data["rules"] = text
		} else {
			data["policy"] = text
		}
		return respondData(c, r, data, nil)
	case http.MethodPut, http.MethodPost:
		var in struct {
			Policy string `json:"policy"`
			Rules  string `json:"rules"`
		}
		if err := decodeJSON(r.body, &in); err != nil {
			return err
		}
		text := in.Policy
		if text == "" {
			text = in.Rules
		}
		if strings.TrimSpace(text) == "" {
			return engine.Errorf(engine.ErrBadRequest, "'policy' parameter not supplied or empty")
		}
		if err := st.Put(ctx, name, text); err != nil {
			return policyError(err)
		}
		return respondRaw(c, 0, nil)
	case http.MethodDelete:
		if err := st.Delete(ctx, name); err != nil {
			return policyError(err)
		}
		return respondRaw(c, 0, nil)
	}
	return engine.ErrUnsupportedOperation
}

func policyError(err error) error {
	if errors.Is(err, policy.ErrProtected) {
		return engine.Errorf(engine.ErrBadRequest, "%w", err)
	}
	return err
}

// capabilities serves sys/capabilities, capabilities-self and
// capabilities-accessor: the capabilities a token has on paths.
func (s *Server) capabilities(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	var in struct {
		Token    string   `json:"token"`
		Accessor string   `json:"accessor"`
		Path     string   `json:"path"`
		Paths    []string `json:"paths"`
	}
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	paths := in.Paths
	if in.Path != "" {
		paths = append(paths, in.Path)
	}
	if len(paths) == 0 {
		return engine.Errorf(engine.ErrBadRequest, "missing paths")
	}
	ctx := r.ctx
	var e *token.Entry
	var err error
	switch r.path {
	case "sys/capabilities-self":
		e, err = s.authenticate(ctx, r)
	case "sys/capabilities":
		if in.Token == "" {
			return engine.Errorf(engine.ErrBadRequest, "missing token")
		}
		// The token is looked up in the request's namespace, as the
		// request's own token is.
		e, err = s.lookupToken(ctx, &request{ctx: ctx, t: r.t, ns: r.ns, token: in.Token})
		if errors.Is(err, engine.ErrPermissionDenied) {
			return engine.Errorf(engine.ErrBadRequest, "invalid token")
		}
	case "sys/capabilities-accessor":
		err = r.t.Sys.Barrier.View(ctx, func(tx *seal.ReadTx) error {
			th, err := token.LookupAccessor(tx, in.Accessor)
			if err != nil {
				return err
			}
			e, err = token.LookupHash(tx, th, s.opts.Now())
			return err
		})
		if errors.Is(err, token.ErrInvalid) {
			return engine.Errorf(engine.ErrBadRequest, "invalid accessor")
		}
	}
	if err != nil {
		return err
	}
	data := map[string]any{}
	var last []string
	for _, p := range paths {
		caps := []string{"root"}
		if !e.IsRoot() {
			st, err := s.policyStore(r)
			if err != nil {
				return err
			}
			acl, err := st.ACL(ctx, e.Policies)
			if err != nil {
				return err
			}
			caps = acl.Capabilities(strings.TrimPrefix(p, "/"))
		}
		data[p] = caps
		last = caps
	}
	if len(paths) == 1 {
		data["capabilities"] = last
	}
	return respondData(c, r, data, nil)
}
