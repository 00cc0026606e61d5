package token

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Config is the token store's mount configuration, as `vault auth tune
// token/` sets it: the default and max lease TTLs of the tokens
// auth/token/create makes (0: the system's, 768h), which also cap their
// renewals, and the mount's description.
type Config struct {
	DefaultLeaseTTL int64  `json:"default_lease_ttl"` // seconds
	MaxLeaseTTL     int64  `json:"max_lease_ttl"`     // seconds
	Description     string `json:"description,omitempty"`
}

// DefaultDescription is the token store's description until tuned.
const DefaultDescription = "token based credentials"

func configKey() []byte { return tuple.Pack("token", "config") }

func (c Config) defaultTTL() time.Duration { return time.Duration(c.DefaultLeaseTTL) * time.Second }

// maxTTL is the effective max TTL: the tuned one, or the system's.
func (c Config) maxTTL() time.Duration {
	if c.MaxLeaseTTL > 0 {
		return time.Duration(c.MaxLeaseTTL) * time.Second
	}
	return SystemMaxTTL
}

// ReadConfig reads the token store's configuration inside tx; an untuned
// store has the zero Config with DefaultDescription.
func ReadConfig(tx *seal.ReadTx) (Config, error) {
	c, err := seal.GetJSON[Config](tx, configKey())
	if err != nil || c == nil {
		return Config{Description: DefaultDescription}, err
	}
	return *c, nil
}

// Config reads the token store's configuration.
func (b *Backend) Config(ctx context.Context) (Config, error) {
	var c Config
	err := b.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		c, err = ReadConfig(tx)
		return err
	})
	return c, err
}

// SetConfig stores the token store's configuration. Every node reads it
// from storage when it creates or renews a token, so it needs no cache
// invalidation. Negative TTLs are refused (ErrBadConfig).
func (b *Backend) SetConfig(ctx context.Context, c Config) error {
	if c.DefaultLeaseTTL < 0 || c.MaxLeaseTTL < 0 {
		return ErrBadConfig
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return b.Barrier.Update(ctx, func(tx *seal.Tx) error { return tx.Set(configKey(), raw) })
}

// ErrBadConfig refuses a configuration with a negative TTL.
var ErrBadConfig = errors.New("token: negative TTL in the token store's configuration")
