package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/cubbyhole"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/token"
)

// The sys/auth endpoints (Vault's handleAuthTable, handleEnableAuth,
// handleDisableAuth): auth methods enabled at auth/<path>. The token store
// at auth/token/ is always there.

// GET sys/auth
func (s *Server) authList(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	tm, err := tokenMount(r)
	if err != nil {
		return err
	}
	data := map[string]any{"token/": tm.Info()}
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

// tokenMount is the token store's entry in the auth table of r's tenant
// (see builtinMount), with its tuned configuration.
func tokenMount(r *request) (*mounts.Entry, error) {
	e := builtinMount(r.t.ID, "auth/", &mounts.Entry{Path: "token/", Type: "token", Description: token.DefaultDescription})
	if r.t.TokenStore == nil {
		return e, nil
	}
	cfg, err := r.t.TokenStore.Config(r.ctx)
	if err != nil {
		return nil, err
	}
	e.Description = cfg.Description
	e.Config.DefaultLeaseTTL, e.Config.MaxLeaseTTL = cfg.DefaultLeaseTTL, cfg.MaxLeaseTTL
	return e, nil
}

// cubbyholeMount is the cubbyhole's entry in the mount table of the tenant
// with storage id id, as Vault lists it (local, "cubbyhole_<8 hex>").
func cubbyholeMount(id []byte) *mounts.Entry {
	return builtinMount(id, "", &mounts.Entry{Path: cubbyhole.MountPath, Type: "cubbyhole",
		Description: "per-token private secret storage", Local: true})
}

// systemMount is the entry of sys/ in the mount table, as Vault lists it.
func systemMount(id []byte) *mounts.Entry {
	return builtinMount(id, "", &mounts.Entry{Path: "sys/", Type: "system",
		Description: "system endpoints used for control, policy and debugging", SealWrap: true})
}

// builtinMount fills in the accessor and UUID of e, a mount every tenant
// has without a record of it, from a hash of the tenant's id and the
// mount's full path; table is "auth/" for an auth method, else "". Vault
// names the accessors "auth_<type>_<8 hex>" and "<type>_<8 hex>" and makes
// both and the UUID random per cluster; derived, they stay the same without
// being stored and differ between tenants.
func builtinMount(id []byte, table string, e *mounts.Entry) *mounts.Entry {
	h := sha256.Sum256(append([]byte(table+e.Path), id...))
	x := hex.EncodeToString(h[:])
	e.Accessor = e.Type + "_" + x[:8]
	if table == "auth/" {
		e.Accessor = "auth_" + e.Accessor
	}
	e.UUID = x[8:16] + "-" + x[16:20] + "-" + x[20:24] + "-" + x[24:28] + "-" + x[28:40]
	return e
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

// authTuneWrite tunes the auth method at auth/<path> (POST
// sys/auth/<path>/tune, or sys/mounts/auth/<path>/tune as `vault auth
// tune` sends it): its default and max lease TTLs bound the tokens its
// logins issue, its description, and token_type (service only).
func (s *Server) authTuneWrite(c echo.Context, r *request, path string) error {
	p, err := mounts.NormalizePath(path)
	if err != nil {
		return err
	}
	var in mounts.TuneInput
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	if p == "token/" && r.t.TokenStore != nil {
		if err := s.tuneTokenStore(r, in); err != nil {
			return err
		}
		return respondRaw(c, 0, nil)
	}
	if r.t.Auths == nil {
		return engine.ErrUnsupportedPath
	}
	if err := r.t.Auths.Tune(r.ctx, p, in); err != nil {
		return mountError(err)
	}
	return respondRaw(c, 0, nil)
}

// tuneTokenStore applies a tune to the token store's configuration, with
// the rules of mounts.Table.Tune; options are refused (it has none).
func (s *Server) tuneTokenStore(r *request, in mounts.TuneInput) error {
	cfg, err := r.t.TokenStore.Config(r.ctx)
	if err != nil {
		return err
	}
	cfg.DefaultLeaseTTL = in.DefaultLeaseTTL.Apply(cfg.DefaultLeaseTTL)
	cfg.MaxLeaseTTL = in.MaxLeaseTTL.Apply(cfg.MaxLeaseTTL)
	if in.Description != nil {
		cfg.Description = *in.Description
	}
	if err := mounts.CheckTune(cfg.DefaultLeaseTTL, cfg.MaxLeaseTTL, in.TokenType, true); err != nil {
		return err
	}
	if len(in.Options) > 0 {
		return engine.Errorf(engine.ErrBadRequest, "the token store takes no options")
	}
	return r.t.TokenStore.SetConfig(r.ctx, cfg)
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
	if p, ok := strings.CutSuffix(path, "/tune"); ok {
		return s.authTuneWrite(c, r, p)
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
