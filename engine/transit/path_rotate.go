package transit

// keys/<name>/rotate: Vault's path_rotate.go. It adds a version with new
// key material (keysutil Rotate) and answers the key's description. An
// imported key rotates only if it was imported with allow_rotation, and
// is no longer marked imported afterwards, as in keysutil.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

func (b *Backend) pathRotate(ctx context.Context, _ *engine.Request, name string) (*engine.Response, error) {
	k, err := b.rotate(ctx, name, false, time.Time{})
	if errors.Is(err, errKeyNotFound) {
		return nil, badRequest("key not found")
	}
	if err != nil {
		return nil, err
	}
	defer k.release()
	return &engine.Response{Data: k.describe(nil)}, nil
}

// rotate adds a version to key name and returns the key acquired. With
// auto set, it does so only if the key's auto_rotate_period has passed at
// now since its latest version was created (and returns nil otherwise).
func (b *Backend) rotate(ctx context.Context, name string, auto bool, now time.Time) (*keyring, error) {
	cur, err := b.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, errKeyNotFound
	}
	m := *cur.meta
	typ := cur.typ
	cur.release()
	if m.SoftDeleted {
		return nil, badRequest(msgSoftDeleted)
	}
	if m.Imported && !m.AllowImportedKeyRotation {
		if auto {
			return nil, nil
		}
		return nil, badRequest("imported key %s does not allow rotation within Vault", name)
	}
	convergent := m.ConvergentEncryption && (m.ConvergentVersion == -1 || m.ConvergentVersion > 1)
	e, err := b.newEntry(typ, m.KeySize, convergent)
	if err != nil {
		return nil, err
	}
	defer e.wipe()
	skipped := false
	k, err := b.mutate(ctx, name, func(p *storedPolicy) error {
		skipped = false
		if p.keyType() != typ || p.KeySize != m.KeySize || p.ConvergentEncryption != m.ConvergentEncryption {
			return badRequest("key %s changed while it was rotated; retry", name)
		}
		if auto {
			latest, _ := p.entry(p.LatestVersion)
			if p.AutoRotatePeriod == 0 || !now.After(latest.CreationTime.Add(p.AutoRotatePeriod)) ||
				(p.Imported && !p.AllowImportedKeyRotation) {
				skipped = true
				return nil
			}
		}
		p.LatestVersion++
		p.setEntry(p.LatestVersion, e.clone())
		if p.MinDecryptionVersion == 0 {
			p.MinDecryptionVersion = 1
		}
		p.Imported = false
		return nil
	})
	if err != nil {
		return nil, err
	}
	if skipped {
		k.release()
		return nil, nil
	}
	return k, nil
}

// rotateMeta is the part of a stored policy auto-rotation looks at.
type rotateMeta struct {
	AutoRotatePeriod         time.Duration `json:"auto_rotate_period"`
	LatestVersion            int           `json:"latest_version"`
	Imported                 bool          `json:"Imported"`
	AllowImportedKeyRotation bool          `json:"AllowImportedKeyRotation"`
	SoftDeleted              bool          `json:"soft_deleted"`
	Keys                     map[string]struct {
		CreationTime time.Time `json:"time"`
	} `json:"keys"`
}

// rotatePage is how many keys Periodic reads per storage transaction.
const rotatePage = 500

// Periodic is the backend's periodic task, Vault's PeriodicFunc; the server
// calls it every minute or so with the current time. Once per
// Options.AutoRotateInterval (an hour by default, as Vault) it rotates
// every key whose auto_rotate_period has passed since its latest version
// was created (imported keys only with allow_rotation; soft-deleted keys
// never). Each key that fails is reported in the joined error; the others
// are rotated. When the tenant is sealed it purges the loaded keys, in
// case the server did not, and returns seal.ErrSealed.
func (b *Backend) Periodic(ctx context.Context, now time.Time) error {
	b.rotateMu.Lock()
	defer b.rotateMu.Unlock()
	if now.Before(b.nextRotateCheck) {
		return nil
	}
	var due []string
	var after []byte
	for {
		var page [][]byte
		err := b.view.View(ctx, func(tx *seal.ReadTx) error {
			keys, err := tx.List(policyPrefix, after, rotatePage)
			if err != nil {
				return err
			}
			page = keys
			for _, key := range keys {
				raw, err := tx.Get(key)
				if err != nil {
					return err
				}
				var m rotateMeta
				err = json.Unmarshal(raw, &m)
				clear(raw)
				if err != nil || m.AutoRotatePeriod == 0 || m.SoftDeleted || (m.Imported && !m.AllowImportedKeyRotation) {
					continue
				}
				latest, ok := m.Keys[itoa(m.LatestVersion)]
				if ok && now.After(latest.CreationTime.Add(m.AutoRotatePeriod)) {
					if el, err := tuple.Unpack(key); err == nil && len(el) == 2 {
						if name, ok := el[1].(string); ok {
							due = append(due, name)
						}
					}
				}
			}
			return nil
		})
		if errors.Is(err, seal.ErrSealed) {
			b.Purge()
			return err
		}
		if err != nil {
			return err
		}
		if len(page) < rotatePage {
			break
		}
		after = page[len(page)-1]
	}
	var errs []error
	for _, name := range due {
		k, err := b.rotate(ctx, name, true, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("rotating key %s: %w", name, err))
			continue
		}
		if k != nil {
			k.release()
		}
	}
	b.nextRotateCheck = now.Add(b.rotateInterval)
	return errors.Join(errs...)
}
