package seal

import (
	"bytes"
	"context"
	"errors"

	"github.com/strongroom/strongroom/storage"
)

// ReadTx reads a tenant's records through the barrier. Keys are relative to
// the tenant's data subspace; the barrier adds the tenant prefix.
type ReadTx struct {
	raw storage.ReadTx
	b   *Barrier
	kr  *keyring // set only inside Init; otherwise the current keys are used
}

// Tx reads and writes a tenant's records through the barrier.
type Tx struct {
	ReadTx
	raw storage.Tx
}

// withKeys runs fn with the tenant's current key material. A rotation that
// swaps the keyring while fn runs makes fn run again with the new one.
func (t *ReadTx) withKeys(fn func(*keyring) error) error {
	if t.kr != nil {
		return fn(t.kr)
	}
	for {
		kr := t.b.keys.Load()
		if kr == nil {
			return ErrSealed
		}
		err := fn(kr)
		if errors.Is(err, ErrSealed) && t.b.keys.Load() != kr {
			continue
		}
		return err
	}
}

// Get returns the decrypted record at key, or ErrNotFound. A record that
// fails authentication returns ErrDecrypt.
func (t *ReadTx) Get(key []byte) ([]byte, error) {
	sk := t.b.dataKey(key)
	rec, err := t.raw.Get(sk)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var pt []byte
	err = t.withKeys(func(kr *keyring) error {
		var err error
		pt, err = kr.decrypt(t.b.ad(sk), rec)
		return err
	})
	return pt, err
}

// List returns up to limit keys (relative, without values) that start with
// prefix and sort after after (nil for the first page); limit 0 means all.
func (t *ReadTx) List(prefix, after []byte, limit int) ([][]byte, error) {
	full := t.b.dataKey(prefix)
	r := storage.PrefixRange(full)
	if after != nil {
		r.Begin = append(t.b.dataKey(after), 0x00)
	}
	r.Limit = limit
	r.KeysOnly = true
	kvs, err := t.raw.GetRange(r)
	if err != nil {
		return nil, err
	}
	base := len(t.b.dataKey(nil))
	out := make([][]byte, len(kvs))
	for i, kv := range kvs {
		out[i] = bytes.Clone(kv.Key[base:])
	}
	return out, nil
}

// MAC returns the keyed hash (HMAC-SHA256 under the tenant's hash key) of
// data. Token and accessor lookups use it, so storage holds no token.
func (t *ReadTx) MAC(data []byte) ([]byte, error) {
	var out []byte
	err := t.withKeys(func(kr *keyring) error {
		var err error
		out, err = kr.mac(data)
		return err
	})
	return out, err
}

// Set encrypts value and stores it at key.
func (t *Tx) Set(key, value []byte) error {
	sk := t.b.dataKey(key)
	var rec []byte
	err := t.withKeys(func(kr *keyring) error {
		var err error
		rec, err = kr.encrypt(t.b.ad(sk), value)
		return err
	})
	if err != nil {
		return err
	}
	return t.raw.Set(sk, rec)
}

// Delete removes the record at key.
func (t *Tx) Delete(key []byte) error { return t.raw.Delete(t.b.dataKey(key)) }

// DeletePrefix removes every record whose key starts with prefix.
func (t *Tx) DeletePrefix(prefix []byte) error {
	r := storage.PrefixRange(t.b.dataKey(prefix))
	return t.raw.DeleteRange(r.Begin, r.End)
}

// View runs fn in a read-only transaction through the barrier. Returns
// ErrSealed while the tenant is sealed.
func (b *Barrier) View(ctx context.Context, fn func(tx *ReadTx) error) error {
	if b.Sealed() {
		return ErrSealed
	}
	return b.store.View(ctx, func(raw storage.ReadTx) error {
		return fn(&ReadTx{raw: raw, b: b})
	})
}

// Update runs fn in a read-write transaction through the barrier; fn may run
// more than once (see storage.Store). Returns ErrSealed while sealed.
func (b *Barrier) Update(ctx context.Context, fn func(tx *Tx) error) error {
	if b.Sealed() {
		return ErrSealed
	}
	return b.store.Update(ctx, func(raw storage.Tx) error {
		return fn(&Tx{ReadTx: ReadTx{raw: raw, b: b}, raw: raw})
	})
}
