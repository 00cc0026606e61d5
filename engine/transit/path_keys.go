package transit

// keys/ and keys/<name>: Vault's path_keys.go. LIST keys/ (after, limit);
// POST keys/<name> creates a key (type, derived, convergent_encryption,
// exportable, allow_plaintext_backup, auto_rotate_period, key_size) and
// answers its description, also when the key existed (then unchanged, and
// with no warning: Vault's backend.GetPolicy reports every key as upserted,
// so path_keys.go's "key <name> already existed" is never given, nor is it
// by OpenBao); GET keys/<name> describes it (formatKeyPolicy); DELETE
// keys/<name> removes it when deletion_allowed is set.
// keys/<name>/soft-delete and soft-delete-restore are OpenBao's.

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// keyCreateRequest is the body of POST keys/<name>.
type keyCreateRequest struct {
	Type                 flexString      `json:"type"`
	Derived              flexBool        `json:"derived"`
	ConvergentEncryption flexBool        `json:"convergent_encryption"`
	Exportable           flexBool        `json:"exportable"`
	AllowPlaintextBackup flexBool        `json:"allow_plaintext_backup"`
	AutoRotatePeriod     engine.Duration `json:"auto_rotate_period"`
	KeySize              flexInt         `json:"key_size"`
}

func (b *Backend) pathKeyCreate(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in keyCreateRequest
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	period := time.Duration(in.AutoRotatePeriod) * time.Second
	if period != 0 && period < time.Hour {
		return nil, badRequest("auto rotate period must be 0 to disable or at least an hour")
	}
	if !in.Derived && in.ConvergentEncryption {
		return nil, badRequest("convergent encryption requires derivation to be enabled")
	}
	typName := string(in.Type)
	if typName == "" {
		typName = "aes256-gcm96"
	}
	t := parseKeyType(typName)
	if t == keyUnknown {
		return nil, badRequest("unknown key type %v", typName)
	}
	if in.KeySize != 0 {
		if t != keyHMAC {
			return nil, badRequest("key_size is not valid for algorithm %v", t)
		}
		if in.KeySize < hmacMinKeySize || in.KeySize > hmacMaxKeySize {
			return nil, badRequest("invalid key_size %d", in.KeySize)
		}
	}
	k, _, err := b.createKey(ctx, name, t, keyOptions{
		derived: bool(in.Derived), convergent: bool(in.ConvergentEncryption), exportable: bool(in.Exportable),
		allowPlaintextBackup: bool(in.AllowPlaintextBackup), autoRotate: period, keySize: int(in.KeySize),
	})
	if err != nil {
		return nil, err
	}
	defer k.release()
	return &engine.Response{Data: k.describe(nil)}, nil
}

// createKey creates key name unless it exists, and returns it acquired.
// created is false when it existed; its parameters are then unchanged.
func (b *Backend) createKey(ctx context.Context, name string, t keyType, o keyOptions) (*keyring, bool, error) {
	if k, err := b.acquire(ctx, name); err != nil || k != nil {
		return k, false, err
	}
	p, err := b.newPolicy(name, t, o)
	if err != nil {
		return nil, false, err
	}
	defer p.wipe()
	return b.insert(ctx, name, p, false)
}

// insert stores p as key name and returns it acquired. Unless replace is
// set, an existing key is kept and returned with created false.
func (b *Backend) insert(ctx context.Context, name string, p *storedPolicy, replace bool) (*keyring, bool, error) {
	mu := b.lock(name)
	mu.Lock()
	defer mu.Unlock()
	var existing *storedPolicy
	err := b.update(ctx, func(tx *seal.Tx) error {
		existing.wipe()
		existing = nil
		if !replace {
			raw, err := tx.Get(policyKey(name))
			if err == nil {
				existing, err = decodePolicy(raw)
				clear(raw)
				return err
			}
			if !errors.Is(err, seal.ErrNotFound) {
				return err
			}
		}
		return writePolicy(tx, p)
	})
	if err != nil {
		existing.wipe()
		return nil, false, err
	}
	src, created := p, true
	if existing != nil {
		defer existing.wipe()
		src, created = existing, false
		if v, ok := b.cache.Load(name); ok && v.(*keyring).acquire() {
			return v.(*keyring), false, nil
		}
	}
	k, err := b.installPolicy(name, src)
	if err != nil {
		return nil, false, err
	}
	return k, created, nil
}

// keyReadRequest holds the query of GET keys/<name>.
type keyReadRequest struct {
	Context string `json:"context"`
}

func (b *Backend) pathKeyRead(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in keyReadRequest
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	context, err := decodeB64(in.Context)
	if err != nil {
		return nil, badRequest("failed to base64-decode context")
	}
	return b.withKey(ctx, name, nil, func(k *keyring) (*engine.Response, error) {
		return &engine.Response{Data: k.describe(context)}, nil
	})
}

// describe is Vault's formatKeyPolicy: the key's configuration, and its
// versions (min_decryption_version and up) in "keys": creation times in
// Unix seconds for symmetric keys, public keys for asymmetric ones.
// context derives the public keys of a derived Ed25519 key.
func (k *keyring) describe(context []byte) map[string]any {
	m := k.meta
	t := k.typ
	d := map[string]any{
		"name":                   k.name,
		"type":                   t.String(),
		"derived":                m.Derived,
		"deletion_allowed":       m.DeletionAllowed,
		"min_available_version":  m.MinAvailableVersion,
		"min_decryption_version": m.MinDecryptionVersion,
		"min_encryption_version": m.MinEncryptionVersion,
		"latest_version":         m.LatestVersion,
		"exportable":             m.Exportable,
		"allow_plaintext_backup": m.AllowPlaintextBackup,
		"supports_encryption":    t.encryptionSupported(),
		"supports_decryption":    t.encryptionSupported(),
		"supports_signing":       t.signingSupported(),
		"supports_derivation":    t.derivationSupported(),
		"auto_rotate_period":     int64(m.AutoRotatePeriod.Seconds()),
		"imported_key":           m.Imported,
		"soft_deleted":           m.SoftDeleted,
	}
	if m.KeySize != 0 {
		d["key_size"] = m.KeySize
	}
	if m.Imported {
		d["imported_key_allow_rotation"] = m.AllowImportedKeyRotation
	}
	if m.BackupInfo != nil {
		d["backup_info"] = map[string]any{"time": m.BackupInfo.Time, "version": m.BackupInfo.Version}
	}
	if m.RestoreInfo != nil {
		d["restore_info"] = map[string]any{"time": m.RestoreInfo.Time, "version": m.RestoreInfo.Version}
	}
	if m.Derived {
		switch m.KDF {
		case kdfHMACSHA256Counter:
			d["kdf"] = "hmac-sha256-counter"
			d["kdf_mode"] = "hmac-sha256-counter"
		case kdfHKDFSHA256:
			d["kdf"] = "hkdf_sha256"
		}
		d["convergent_encryption"] = m.ConvergentEncryption
		if m.ConvergentEncryption {
			d["convergent_encryption_version"] = m.ConvergentVersion
		}
	}
	switch {
	case t.symmetricAEAD():
		keys := make(map[string]int64, len(k.versions))
		for _, v := range k.versions {
			keys[strconv.Itoa(v.n)] = v.createdUnix
		}
		d["keys"] = keys
	case t.signingSupported():
		keys := make(map[string]map[string]any, len(k.versions))
		for _, v := range k.versions {
			e := map[string]any{
				"name":              asymName(t),
				"public_key":        v.publicKey,
				"certificate_chain": certChainPEM(v.certChain),
				"creation_time":     v.created,
			}
			if t == keyED25519 && k.meta.Derived {
				e["public_key"] = ""
				if len(context) > 0 {
					if dk, err := k.deriveKey(v, context, 32); err == nil {
						e["public_key"] = base64.StdEncoding.EncodeToString(ed25519.PrivateKey(dk).Public().(ed25519.PublicKey))
						clear(dk)
					}
				}
			}
			keys[strconv.Itoa(v.n)] = e
		}
		d["keys"] = keys
	}
	return d
}

// asymName is the "name" Vault gives each version of an asymmetric key.
func asymName(t keyType) string {
	switch {
	case t.isECDSA():
		return ecdsaCurve(t).Params().Name
	case t == keyED25519:
		return "ed25519"
	}
	return t.String()
}

func (b *Backend) pathKeyDelete(ctx context.Context, _ *engine.Request, name string) (*engine.Response, error) {
	mu := b.lock(name)
	mu.Lock()
	defer mu.Unlock()
	err := b.update(ctx, func(tx *seal.Tx) error {
		raw, err := tx.Get(policyKey(name))
		if errors.Is(err, seal.ErrNotFound) {
			return badRequest("error deleting policy %s: could not delete key; not found", name)
		}
		if err != nil {
			return err
		}
		p, err := decodePolicy(raw)
		clear(raw)
		if err != nil {
			return err
		}
		p.wipe()
		if !p.DeletionAllowed {
			return badRequest("error deleting policy %s: deletion is not allowed for this key", name)
		}
		return tx.Delete(policyKey(name))
	})
	if err != nil {
		return nil, err
	}
	b.drop(name)
	return nil, nil
}

// listRequest holds the query of LIST keys/.
type listRequest struct {
	After string  `json:"after"`
	Limit flexInt `json:"limit"`
}

func (b *Backend) pathListKeys(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	var in listRequest
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	var after []byte
	if in.After != "" {
		after = policyKey(in.After)
	}
	limit := max(int(in.Limit), 0)
	var names []string
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		keys, err := tx.List(policyPrefix, after, limit)
		if err != nil {
			return err
		}
		names = make([]string, 0, len(keys))
		for _, key := range keys {
			el, err := tuple.Unpack(key)
			if err != nil || len(el) != 2 {
				continue
			}
			if s, ok := el[1].(string); ok {
				names = append(names, s)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, engine.ErrNotFound
	}
	return &engine.Response{Data: map[string]any{"keys": names}}, nil
}

// pathSoftDelete marks a key soft-deleted (OpenBao): every operation on it
// is refused until keys/<name>/soft-delete-restore.
func (b *Backend) pathSoftDelete(ctx context.Context, _ *engine.Request, name string, del bool) (*engine.Response, error) {
	var was bool
	k, err := b.mutate(ctx, name, func(p *storedPolicy) error {
		was = p.SoftDeleted
		p.SoftDeleted = del
		return nil
	})
	if errors.Is(err, errKeyNotFound) {
		return nil, engine.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer k.release()
	resp := &engine.Response{Data: k.describe(nil)}
	switch {
	case del && was:
		resp.Warnings = []string{"key was already marked as soft deleted"}
	case !del && !was:
		resp.Warnings = []string{"key was already restored"}
	}
	return resp, nil
}

// certChainPEM joins a DER certificate chain as PEM, as Vault shows it.
func certChainPEM(chain [][]byte) string {
	var parts []string
	for _, der := range chain {
		parts = append(parts, strings.TrimSpace(pemBlock("CERTIFICATE", der)))
	}
	return strings.Join(parts, "\n")
}
