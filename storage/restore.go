package storage

import "context"

// restoreBatch bounds one restore transaction well under MaxTxSize.
const restoreBatch = 4_000_000

// Copy copies every physical record of src into dst, which must be empty,
// in transactions of at most about 4 MB. Records are copied as they are
// stored (barrier-encrypted, chunked): the copy opens with the same keys.
// It returns the number of records copied. Restore uses it to load a
// snapshot into any backend.
func Copy(ctx context.Context, dst, src RawStore) (int, error) {
	empty := true
	if err := dst.View(ctx, func(tx RawReadTx) error {
		return tx.Range(RawRange{Limit: 1}, func(_, _ []byte) bool { empty = false; return false })
	}); err != nil {
		return 0, err
	}
	if !empty {
		return 0, ErrNotEmpty
	}
	type kv struct{ k, v []byte }
	var batch []kv
	size, total := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.Update(ctx, func(tx RawTx) error {
			for _, e := range batch {
				if err := tx.Set(e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		})
		total += len(batch)
		batch, size = batch[:0], 0
		return err
	}
	var ferr error
	err := src.View(ctx, func(tx RawReadTx) error {
		return tx.Range(RawRange{}, func(k, v []byte) bool {
			batch = append(batch, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
			size += len(k) + len(v)
			if size >= restoreBatch {
				if ferr = flush(); ferr != nil {
					return false
				}
			}
			return true
		})
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = flush()
	}
	return total, err
}
