package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
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
	data := map[string]any{"token/": tokenMount(r.t.ID).Info()}
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

// tokenMount is the token store's entry in the auth table of the tenant
// with storage id id. Vault names it "auth_token_<8 hex>" and gives it a
// UUID, random per cluster; here both come from a hash of the tenant's id,
// so they stay the same without being stored and differ between tenants.
func tokenMount(id []byte) *mounts.Entry {
	h := sha256.Sum256(append([]byte("auth/token/"), id...))
	x := hex.EncodeToString(h[:])
	return &mounts.Entry{
		Path: "token/", Type: "token", Description: "token based credentials",
		Accessor: "auth_token_" + x[:8],
		UUID:     x[8:16] + "-" + x[16:20] + "-" + x[20:24] + "-" + x[24:28] + "-" + x[28:40],
	}
}

// GET sys/auth/<path>/tune: the method's tune read. Reading one method's
// configuration (GET sys/auth/<path>) is not served.
func (s *Server) authRead(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	path, ok := strings.CutSuffix(strings.TrimPrefix(r.path, "sys/auth/"), "/tune")
	if !ok {
		return engine.ErrUnsupportedOperation
	}
	return s.authTuneRead(c, r, path)
}

// errAuthTune refuses tuning an auth method (its TTLs stay the system's).
var errAuthTune = engine.Errorf(engine.ErrBadRequest, "tuning auth methods is not supported")

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
		return errAuthTune
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
