package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/sys"
)

// The quorum endpoints (sys/rekey*, sys/generate-root/*) take no token, as
// in Vault: a quorum of key holders is their authorisation.

func (s *Server) rekeyRoutes(recovery bool) (init, update *route) {
	status := func(c echo.Context, r *request) error {
		st, err := r.t.Sys.RekeyStatus(r.ctx, recovery)
		if err != nil {
			return err
		}
		return respondRaw(c, http.StatusOK, st)
	}
	start := func(c echo.Context, r *request) error {
		var req sys.RekeyRequest
		if err := decodeJSON(r.body, &req); err != nil {
			return err
		}
		st, err := r.t.Sys.RekeyInit(r.ctx, recovery, req)
		if err != nil {
			return err
		}
		return respondRaw(c, http.StatusOK, st)
	}
	cancel := func(c echo.Context, r *request) error {
		r.t.Sys.RekeyCancel(recovery)
		return respondRaw(c, 0, nil)
	}
	upd := func(c echo.Context, r *request) error {
		var req sys.RekeyUpdateRequest
		if err := decodeJSON(r.body, &req); err != nil {
			return err
		}
		done, st, err := r.t.Sys.RekeyUpdate(r.ctx, recovery, req)
		if err != nil {
			return err
		}
		if done != nil {
			return respondRaw(c, http.StatusOK, done)
		}
		return respondRaw(c, http.StatusOK, st)
	}
	return &route{noWrap: true, methods: map[string]handlerFunc{http.MethodGet: status, http.MethodPut: start, http.MethodPost: start, http.MethodDelete: cancel}},
		&route{noWrap: true, methods: map[string]handlerFunc{http.MethodPut: upd, http.MethodPost: upd}}
}

func (s *Server) generateRootAttempt() *route {
	status := func(c echo.Context, r *request) error {
		st, err := r.t.Sys.GenerateRootStatus(r.ctx)
		if err != nil {
			return err
		}
		return respondRaw(c, http.StatusOK, st)
	}
	start := func(c echo.Context, r *request) error {
		var req sys.GenerateRootInitRequest
		if err := decodeJSON(r.body, &req); err != nil {
			return err
		}
		st, err := r.t.Sys.GenerateRootInit(r.ctx, req)
		if err != nil {
			return err
		}
		return respondRaw(c, http.StatusOK, st)
	}
	cancel := func(c echo.Context, r *request) error {
		r.t.Sys.GenerateRootCancel()
		return respondRaw(c, 0, nil)
	}
	return &route{noWrap: true, methods: map[string]handlerFunc{http.MethodGet: status, http.MethodPut: start, http.MethodPost: start, http.MethodDelete: cancel}}
}

func (s *Server) generateRootUpdate(c echo.Context, r *request) error {
	var req sys.GenerateRootUpdateRequest
	if err := decodeJSON(r.body, &req); err != nil {
		return err
	}
	st, err := r.t.Sys.GenerateRootUpdate(r.ctx, req)
	if err != nil {
		return err
	}
	return respondRaw(c, http.StatusOK, st)
}

// check authenticates and authorises a request to a sys/ route by its
// path and method, through the ACL.
func (s *Server) check(c echo.Context, r *request) error {
	op := methodOps[c.Request().Method]
	if c.Request().Method == "LIST" || c.QueryParam("list") == "true" {
		op = engine.OpList
	}
	_, err := s.requireACL(c, r, op)
	return err
}

// PUT sys/rotate
func (s *Server) rotate(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	if err := r.t.Sys.Rotate(r.ctx); err != nil {
		return err
	}
	return respondRaw(c, 0, nil)
}

// LIST sys/version-history (Vault's handleVersionHistoryList): the server
// versions that have served the cluster; a GET is 405, as in Vault.
func (s *Server) versionHistory(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	data, err := r.t.Sys.VersionHistory(r.ctx)
	if err != nil {
		return err
	}
	return respondData(c, r, data, nil)
}

// GET sys/key-status
func (s *Server) keyStatus(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	data, err := r.t.Sys.KeyStatus()
	if err != nil {
		return err
	}
	return respondData(c, r, data, nil)
}
