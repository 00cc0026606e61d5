package httpapi

import (
	"net/http"

	"github.com/strongroom/strongroom/engine"
)

// wrapTTLHeader is how a client asks for response wrapping: the response
// held in a single-use token that lives this long.
const wrapTTLHeader = "X-Vault-Wrap-TTL"

// wrapTTLKey is the header's canonical form, computed once: Header.Get
// would canonicalise (and allocate) on every request.
var wrapTTLKey = http.CanonicalHeaderKey(wrapTTLHeader)

// errWrappingUnsupported refuses a request that asks for response
// wrapping. Strongroom does not implement it, and answering such a
// request in the clear would hand the secret to whoever was meant to see
// only a wrapping token (`vault kv get -wrap-ttl=5m` would print it), so
// the request is not carried out at all.
var errWrappingUnsupported = engine.Errorf(engine.ErrBadRequest,
	"response wrapping (%s) is not supported by this server; the request was not carried out", wrapTTLHeader)

// checkWrapTTL reads the wrap TTL header as Vault's requestWrapInfo does
// (http/handler.go): absent or empty asks for nothing; a value that is not
// a duration, or is negative, is a 400 ("requested wrap ttl cannot be
// negative"); zero asks for nothing, since Vault wraps only a TTL above
// zero. Any other value asks for wrapping: errWrappingUnsupported.
func checkWrapTTL(h http.Header) error {
	var v string
	if vs := h[wrapTTLKey]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return nil
	}
	d, err := engine.ParseDuration(v)
	switch {
	case err != nil:
		return err
	case d < 0:
		return engine.Errorf(engine.ErrBadRequest, "requested wrap ttl cannot be negative")
	case d == 0:
		return nil
	}
	return errWrappingUnsupported
}
