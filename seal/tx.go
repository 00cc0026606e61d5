package seal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/tuple"
)

// ReadTx reads a tenant's records through the barrier. Keys are relative to
// the tenant's data subspace; the barrier adds the tenant prefix.
type ReadTx struct {
	raw    storage.ReadTx
	b      *Barrier
	kr     *keyring // set only inside Init; otherwise the current keys are used
	prefix []byte   // a View's subspace, prepended to every key
}

// Tx reads and writes a tenant's records through the barrier.
type Tx struct {
	ReadTx
	raw storage.Tx
}

// key prepends the transaction's subspace prefix.
func (t *ReadTx) key(k []byte) []byte {
	if len(t.prefix) == 0 {
		return k
	}
	return append(append(make([]byte, 0, len(t.prefix)+len(k)), t.prefix...), k...)
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
	sk, rec, err := t.getSealed(key)
	if err != nil {
		return nil, err
	}
	return t.open(sk, rec)
}

// getSealed returns the full storage key of key and the record stored
// there, still sealed, or ErrNotFound.
func (t *ReadTx) getSealed(key []byte) (sk, rec []byte, err error) {
	sk = t.b.dataKey2(t.prefix, key)
	rec, err = t.raw.Get(sk)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ErrNotFound
	}
	return sk, rec, err
}

// GetDecoded returns decode(the decrypted record at key), or ErrNotFound,
// ErrDecrypt or decode's error. When c holds what the same record, the
// same bytes at the same storage key, decoded to before, that is returned
// without opening the record again. decode must not keep its argument; its
// result is shared by every caller and must not be modified.
func (t *ReadTx) GetDecoded(c *DecodedCache, key []byte, decode func([]byte) (any, error)) (any, error) {
	sk, rec, err := t.getSealed(key)
	if err != nil {
		return nil, err
	}
	if v, ok := c.get(sk, rec); ok {
		if t.kr == nil && t.b.Sealed() {
			return nil, ErrSealed // as an open would have answered
		}
		return v, nil
	}
	pt, err := t.open(sk, rec)
	if err != nil {
		return nil, err
	}
	v, err := decode(pt)
	if err != nil {
		return nil, err
	}
	c.put(sk, rec, v)
	return v, nil
}

// open decrypts rec, the record stored at sk, reloading the keyring once
// if another node rotated it.
func (t *ReadTx) open(sk, rec []byte) ([]byte, error) {
	var pt []byte
	open := func() error {
		return t.withKeys(func(kr *keyring) error {
			var err error
			pt, err = kr.decrypt(t.b.ad(sk), rec)
			return err
		})
	}
	err := open()
	if errors.Is(err, errNewerTerm) && t.kr == nil {
		// Another node rotated the keyring: load it, through this
		// transaction, and try once more.
		raw, rerr := t.raw.Get(t.b.keyringKey())
		if rerr != nil {
			return nil, rerr
		}
		if rerr := t.b.installKeyring(raw); rerr != nil {
			return nil, rerr
		}
		err = open()
	}
	if errors.Is(err, errNewerTerm) {
		err = ErrDecrypt
	}
	return pt, err
}

// List returns up to limit keys (relative, without values) that start with
// prefix and sort after after (nil for the first page); limit 0 means all.
func (t *ReadTx) List(prefix, after []byte, limit int) ([][]byte, error) {
	full := t.b.dataKey(t.key(prefix))
	r := storage.PrefixRange(full)
	if after != nil {
		r.Begin = append(t.b.dataKey(t.key(after)), 0x00)
	}
	r.Limit = limit
	r.KeysOnly = true
	kvs, err := t.raw.GetRange(r)
	if err != nil {
		return nil, err
	}
	base := len(t.b.dataKey(t.key(nil)))
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
	sk := t.b.dataKey2(t.prefix, key)
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
func (t *Tx) Delete(key []byte) error { return t.raw.Delete(t.b.dataKey(t.key(key))) }

// DeletePrefix removes every record whose key starts with prefix.
func (t *Tx) DeletePrefix(prefix []byte) error {
	r := storage.PrefixRange(t.b.dataKey(t.key(prefix)))
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

// View is a subspace of a tenant's records: every key a View's transactions
// use is prefixed with its prefix. Each engine mount gets one, so its records
// are its own and disabling the mount clears one range.
type View struct {
	b      *Barrier
	prefix []byte
}

// Sub returns the view of the records whose keys start with prefix.
func (b *Barrier) Sub(prefix []byte) *View {
	return &View{b: b, prefix: bytes.Clone(prefix)}
}

// Sub returns a view nested inside v.
func (v *View) Sub(prefix []byte) *View {
	return &View{b: v.b, prefix: append(bytes.Clone(v.prefix), prefix...)}
}

// View runs fn in a read-only transaction of the view. See Barrier.View.
func (v *View) View(ctx context.Context, fn func(tx *ReadTx) error) error {
	if v.b.Sealed() {
		return ErrSealed
	}
	return v.b.store.View(ctx, func(raw storage.ReadTx) error {
		return fn(&ReadTx{raw: raw, b: v.b, prefix: v.prefix})
	})
}

// Update runs fn in a read-write transaction of the view; fn may run more
// than once. See Barrier.Update.
func (v *View) Update(ctx context.Context, fn func(tx *Tx) error) error {
	if v.b.Sealed() {
		return ErrSealed
	}
	return v.b.store.Update(ctx, func(raw storage.Tx) error {
		return fn(&Tx{ReadTx: ReadTx{raw: raw, b: v.b, prefix: v.prefix}, raw: raw})
	})
}

// SetLarge encrypts value and stores it at key even when it is too large
// for one storage transaction (up to storage.MaxValueSize), then runs fn
// for the caller's other writes in the transaction that makes the value
// visible. See storage.SetLarge.
func (v *View) SetLarge(ctx context.Context, key, value []byte, fn func(tx *Tx) error) error {
	if v.b.Sealed() {
		return ErrSealed
	}
	full := (&ReadTx{b: v.b, prefix: v.prefix}).key(key)
	sk := v.b.dataKey(full)
	var rec []byte
	err := (&ReadTx{b: v.b}).withKeys(func(kr *keyring) error {
		var err error
		rec, err = kr.encrypt(v.b.ad(sk), value)
		return err
	})
	if err != nil {
		return err
	}
	return storage.SetLarge(ctx, v.b.store, sk, rec, func(raw storage.Tx) error {
		if fn == nil {
			return nil
		}
		return fn(&Tx{ReadTx: ReadTx{raw: raw, b: v.b, prefix: v.prefix}, raw: raw})
	})
}

// DeleteAll removes every record of the view.
func (v *View) DeleteAll(ctx context.Context) error {
	return v.Update(ctx, func(tx *Tx) error { return tx.DeletePrefix(nil) })
}

// Scrub asks the store to overwrite what deleted records left in its files
// (see storage.Scrubber), so that a destroyed value is gone from the disk,
// not only unreachable. It blocks other transactions while it runs.
func (v *View) Scrub(ctx context.Context) error { return storage.Scrub(ctx, v.b.store) }

// ForgetDecoded drops from c what the records of v decoded to: for a
// backend that closes (its tenant sealed or unloaded, its mount disabled),
// so that its decoded records leave memory with it.
func (v *View) ForgetDecoded(c *DecodedCache) { c.forgetPrefix(v.b.dataKey2(v.prefix, nil)) }

// Tenant returns a transaction on the same storage transaction without the
// view's prefix: the tenant's whole subspace. An engine uses it to write
// outside its mount atomically with its own records (a login creating its
// token in the token store).
func (t *Tx) Tenant() *Tx {
	return &Tx{ReadTx: ReadTx{raw: t.raw, b: t.b, kr: t.kr}, raw: t.raw}
}

// Sub returns a read transaction on the same storage transaction whose
// keys are under prefix, inside t's own subspace: what a View.Sub(prefix)
// would see.
func (t *ReadTx) Sub(prefix []byte) *ReadTx {
	return &ReadTx{raw: t.raw, b: t.b, kr: t.kr, prefix: append(bytes.Clone(t.prefix), prefix...)}
}

// ListNames returns the names of the records whose keys are
// tuple.Pack(prefix elements..., name) for a string name: prefix is the
// packed tuple before the name. A key of another shape is ErrCorrupt.
func (t *ReadTx) ListNames(prefix []byte) ([]string, error) {
	keys, err := t.List(prefix, nil, 0)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		el, err := tuple.Unpack(k[len(prefix):])
		if err != nil || len(el) != 1 {
			return nil, ErrCorrupt
		}
		n, ok := el[0].(string)
		if !ok {
			return nil, ErrCorrupt
		}
		names = append(names, n)
	}
	return names, nil
}

// GetJSON reads the JSON record at key into a new T: nil, nil when there
// is none, ErrCorrupt when it does not decode (the record's text is not
// in the error).
func GetJSON[T any](t *ReadTx, key []byte) (*T, error) {
	raw, err := t.Get(key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeJSON[T](raw)
}

// DecodeJSON decodes a JSON record into a new T (returned as *T) with
// GetJSON's rules: a decode function for ReadTx.GetDecoded.
func DecodeJSON[T any](raw []byte) (any, error) { return decodeJSON[T](raw) }

func decodeJSON[T any](raw []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, ErrCorrupt
	}
	return v, nil
}
