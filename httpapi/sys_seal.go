package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine/sys"
)

// GET sys/init
func (s *Server) initStatus(c echo.Context, r *request) error {
	st, err := r.t.Sys.InitStatus(r.ctx)
	if err != nil {
		return err
	}
	return respondRaw(c, http.StatusOK, st)
}

// PUT sys/init
func (s *Server) initialize(c echo.Context, r *request) error {
	var req sys.InitRequest
	if err := decodeJSON(r.body, &req); err != nil {
		return err
	}
	resp, err := r.t.Sys.Init(r.ctx, req)
	if err != nil {
		return err
	}
	return respondRaw(c, http.StatusOK, resp)
}

// GET sys/seal-status
func (s *Server) sealStatus(c echo.Context, r *request) error {
	st, err := r.t.Sys.SealStatus(r.ctx)
	if err != nil {
		return err
	}
	return respondRaw(c, http.StatusOK, st)
}

// PUT sys/unseal
func (s *Server) unseal(c echo.Context, r *request) error {
	var req sys.UnsealRequest
	if err := decodeJSON(r.body, &req); err != nil {
		return err
	}
	st, err := r.t.Sys.Unseal(r.ctx, req)
	clear([]byte(req.Key)) // best effort: req.Key is an immutable string copy
	if err != nil {
		return err
	}
	return respondRaw(c, http.StatusOK, st)
}

// PUT sys/seal. Sealing needs update and sudo on sys/seal; sealing a
// sealed node answers 204, as Vault does.
func (s *Server) sealNode(c echo.Context, r *request) error {
	if r.t.Sys.Barrier.Sealed() {
		return respondRaw(c, 0, nil)
	}
	// Vault demands update and sudo on sys/seal.
	if err := s.check(c, r); err != nil {
		return err
	}
	if err := r.t.Sys.SealRequest(r.ctx); err != nil {
		return err
	}
	return respondRaw(c, 0, nil)
}

// GET and HEAD sys/health
func (s *Server) health(c echo.Context, r *request) error {
	q, err := sys.ParseHealthQuery(c.QueryParams())
	if err != nil {
		return err
	}
	code, body, err := r.t.Sys.Health(r.ctx, q)
	if err != nil {
		return err
	}
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set("Content-Type", "application/json")
		return c.NoContent(code)
	}
	return writeJSON(c, code, body)
}

// GET sys/leader
func (s *Server) leader(c echo.Context, r *request) error {
	return respondRaw(c, http.StatusOK, r.t.Sys.Leader())
}
