package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/storage"
)

// GET sys/storage/snapshot streams a consistent copy of the whole store,
// as stored: barrier-encrypted, useless without the HSM key or the unseal
// keys. It needs read and sudo on the path. `strongroom operator backup`
// calls it; `strongroom operator restore` loads the file into an empty store.
func (s *Server) snapshot(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	sn, ok := s.opts.Store.(storage.Snapshotter)
	if s.opts.Store == nil || !ok {
		return engine.Errorf(engine.ErrUnsupportedPath, "this storage backend cannot take snapshots")
	}
	w := c.Response()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="strongroom.snapshot"`)
	w.WriteHeader(http.StatusOK)
	if _, err := sn.Snapshot(w); err != nil {
		// The status is sent; the client sees a truncated body.
		s.opts.Logger.Error("snapshot failed", "request_id", r.id, "error", err.Error())
	}
	return nil
}
