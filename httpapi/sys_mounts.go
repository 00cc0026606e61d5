package httpapi

import (
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/cubbyhole"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/token"
)

// The sys/mounts endpoints (Vault's handleMountTable, handleMount,
// handleUnmount, handleTuneRead, handleTuneWrite) and the KV preflight
// sys/internal/ui/mounts/<path> (pathInternalUIMountRead).

// checkedMounts authorises r (s.check) and returns the mount table; a
// server built without one answers as for an unknown path.
func (s *Server) checkedMounts(c echo.Context, r *request) (*mounts.Table, error) {
	if err := s.check(c, r); err != nil {
		return nil, err
	}
	if r.t.Mounts == nil {
		return nil, engine.ErrUnsupportedPath
	}
	return r.t.Mounts, nil
}

// GET sys/mounts
func (s *Server) mountList(c echo.Context, r *request) error {
	t, err := s.checkedMounts(c, r)
	if err != nil {
		return err
	}
	list, err := t.List(r.ctx)
	if err != nil {
		return err
	}
	data := map[string]any{cubbyhole.MountPath: cubbyholeMount(r.t.ID).Info(), "sys/": systemMount(r.t.ID).Info()}
	for _, e := range list {
		data[e.Path] = e.Info()
	}
	return respondData(c, r, data, nil)
}

// mountArg splits "sys/mounts/<path>[/tune]".
func mountArg(path string) (mount string, tune bool) {
	rest := strings.TrimPrefix(path, "sys/mounts/")
	if strings.HasSuffix(rest, "/tune") {
		return strings.TrimSuffix(rest, "/tune"), true
	}
	return rest, false
}

// GET sys/mounts/<path> and sys/mounts/<path>/tune
func (s *Server) mountRead(c echo.Context, r *request) error {
	t, err := s.checkedMounts(c, r)
	if err != nil {
		return err
	}
	arg, tune := mountArg(r.path)
	p, err := mounts.NormalizePath(arg)
	if err != nil {
		return err
	}
	if tune && strings.HasPrefix(p, "auth/") {
		return s.authTuneRead(c, r, strings.TrimPrefix(p, "auth/"))
	}
	list, err := t.List(r.ctx)
	if err != nil {
		return err
	}
	list = append(list, cubbyholeMount(r.t.ID), systemMount(r.t.ID))
	for _, e := range list {
		if e.Path != p {
			continue
		}
		if !tune {
			return respondData(c, r, e.Info(), nil)
		}
		return respondData(c, r, tuneData(e, false), nil)
	}
	return engine.Errorf(engine.ErrBadRequest, "cannot fetch sysview for path %q", p)
}

// tuneData is a mount's tune read (Vault's handleTuneReadCommon): the
// effective TTLs (the system default, 768h, where the mount sets none),
// options only when there are some, and for an auth method its token type.
func tuneData(e *mounts.Entry, auth bool) map[string]any {
	def, max := e.Config.DefaultLeaseTTL, e.Config.MaxLeaseTTL
	if def == 0 {
		def = systemDefaultLeaseTTL
	}
	if max == 0 {
		max = systemDefaultLeaseTTL
	}
	data := map[string]any{
		"default_lease_ttl": def, "max_lease_ttl": max,
		"force_no_cache": e.Config.ForceNoCache, "description": e.Description,
	}
	if opts := e.ReportedOptions(); opts != nil {
		data["options"] = opts
	}
	if auth {
		data["token_type"] = "default-service"
	}
	return data
}

// authTuneRead answers the tune read of the auth method at auth/<path>
// (GET sys/auth/<path>/tune, or sys/mounts/auth/<path>/tune as `vault
// read` and Terraform's provider ask): the token store's defaults for
// token/, the method's configuration otherwise. Tuning auth methods is
// not supported, so the TTLs are always the system's.
func (s *Server) authTuneRead(c echo.Context, r *request, path string) error {
	p, err := mounts.NormalizePath(path)
	if err != nil {
		return err
	}
	if p == "token/" {
		tm, err := tokenMount(r)
		if err != nil {
			return err
		}
		return respondData(c, r, tuneData(tm, true), nil)
	}
	if r.t.Auths != nil {
		list, err := r.t.Auths.List(r.ctx)
		if err != nil {
			return err
		}
		for _, e := range list {
			if e.Path == p {
				return respondData(c, r, tuneData(e, true), nil)
			}
		}
	}
	return engine.Errorf(engine.ErrBadRequest, "cannot fetch sysview for path %q", "auth/"+p)
}

// POST sys/mounts/<path> and sys/mounts/<path>/tune
func (s *Server) mountWrite(c echo.Context, r *request) error {
	t, err := s.checkedMounts(c, r)
	if err != nil {
		return err
	}
	arg, tune := mountArg(r.path)
	ctx := r.ctx
	if p, ok := strings.CutPrefix(strings.TrimPrefix(arg, "/"), "auth/"); tune && ok {
		return s.authTuneWrite(c, r, p) // `vault auth tune` asks here
	}
	if tune {
		var in mounts.TuneInput
		if err := decodeJSON(r.body, &in); err != nil {
			return err
		}
		if err := t.Tune(ctx, arg, in); err != nil {
			return mountError(err)
		}
		return respondRaw(c, 0, nil)
	}
	var in mounts.MountInput
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	if err := t.Mount(ctx, arg, in); err != nil {
		return mountError(err)
	}
	return respondRaw(c, 0, nil)
}

// DELETE sys/mounts/<path>
func (s *Server) mountDelete(c echo.Context, r *request) error {
	t, err := s.checkedMounts(c, r)
	if err != nil {
		return err
	}
	arg, tune := mountArg(r.path)
	if tune {
		return engine.ErrUnsupportedOperation
	}
	if err := t.Unmount(r.ctx, arg); err != nil {
		return mountError(err)
	}
	return respondRaw(c, 0, nil)
}

// mountError makes the table's refusals bad requests.
func mountError(err error) error {
	for _, e := range []error{mounts.ErrPathInUse, mounts.ErrUnknownType, mounts.ErrReservedPath} {
		if errors.Is(err, e) {
			return engine.Errorf(engine.ErrBadRequest, "%w", err)
		}
	}
	return err
}

// GET sys/internal/ui/mounts/<path>: the mount serving path, as the KV CLI
// asks before every command. A path with no mount answers 403, so this
// cannot enumerate mounts (Vault's behaviour).
func (s *Server) uiMount(c echo.Context, r *request) error {
	ctx := r.ctx
	te, err := s.authenticate(ctx, r)
	if err != nil {
		return err
	}
	path := strings.TrimPrefix(r.path, "sys/internal/ui/mounts/")
	if path == "" {
		return engine.Errorf(engine.ErrBadRequest, "path not set")
	}
	t := r.t.Mounts
	if t == nil {
		return engine.ErrUnsupportedPath
	}
	me, _, _, err := t.Route(ctx, path)
	if cm := cubbyholeMount(r.t.ID); path == strings.TrimSuffix(cm.Path, "/") || strings.HasPrefix(path, cm.Path) {
		me, err = cm, nil
	}
	// Vault's pathInternalUIMountRead names the path sanitized (a
	// trailing slash) in its refusal.
	denied := engine.Errorf(engine.ErrPermissionDenied,
		"preflight capability check returned 403, please ensure client's policies grant access to path %q", sanitizeMountPath(path))
	if errors.Is(err, mounts.ErrNoMount) {
		return denied
	}
	if err != nil {
		return err
	}
	// Vault's rule: the token must have some access under the mount.
	reaches, err := s.mountAccess(r, te)
	if err != nil {
		return err
	}
	if !reaches(me.Path) {
		return denied
	}
	info := me.Info()
	info["path"] = me.Path
	return respondData(c, r, info, nil)
}

// systemDefaultLeaseTTL is Vault's default and maximum lease TTL, 768h.
const systemDefaultLeaseTTL = 768 * 3600

// GET sys/internal/ui/mounts: the secrets engines and auth methods the
// caller may use, as Vault's pathInternalUIMountsRead lists them for its
// UI: {"secret": {path: info}, "auth": {path: info}}, a mount appearing
// when the token's policies grant some access under it (ACL.HasMountAccess;
// an auth method's path is auth/<path>), every mount for a root token.
// Vault also lists mounts tuned to listing_visibility "unauth", to callers
// without a token too; Strongroom offers no such tuning, so a request
// without a token gets both maps empty. A token that does not resolve is
// refused as on any path.
func (s *Server) uiMounts(c echo.Context, r *request) error {
	secret, auth := map[string]any{}, map[string]any{}
	data := map[string]any{"secret": secret, "auth": auth}
	if r.token == "" {
		return respondData(c, r, data, nil)
	}
	ctx := r.ctx
	te, err := s.authenticate(ctx, r)
	if err != nil {
		return err
	}
	visible, err := s.mountAccess(r, te)
	if err != nil {
		return err
	}
	add := func(dst map[string]any, prefix string, e *mounts.Entry) {
		if visible(prefix + e.Path) {
			dst[e.Path] = e.Info()
		}
	}
	add(secret, "", cubbyholeMount(r.t.ID))
	add(secret, "", systemMount(r.t.ID))
	if r.t.Mounts != nil {
		list, err := r.t.Mounts.List(ctx)
		if err != nil {
			return err
		}
		for _, e := range list {
			add(secret, "", e)
		}
	}
	tm, err := tokenMount(r)
	if err != nil {
		return err
	}
	add(auth, "auth/", tm)
	if r.t.Auths != nil {
		list, err := r.t.Auths.List(ctx)
		if err != nil {
			return err
		}
		for _, e := range list {
			add(auth, "auth/", e)
		}
	}
	return respondData(c, r, data, nil)
}

// mountAccess returns whether te's policies reach the mount at a path
// ("secret/", "auth/approle/"): some capability under it
// (ACL.HasMountAccess, Vault's hasMountAccess), always for a root token.
func (s *Server) mountAccess(r *request, te *token.Entry) (func(path string) bool, error) {
	if te.IsRoot() {
		return func(string) bool { return true }, nil
	}
	st, err := s.policyStore(r)
	if err != nil {
		return nil, err
	}
	acl, err := st.ACL(r.ctx, te.Policies)
	if err != nil {
		return nil, err
	}
	return acl.HasMountAccess, nil
}
