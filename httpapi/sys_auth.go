package httpapi

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/mounts"
)

// The sys/auth endpoints (Vault's handleAuthTable, handleEnableAuth,
// handleDisableAuth): auth methods enabled at auth/<path>. The token store
// at auth/token/ is always there.

// GET sys/auth
func (s *Server) authList(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	data := map[string]any{"token/": (&mounts.Entry{
		Path: "token/", Type: "token", Description: "token based credentials", Accessor: "auth_token",
	}).Info()}
	if r.t.Auths != nil {
		list, err := r.t.Auths.List(r.ctx)
		if err != nil {
			return err
		}
		for _, e := range list {
			data[e.Path] = e.Info()
		}
	}
	return respondData(c, r, data, nil)
}

// POST sys/auth/<path>
func (s *Server) authEnable(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	if r.t.Auths == nil {
		return engine.ErrUnsupportedPath
	}
	path := strings.TrimPrefix(r.path, "sys/auth/")
	if strings.HasSuffix(path, "/tune") {
		return engine.Errorf(engine.ErrBadRequest, "tuning auth methods is not supported")
	}
	var in mounts.MountInput
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	if err := r.t.Auths.Mount(r.ctx, path, in); err != nil {
		return mountError(err)
	}
	return respondRaw(c, 0, nil)
}

// DELETE sys/auth/<path>
func (s *Server) authDisable(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	if r.t.Auths == nil {
		return engine.ErrUnsupportedPath
	}
	if err := r.t.Auths.Unmount(r.ctx, strings.TrimPrefix(r.path, "sys/auth/")); err != nil {
		return mountError(err)
	}
	return respondRaw(c, 0, nil)
}
