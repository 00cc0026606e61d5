package transit

// random[/<source>][/<bytes>]: Vault's path_random.go (random_api.go).
// bytes (1 to 128 KiB, 32 by default) and format ("base64" or "hex") come
// from the body or the path; source is "platform" (default), "seal" or
// "all", all of which read the platform's CSPRNG here. Strongroom also
// accepts random/<bytes>/<format>.

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// maxRandomBytes is Vault's APIMaxBytes.
const maxRandomBytes = 128 * 1024

type randomRequest struct {
	Bytes  *flexInt   `json:"bytes"`
	Format flexString `json:"format"`
	Source flexString `json:"source"`
}

func (b *Backend) pathRandom(_ context.Context, req *engine.Request, rest string) (*engine.Response, error) {
	var in randomRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	n := 32
	if in.Bytes != nil {
		n = int(*in.Bytes)
	}
	source, format := string(in.Source), string(in.Format)
	var segs []string
	if rest != "" {
		segs = strings.Split(rest, "/")
	}
	if len(segs) > 2 {
		return nil, engine.Errorf(engine.ErrUnsupportedPath, "unsupported path")
	}
	for i, s := range segs {
		switch {
		case isRandomSource(s) && i == 0:
			source = s
		case (s == "hex" || s == "base64") && i == 1:
			format = s
		default:
			v, err := strconv.Atoi(s)
			if err != nil {
				return nil, badRequest("error parsing url-set byte count: %v", err)
			}
			n = v
		}
	}
	if n < 1 {
		return nil, badRequest("'bytes' cannot be less than 1")
	}
	if n > maxRandomBytes {
		return nil, badRequest("'bytes' should be less than %d", maxRandomBytes)
	}
	if format == "" {
		format = "base64"
	}
	if format != "hex" && format != "base64" {
		return nil, badRequest("unsupported encoding format %q; must be \"hex\" or \"base64\"", format)
	}
	var warnings []string
	switch source {
	case "", "platform", "all":
	case "seal":
		warnings = []string{"no seal/entropy augmentation available, using platform entropy source"}
	default:
		return nil, badRequest("unsupported entropy source %q; must be \"platform\" or \"seal\", or \"all\"", source)
	}
	raw, err := randomBytes(b.rand, n)
	if err != nil {
		return nil, err
	}
	out := base64.StdEncoding.EncodeToString(raw)
	if format == "hex" {
		out = hex.EncodeToString(raw)
	}
	return &engine.Response{Data: map[string]any{"random_bytes": out}, Warnings: warnings}, nil
}

func isRandomSource(s string) bool { return s == "platform" || s == "seal" || s == "all" }
