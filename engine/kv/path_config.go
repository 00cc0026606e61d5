package kv

// config: Vault's path_config.go. GET answers {cas_required,
// delete_version_after (Go duration string: "0s" unset, "-1s" disabled),
// max_versions (0 means the default of 10)}. PUT/POST sets the given
// fields (none given: no-op, 204): max_versions, cas_required, and
// delete_version_after, where a negative duration disables
// delete_version_after for every secret, zero clears it and a positive one
// sets it. The configuration applies to later writes; existing versions
// keep the deletion_time they were given, and versions past a lowered
// max_versions are pruned at the secret's next write, as in Vault.
// Deviation: a negative max_versions is refused instead of wrapping.

import (
	"context"
	"encoding/json"
	"math"
	"strconv"

	"github.com/strongroom/strongroom/engine"
)

// configRequest is the body of a config write.
type configRequest struct {
	MaxVersions        json.RawMessage `json:"max_versions"`
	CASRequired        json.RawMessage `json:"cas_required"`
	DeleteVersionAfter json.RawMessage `json:"delete_version_after"`
}

// configResponse is the data of a config read.
type configResponse struct {
	CASRequired        bool   `json:"cas_required"`
	DeleteVersionAfter string `json:"delete_version_after"`
	MaxVersions        uint32 `json:"max_versions"`
}

func (b *v2Backend) handleConfig(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	switch req.Operation {
	case engine.OpRead:
		return b.readConfig(ctx)
	case engine.OpUpdate:
		return b.writeConfig(ctx, req.Body)
	}
	return nil, engine.ErrUnsupportedOperation
}

func (b *v2Backend) readConfig(ctx context.Context) (*engine.Response, error) {
	var cfg configRecord
	err := b.st.view(ctx, func(r reader) error {
		var err error
		cfg, err = loadConfig(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &engine.Response{Data: configResponse{
		CASRequired:        cfg.CASRequired,
		DeleteVersionAfter: cfg.DeleteVersionAfter.String(),
		MaxVersions:        cfg.MaxVersions,
	}}, nil
}

func (b *v2Backend) writeConfig(ctx context.Context, body []byte) (*engine.Response, error) {
	var in configRequest
	if err := decodeBody(body, &in); err != nil {
		return nil, err
	}
	var set []func(*configRecord)
	if present(in.MaxVersions) {
		n, err := intField("max_versions", in.MaxVersions)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > math.MaxUint32 {
			return nil, fieldError("max_versions", strconv.FormatInt(n, 10), "max_versions must be between 0 and 4294967295")
		}
		set = append(set, func(c *configRecord) { c.MaxVersions = uint32(n) })
	}
	if present(in.CASRequired) {
		v, err := boolField("cas_required", in.CASRequired)
		if err != nil {
			return nil, err
		}
		set = append(set, func(c *configRecord) { c.CASRequired = v })
	}
	d, ok, err := durationField("delete_version_after", in.DeleteVersionAfter, true)
	if err != nil {
		return nil, err
	}
	if ok {
		if d < 0 {
			d = dvaDisabled
		}
		set = append(set, func(c *configRecord) { c.DeleteVersionAfter = d })
	}
	if len(set) == 0 {
		return nil, nil
	}
	err = b.st.update(ctx, func(w writer) error {
		cfg, err := loadConfig(w)
		if err != nil {
			return err
		}
		for _, f := range set {
			f(&cfg)
		}
		raw, err := json.Marshal(cfg)
		if err != nil {
			return err
		}
		return w.Set(configKey, raw)
	})
	return nil, err
}
