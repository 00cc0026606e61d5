package transit

// backup/<name> and restore[/<name>]: Vault's path_backup.go and
// path_restore.go with keysutil's Backup and LockManager.RestorePolicy.
//
// A backup is the standard base64 of the JSON {"policy": <keysutil.Policy>,
// "archived_keys": {"keys": [<keysutil.KeyEntry>...]}}: the policy holds
// the versions from min_decryption_version up, and the archive every
// available version, at index version - min_available_version (index 0 is
// an empty entry while min_available_version is 0), exactly as Vault lays
// it out. Backup needs exportable and allow_plaintext_backup, and records
// backup_info in the key. Restore takes a backup from Vault, OpenBao or
// Strongroom, under the backup's name or the one given (in the path or the
// body); it refuses to replace an existing key unless force is set,
// records restore_info, and answers 204.
//
// Restore upgrades old policies as keysutil does on load: a pre-versioning
// "key" becomes version 1, missing latest and minimum versions are filled
// in, and a latest version without an HMAC key gets one.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// backupData is keysutil.KeyData.
type backupData struct {
	Policy       *storedPolicy `json:"policy"`
	ArchivedKeys *archivedKeys `json:"archived_keys"`
}

// archivedKeys is keysutil's archivedKeys.
type archivedKeys struct {
	Keys []storedKeyEntry `json:"keys"`
}

func (b *Backend) pathBackup(ctx context.Context, _ *engine.Request, name string) (*engine.Response, error) {
	var out string
	k, err := b.mutate(ctx, name, func(p *storedPolicy) error {
		out = ""
		if p.SoftDeleted {
			return badRequest(msgSoftDeleted)
		}
		if !p.Exportable {
			return badRequest("exporting is disallowed on the policy")
		}
		if !p.AllowPlaintextBackup {
			return badRequest("plaintext backup is disallowed on the policy")
		}
		p.BackupInfo = &versionTime{Time: b.now(), Version: p.LatestVersion}
		var err error
		out, err = encodeBackup(p)
		return err
	})
	if errors.Is(err, errKeyNotFound) {
		return nil, badRequest("key %q not found", name)
	}
	if err != nil {
		return nil, err
	}
	k.release()
	return &engine.Response{Data: map[string]any{"backup": out}}, nil
}

// encodeBackup lays p out as Vault's backup and encodes it.
func encodeBackup(p *storedPolicy) (string, error) {
	pol := *p
	pol.ArchiveVersion, pol.ArchiveMinVersion = p.LatestVersion, p.MinAvailableVersion
	pol.Keys = make(map[string]storedKeyEntry)
	arch := &archivedKeys{Keys: make([]storedKeyEntry, p.LatestVersion-p.MinAvailableVersion+1)}
	for v := p.MinAvailableVersion; v <= p.LatestVersion; v++ {
		e, ok := p.entry(v)
		if !ok {
			continue
		}
		arch.Keys[v-p.MinAvailableVersion] = e
		if v >= p.MinDecryptionVersion {
			pol.setEntry(v, e)
		}
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(&backupData{Policy: &pol, ArchivedKeys: arch}); err != nil {
		return "", internalf("encoding backup: %v", err)
	}
	defer clear(buf.Bytes())
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// restoreRequest is the body of POST restore[/<name>].
type restoreRequest struct {
	Backup string   `json:"backup"`
	Name   string   `json:"name"`
	Force  flexBool `json:"force"`
}

func (b *Backend) pathRestore(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in restoreRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	if in.Backup == "" {
		return nil, badRequest("'backup' must be supplied")
	}
	if name == "" {
		name = in.Name
	}
	if name != "" && !validName(name) {
		return nil, badRequest("key names cannot be paths")
	}
	p, err := b.decodeBackup(in.Backup, name)
	if err != nil {
		return nil, err
	}
	defer p.wipe()
	name = p.Name
	// Build it once before writing, so that a backup that does not load is
	// refused rather than stored.
	k, err := buildKeyring(b.arena, p)
	if err != nil {
		return nil, badRequest("invalid backup: %v", err)
	}
	k.retire()

	mu := b.lock(name)
	mu.Lock()
	defer mu.Unlock()
	err = b.update(ctx, func(tx *seal.Tx) error {
		if !in.Force {
			_, err := tx.Get(policyKey(name))
			if err == nil {
				return badRequest("key %q already exists", name)
			}
			if !errors.Is(err, seal.ErrNotFound) {
				return err
			}
		}
		return writePolicy(tx, p)
	})
	if err != nil {
		return nil, err
	}
	k, err = b.installPolicy(name, p)
	if err != nil {
		return nil, err
	}
	k.release()
	return nil, nil
}

// decodeBackup parses a backup into the stored form, renamed to name when
// it is not empty.
func (b *Backend) decodeBackup(backup, name string) (*storedPolicy, error) {
	raw, err := base64.StdEncoding.DecodeString(backup)
	if err != nil {
		return nil, badRequest("failed to decode backup: %v", err)
	}
	defer clear(raw)
	var kd backupData
	if err := json.Unmarshal(raw, &kd); err != nil {
		return nil, badRequest("failed to decode backup: %v", err)
	}
	if kd.Policy == nil {
		return nil, badRequest("failed to decode backup: no policy")
	}
	p := kd.Policy
	if name != "" {
		p.Name = name
	}
	if !validName(p.Name) {
		return nil, badRequest("invalid key name %q in backup", p.Name)
	}
	if p.keyType() == keyUnknown {
		p.wipe()
		return nil, badRequest("backup holds a key of unsupported type %d", p.Type)
	}
	// Stored under OpenBao's numbering whichever numbering the backup used.
	p.Type = typeToWire[p.keyType()]
	if p.ManagedKeyName != "" {
		p.wipe()
		return nil, badRequest("backup holds a managed key, which has no key material")
	}
	if kd.ArchivedKeys != nil {
		for i, e := range kd.ArchivedKeys.Keys {
			v := i + p.MinAvailableVersion
			if _, ok := p.entry(v); ok || v < 1 || (p.LatestVersion > 0 && v > p.LatestVersion) {
				e.wipe()
				continue
			}
			if e.hasPrivate() || e.RSAPublicKey != nil || e.ECX != nil || e.FormattedPublicKey != "" {
				p.setEntry(v, e)
			}
		}
	}
	if err := b.upgradePolicy(p); err != nil {
		p.wipe()
		return nil, err
	}
	p.RestoreInfo = &versionTime{Time: b.now(), Version: p.LatestVersion}
	return p, nil
}

// upgradePolicy is keysutil's Upgrade.
func (b *Backend) upgradePolicy(p *storedPolicy) error {
	if len(p.Key) > 0 {
		now := b.now()
		p.setEntry(1, storedKeyEntry{Key: p.Key, CreationTime: now, DeprecatedCreationTime: now.Unix()})
		p.Key = nil
	}
	if p.LatestVersion == 0 && len(p.Keys) != 0 {
		p.LatestVersion = len(p.Keys)
	}
	if p.LatestVersion < 1 {
		return badRequest("backup holds no key version")
	}
	if p.MinDecryptionVersion == 0 {
		p.MinDecryptionVersion = 1
	}
	if p.ConvergentEncryption && p.ConvergentVersion == 0 {
		p.ConvergentVersion = 1
	}
	t := p.keyType()
	for v, e := range p.Keys {
		if t.isRSA() && e.RSAPublicKey == nil && e.RSAKey != nil {
			e.RSAPublicKey = &rsaPublicJSON{N: e.RSAKey.N, E: e.RSAKey.E}
			p.Keys[v] = e
		}
	}
	latest, ok := p.entry(p.LatestVersion)
	if !ok {
		return badRequest("backup is missing key version %d", p.LatestVersion)
	}
	if len(latest.HMACKey) == 0 {
		if t == keyHMAC {
			latest.HMACKey = cloneBytes(latest.Key)
		} else {
			hk, err := randomBytes(b.rand, 32)
			if err != nil {
				return err
			}
			latest.HMACKey = hk
		}
		p.setEntry(p.LatestVersion, latest)
	}
	for v := max(p.MinDecryptionVersion, p.MinAvailableVersion, 1); v <= p.LatestVersion; v++ {
		if _, ok := p.entry(v); !ok {
			return badRequest("backup is missing key version %d", v)
		}
	}
	return nil
}
