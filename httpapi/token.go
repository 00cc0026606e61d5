package httpapi

import (
	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine/token"
)

// GET auth/token/lookup-self: any valid token may look itself up (Vault's
// default policy allows it).
func (s *Server) lookupSelf(c echo.Context, r *request) error {
	e, err := s.authenticate(c.Request().Context(), r)
	if err != nil {
		return err
	}
	return respondData(c, r, token.LookupData(r.token, e, s.opts.Now()), nil)
}
