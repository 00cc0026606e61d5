package seal

import (
	"bytes"
	"context"
	"errors"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/tuple"
)

// sealRange is the range of a tenant's seal records: its configuration,
// wrapped root key, keyring, HSM blob and recovery check.
func sealRange(tenantID []byte) storage.Range {
	return storage.PrefixRange(append(TenantPrefix(tenantID), tuple.Pack("seal")...))
}

// ShredTenant deletes the seal records of tenant tenantID in this
// transaction (which belongs to another tenant, the cluster's registry):
// once it commits, no key shares and no HSM call open the tenant's
// keyring, so every record of the tenant is unreadable, though still
// stored until PurgeTenant clears it. A tenant whose root key is also
// wrapped under its own HSM key (see the tenant package) is unreadable in
// earlier copies of the store too once that key is destroyed.
//
// It returns the tenant's HSM blob record as it was (nil if it had none),
// so the caller can tell which HSM key to destroy.
func (t *Tx) ShredTenant(tenantID []byte) ([]byte, error) {
	if bytes.Equal(tenantID, t.b.tenant) {
		return nil, ErrInvalidConfig // a tenant cannot shred itself
	}
	blob, err := t.raw.Get(append(TenantPrefix(tenantID), tuple.Pack("seal", "hsm")...))
	if errors.Is(err, storage.ErrNotFound) {
		blob, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := sealRange(tenantID)
	return blob, t.raw.DeleteRange(r.Begin, r.End)
}

// PurgeTenant clears at most batch records of tenant tenantID's subspace
// in one transaction and reports how many it cleared: 0 when nothing is
// left. Each transaction stays within FoundationDB's limits (batch keys,
// read as keys only, and one range clear), so a tenant of any size is
// removed by calling it until it returns 0.
func PurgeTenant(ctx context.Context, store storage.Store, tenantID []byte, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	full := storage.PrefixRange(TenantPrefix(tenantID))
	var n int
	err := store.Update(ctx, func(tx storage.Tx) error {
		r := full
		r.Limit, r.KeysOnly = batch, true
		kvs, err := tx.GetRange(r)
		if err != nil {
			return err
		}
		n = len(kvs)
		if n == 0 {
			return nil
		}
		end := full.End
		if n == batch {
			end = append(bytes.Clone(kvs[n-1].Key), 0x00)
		}
		return tx.DeleteRange(full.Begin, end)
	})
	return n, err
}
