package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/tenant"
)

// The sys/namespaces endpoints, after Vault Enterprise's and OpenBao's
// (internal/vault/logical_system_namespaces.go at df6ce2ce): LIST
// sys/namespaces; GET, PUT/POST, PATCH and DELETE sys/namespaces/<name>;
// and Strongroom's POST sys/namespaces/<name>/rename. They answer in the
// root namespace only (namespaces are one level deep), to a token of the
// root namespace whose policy allows the path.

// namespaceRoutes are the routes of sys/namespaces and sys/namespaces/.
func (s *Server) namespaceRoutes() (list, item *route) {
	list = &route{methods: map[string]handlerFunc{"LIST": s.namespaceList}}
	h := s.namespaceItem
	item = &route{methods: map[string]handlerFunc{
		http.MethodGet: h, http.MethodPut: h, http.MethodPost: h, http.MethodPatch: h, http.MethodDelete: h}}
	return list, item
}

// namespaceGate authorises a sys/namespaces request with op; in a
// namespace, or without a tenant manager, the path then does not exist.
func (s *Server) namespaceGate(c echo.Context, r *request, op engine.Operation, exists func() (bool, error)) error {
	served := r.ns == "" && s.opts.Tenants != nil
	if !served {
		exists = nil
	}
	if _, err := s.requireACLExists(c, r, op, exists); err != nil {
		return err
	}
	if !served {
		return engine.Errorf(engine.ErrUnsupportedPath, "1 error occurred:\n\t* unsupported path\n\n")
	}
	return nil
}

// LIST sys/namespaces: keys are paths ("acme/"), key_info their data.
// No namespace is 404, as an empty Vault list is.
func (s *Server) namespaceList(c echo.Context, r *request) error {
	if err := s.namespaceGate(c, r, engine.OpList, nil); err != nil {
		return err
	}
	entries, err := s.opts.Tenants.List(r.ctx)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return engine.ErrNotFound
	}
	keys := make([]string, len(entries))
	info := make(map[string]any, len(entries))
	for i := range entries {
		keys[i] = entries[i].Path()
		info[keys[i]] = entries[i].Data()
	}
	return respondData(c, r, map[string]any{"keys": keys, "key_info": info}, nil)
}

// namespaceInput is the body of PUT and PATCH sys/namespaces/<name>.
type namespaceInput struct {
	CustomMetadata map[string]any `json:"custom_metadata"`
	SealType       string         `json:"seal_type"`
	To             string         `json:"to"` // rename
}

// metadata checks custom_metadata: its values must be strings (Vault's
// message); PATCH may give null to remove a key.
func (in *namespaceInput) metadata(patch bool) (map[string]string, map[string]bool, error) {
	set, drop := map[string]string{}, map[string]bool{}
	for k, v := range in.CustomMetadata {
		switch v := v.(type) {
		case string:
			set[k] = v
		case nil:
			if !patch {
				return nil, nil, engine.Errorf(engine.ErrBadRequest, "custom_metadata values must be strings")
			}
			drop[k] = true
		default:
			return nil, nil, engine.Errorf(engine.ErrBadRequest, "custom_metadata values must be strings")
		}
	}
	return set, drop, nil
}

// GET, PUT/POST, PATCH and DELETE sys/namespaces/<name>, and POST
// sys/namespaces/<name>/rename.
func (s *Server) namespaceItem(c echo.Context, r *request) error {
	ctx := r.ctx
	rest := strings.TrimPrefix(r.path, "sys/namespaces/")
	method := c.Request().Method
	if name, ok := strings.CutSuffix(strings.TrimSuffix(rest, "/"), "/rename"); ok && name != "" {
		if method != http.MethodPost && method != http.MethodPut {
			return engine.ErrUnsupportedOperation
		}
		return s.namespaceRename(c, r, name)
	}
	var exists func() (bool, error)
	if method == http.MethodPut || method == http.MethodPost {
		exists = func() (bool, error) {
			if s.opts.Tenants == nil {
				return false, nil
			}
			e, err := s.opts.Tenants.Get(ctx, strings.Trim(rest, "/"))
			return e != nil, err
		}
	}
	if err := s.namespaceGate(c, r, methodOps[method], exists); err != nil {
		return err
	}
	name, err := tenant.ParseName(rest)
	if err != nil {
		return err
	}
	var in namespaceInput
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	m := s.opts.Tenants
	switch method {
	case http.MethodGet:
		e, err := m.Get(ctx, name)
		if err != nil {
			return err
		}
		if e == nil {
			return engine.ErrNotFound
		}
		return respondData(c, r, e.Data(), nil)
	case http.MethodDelete:
		status, err := m.Delete(ctx, name)
		if err != nil {
			return err
		}
		if status == tenant.DeleteNone {
			return respondData(c, r, nil, []string{"requested namespace does not exist"})
		}
		return respondData(c, r, map[string]any{"status": string(status)}, nil)
	case http.MethodPatch:
		set, drop, err := in.metadata(true)
		if err != nil {
			return err
		}
		cur, err := m.Get(ctx, name)
		if err != nil {
			return err
		}
		if cur == nil {
			return engine.ErrNotFound
		}
		md := map[string]string{}
		for k, v := range cur.CustomMetadata {
			if !drop[k] {
				md[k] = v
			}
		}
		for k, v := range set {
			md[k] = v
		}
		e, err := m.Create(ctx, name, tenant.CreateInput{CustomMetadata: md, HasMetadata: true})
		if err != nil {
			return err
		}
		return respondData(c, r, e.Data(), nil)
	}
	set, _, err := in.metadata(false)
	if err != nil {
		return err
	}
	e, err := m.Create(ctx, name, tenant.CreateInput{SealType: in.SealType, CustomMetadata: set, HasMetadata: in.CustomMetadata != nil})
	if err != nil {
		return err
	}
	return respondData(c, r, e.Data(), nil)
}

// POST sys/namespaces/<name>/rename {"to": "<new name>"}: the tenant keeps
// its id, data, tokens and keys.
func (s *Server) namespaceRename(c echo.Context, r *request, name string) error {
	if err := s.namespaceGate(c, r, engine.OpUpdate, nil); err != nil {
		return err
	}
	var in namespaceInput
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	if in.To == "" {
		return engine.Errorf(engine.ErrBadRequest, "missing \"to\": the new namespace name")
	}
	e, err := s.opts.Tenants.Rename(r.ctx, name, in.To)
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		return engine.ErrNotFound
	case errors.Is(err, tenant.ErrExists):
		return engine.Errorf(engine.ErrBadRequest, "namespace %q already exists", strings.Trim(in.To, "/"))
	case err != nil:
		return err
	}
	return respondData(c, r, e.Data(), nil)
}
