package transit

// cache-config and config/keys: Vault's path_cache_config.go and
// path_config_keys.go.
//
// cache-config bounds how many keys this node keeps loaded: 0 (the default)
// keeps every key used; a size of at least 10 evicts the least recently
// used keys beyond it. config/keys holds disable_upsert, which stops
// encrypt from creating a key that does not exist.

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// minCacheSize is Vault's smallest bounded cache.
const minCacheSize = 10

type cacheConfig struct {
	Size int `json:"size"`
}

type cacheConfigRequest struct {
	Size flexInt `json:"size"`
}

func (b *Backend) pathCacheConfig(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	switch req.Operation {
	case engine.OpRead:
		if err := b.loadCacheSize(ctx); err != nil {
			return nil, err
		}
		return &engine.Response{Data: map[string]any{"size": int(b.cacheSize.Load())}}, nil
	case engine.OpUpdate:
		var in cacheConfigRequest
		if err := decode(req, &in); err != nil {
			return nil, err
		}
		size := int(in.Size)
		if size < 0 || (size != 0 && size < minCacheSize) {
			return nil, badRequest("size must be 0 or a value greater or equal to %d", minCacheSize)
		}
		raw, _ := json.Marshal(cacheConfig{Size: size})
		if err := b.update(ctx, func(tx *seal.Tx) error { return tx.Set(cacheConfigKey, raw) }); err != nil {
			return nil, err
		}
		b.cacheSize.Store(int64(size))
		b.evictOver("")
		return &engine.Response{Data: map[string]any{"size": size}}, nil
	}
	return nil, engine.ErrUnsupportedOperation
}

// loadCacheSize reads the configured cache size.
func (b *Backend) loadCacheSize(ctx context.Context) error {
	var cfg cacheConfig
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		raw, err := tx.Get(cacheConfigKey)
		if errors.Is(err, seal.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &cfg)
	})
	if err != nil {
		return err
	}
	if cfg.Size != 0 && cfg.Size < minCacheSize {
		cfg.Size = minCacheSize
	}
	b.cacheSize.Store(int64(cfg.Size))
	return nil
}

type keysConfig struct {
	DisableUpsert bool `json:"disable_upsert"`
}

type keysConfigRequest struct {
	DisableUpsert flexBool `json:"disable_upsert"`
}

func (b *Backend) pathConfigKeys(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	switch req.Operation {
	case engine.OpRead:
		cfg, err := b.readKeysConfig(ctx)
		if err != nil {
			return nil, err
		}
		return &engine.Response{Data: map[string]any{"disable_upsert": cfg.DisableUpsert}}, nil
	case engine.OpUpdate:
		var in keysConfigRequest
		if err := decode(req, &in); err != nil {
			return nil, err
		}
		cfg := keysConfig{DisableUpsert: bool(in.DisableUpsert)}
		raw, _ := json.Marshal(cfg)
		if err := b.update(ctx, func(tx *seal.Tx) error { return tx.Set(keysConfigKey, raw) }); err != nil {
			return nil, err
		}
		return &engine.Response{Data: map[string]any{"disable_upsert": cfg.DisableUpsert}}, nil
	}
	return nil, engine.ErrUnsupportedOperation
}

func (b *Backend) readKeysConfig(ctx context.Context) (keysConfig, error) {
	var cfg keysConfig
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		raw, err := tx.Get(keysConfigKey)
		if errors.Is(err, seal.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &cfg)
	})
	return cfg, err
}
