package httpapi

import (
	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
)

// GET sys/metrics?format=prometheus (Vault's path): the node's metrics in
// the Prometheus text format. It needs read on sys/metrics unless the
// listener allows unauthenticated metrics access, as Vault's telemetry
// stanza does. Only the prometheus format is served.
func (s *Server) metricsEndpoint(c echo.Context, r *request) error {
	if !s.opts.UnauthenticatedMetrics {
		if err := s.check(c, r); err != nil {
			return err
		}
	}
	if s.opts.Metrics == nil {
		return engine.Errorf(engine.ErrUnsupportedPath, "metrics are not enabled")
	}
	if f := c.QueryParam("format"); f != "prometheus" {
		return engine.Errorf(engine.ErrBadRequest, "unsupported metrics format %q: use format=prometheus", f)
	}
	s.opts.Metrics.Handler().ServeHTTP(c.Response(), c.Request())
	return nil
}
