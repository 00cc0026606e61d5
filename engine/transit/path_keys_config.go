package transit

// keys/<name>/config: Vault's path_keys_config.go. It sets
// min_decryption_version, min_encryption_version, deletion_allowed,
// exportable and allow_plaintext_backup (the last two cannot be unset) and
// auto_rotate_period, with Vault's refusals and the warning when a minimum
// decryption version of 0 is raised to 1; it answers the key's description.

import (
	"context"
	"errors"
	"time"

	"github.com/strongroom/strongroom/engine"
)

// keyConfigRequest is the body of POST keys/<name>/config; nil fields are
// left unchanged.
type keyConfigRequest struct {
	MinDecryptionVersion *flexInt         `json:"min_decryption_version"`
	MinEncryptionVersion *flexInt         `json:"min_encryption_version"`
	DeletionAllowed      *flexBool        `json:"deletion_allowed"`
	Exportable           *flexBool        `json:"exportable"`
	AllowPlaintextBackup *flexBool        `json:"allow_plaintext_backup"`
	AutoRotatePeriod     *engine.Duration `json:"auto_rotate_period"`
}

func (b *Backend) pathKeyConfig(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in keyConfigRequest
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	var warning string
	k, err := b.mutate(ctx, name, func(p *storedPolicy) error {
		warning = ""
		if v := in.MinDecryptionVersion; v != nil {
			n := int(*v)
			if n < 0 {
				return badRequest("min decryption version cannot be negative")
			}
			if n == 0 {
				n = 1
				warning = "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1"
			}
			if n != p.MinDecryptionVersion {
				if n > p.LatestVersion {
					return badRequest("cannot set min decryption version of %d, latest key version is %d", n, p.LatestVersion)
				}
				p.MinDecryptionVersion = n
			}
		}
		if v := in.MinEncryptionVersion; v != nil {
			n := int(*v)
			if n < 0 {
				return badRequest("min encryption version cannot be negative")
			}
			if n != p.MinEncryptionVersion {
				if n > p.LatestVersion {
					return badRequest("cannot set min encryption version of %d, latest key version is %d", n, p.LatestVersion)
				}
				p.MinEncryptionVersion = n
			}
		}
		if p.MinEncryptionVersion > 0 && p.MinEncryptionVersion < p.MinDecryptionVersion {
			return badRequest("cannot set min encryption/decryption values; min encryption version of %d must be greater than or equal to min decryption version of %d", p.MinEncryptionVersion, p.MinDecryptionVersion)
		}
		if v := in.DeletionAllowed; v != nil {
			p.DeletionAllowed = bool(*v)
		}
		if p.MinDecryptionVersion == 0 {
			p.MinDecryptionVersion = 1
		}
		if v := in.Exportable; v != nil && bool(*v) {
			p.Exportable = true
		}
		if v := in.AllowPlaintextBackup; v != nil && bool(*v) {
			p.AllowPlaintextBackup = true
		}
		if v := in.AutoRotatePeriod; v != nil {
			period := time.Duration(*v) * time.Second
			if period != 0 && period < time.Hour {
				return badRequest("auto rotate period must be 0 to disable or at least an hour")
			}
			p.AutoRotatePeriod = period
		}
		switch {
		case p.MinAvailableVersion > p.MinEncryptionVersion && p.MinEncryptionVersion != 0:
			return badRequest("min encryption version should not be less than min available version")
		case p.MinAvailableVersion > p.MinDecryptionVersion:
			return badRequest("min decryption version should not be less then min available version")
		}
		for n := max(p.MinDecryptionVersion, 1); n <= p.LatestVersion; n++ {
			if _, ok := p.entry(n); !ok {
				return badRequest("key version %d is not available", n)
			}
		}
		return nil
	})
	if errors.Is(err, errKeyNotFound) {
		return nil, badRequest("no existing key named %s could be found", name)
	}
	if err != nil {
		return nil, err
	}
	defer k.release()
	resp := &engine.Response{Data: k.describe(nil)}
	if warning != "" {
		resp.Warnings = []string{warning}
	}
	return resp, nil
}
