package storage

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// errTxDone is returned by a Tx or ReadTx used after its function returned.
var errTxDone = fmt.Errorf("storage: transaction used after its function returned: %w", ErrClosed)

// reader implements ReadTx over a RawReadTx, in the logical keyspace.
type reader struct {
	raw   RawReadTx
	start time.Time
	// err, once set, fails every later operation: the transaction went
	// over a limit or a write failed, and it must not commit.
	err  error
	done bool
	// kbuf holds the physical key of the last Get: RawReadTx.Get keeps
	// no reference to its key.
	kbuf []byte
}

var _ ReadTx = (*reader)(nil)

// check fails an operation on a finished, failed or expired transaction.
func (r *reader) check() error {
	switch {
	case r.done:
		return errTxDone
	case r.err != nil:
		return r.err
	case time.Since(r.start) > MaxTxDuration:
		r.err = fmt.Errorf("%w: transaction ran longer than %s", ErrTimeout, MaxTxDuration)
		return r.err
	}
	return nil
}

// Get implements ReadTx.
func (r *reader) Get(key []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	r.kbuf = appendEncodedKey(append(r.kbuf[:0], areaHead), key)
	head, err := r.raw.Get(r.kbuf)
	if err != nil {
		return nil, err
	}
	if len(head) > 0 && head[0] == headInline {
		return bytes.Clone(head[1:]), nil
	}
	ref, err := decodeBlobRef(head)
	if err != nil {
		return nil, err
	}
	return assembleBlob(r.raw, ref)
}

// GetRange implements ReadTx. A Limit below zero means no limit, like zero.
func (r *reader) GetRange(rg Range) ([]KeyValue, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	begin, end := clampBound(rg.Begin), clampBound(rg.End)
	pb, pe := areaBounds(areaHead, begin, end)
	if bytes.Compare(pb, pe) >= 0 {
		return nil, nil
	}
	limit := max(rg.Limit, 0)
	var (
		out  []KeyValue
		refs []int // indexes into out of values stored as blobs
		bad  error
	)
	err := r.raw.Range(RawRange{Begin: pb, End: pe, Limit: limit, Reverse: rg.Reverse}, func(k, v []byte) bool {
		key, err := decodeAreaKey(areaHead, k)
		if err != nil {
			bad = err
			return false
		}
		kv := KeyValue{Key: key}
		switch {
		case rg.KeysOnly:
		case len(v) > 0 && v[0] == headInline:
			kv.Value = bytes.Clone(v[1:])
		case len(v) > 0 && v[0] == headBlob:
			// Blob chunks are read once the range is done: yield must not
			// call the transaction. Keep the reference in Value meanwhile.
			kv.Value = bytes.Clone(v)
			refs = append(refs, len(out))
		default:
			bad = fmt.Errorf("%w: bad head value", errCorrupt)
			return false
		}
		out = append(out, kv)
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, err
	}
	for _, i := range refs {
		ref, err := decodeBlobRef(out[i].Value)
		if err != nil {
			return nil, err
		}
		if out[i].Value, err = assembleBlob(r.raw, ref); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writer implements Tx over a RawTx. Every physical write goes through set,
// clear or clearRange, which count the transaction's size.
type writer struct {
	reader
	raw  RawTx
	size int

	// written and ranges are the logical keys and ranges the transaction
	// wrote, for the watches to fire once it commits.
	written [][]byte
	ranges  [][2][]byte
}

var _ Tx = (*writer)(nil)

// charge adds n bytes to the transaction's size, failing the transaction
// for good when it goes over MaxTxSize.
func (w *writer) charge(n int) error {
	if err := w.check(); err != nil {
		return err
	}
	w.size += n
	if w.size > MaxTxSize {
		w.err = fmt.Errorf("%w: %d bytes written", ErrTxTooLarge, w.size)
		return w.err
	}
	return nil
}

// fail records a failed physical write: the transaction must not commit.
func (w *writer) fail(err error) error {
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

func (w *writer) set(k, v []byte) error {
	if err := w.charge(len(k) + len(v)); err != nil {
		return err
	}
	return w.fail(w.raw.Set(k, v))
}

func (w *writer) clear(k []byte) error {
	if err := w.charge(len(k)); err != nil {
		return err
	}
	return w.fail(w.raw.Clear(k))
}

func (w *writer) clearRange(b, e []byte) error {
	if err := w.charge(len(b) + len(e)); err != nil {
		return err
	}
	return w.fail(w.raw.ClearRange(b, e))
}

// Set implements Tx. A value of MaxChunkSize bytes or more is stored as a
// blob of chunks, all in this transaction.
func (w *writer) Set(key, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes (use SetLarge up to %d)", ErrValueTooLarge, len(value), MaxValueSize)
	}
	if err := w.check(); err != nil {
		return err
	}
	w.written = append(w.written, bytes.Clone(key))
	if len(value) <= maxInlineValue {
		if err := w.dropBlob(key); err != nil {
			return err
		}
		return w.set(areaKey(areaHead, key), inlineHead(value))
	}
	// Refuse a value that cannot fit before writing any of it.
	n := chunkCount(len(value))
	if cost := len(value) + int(n)*chunkKeyLen + 2*(len(key)+2) + blobRefLen + blobIDLen; w.size+cost > MaxTxSize {
		w.err = fmt.Errorf("%w: %d bytes written, and a value of %d bytes", ErrTxTooLarge, w.size, len(value))
		return w.err
	}
	id := newBlobID()
	for i := range n {
		chunk := value[i*MaxChunkSize : min((i+1)*MaxChunkSize, uint64(len(value)))]
		if err := w.set(chunkKey(id, uint32(i)), bytes.Clone(chunk)); err != nil {
			return err
		}
	}
	return w.link(key, blobRef{id: id, length: uint64(len(value)), chunks: uint32(n)})
}

// link points key at the blob ref, whose chunks are already stored,
// replacing any previous value of key.
func (w *writer) link(key []byte, ref blobRef) error {
	if err := w.dropBlob(key); err != nil {
		return err
	}
	if err := w.set(areaKey(areaIndex, key), bytes.Clone(ref.id[:])); err != nil {
		return err
	}
	return w.set(areaKey(areaHead, key), ref.encode())
}

// dropBlob removes the blob key points to, if any, and its index entry.
// The head is left for the caller to overwrite or clear.
func (w *writer) dropBlob(key []byte) error {
	ik := areaKey(areaIndex, key)
	v, err := w.raw.Get(ik)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	id, err := decodeBlobID(v)
	if err != nil {
		return err
	}
	if err := w.clearRange(blobPrefix(id), blobEnd(id)); err != nil {
		return err
	}
	return w.clear(ik)
}

// Delete implements Tx.
func (w *writer) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	w.written = append(w.written, bytes.Clone(key))
	if err := w.dropBlob(key); err != nil {
		return err
	}
	return w.clear(areaKey(areaHead, key))
}

// DeleteRange implements Tx. Empty bounds mean the start and the end of the
// keyspace. It reads the blob index of the range (small: one short entry per
// value stored as a blob) to remove those blobs too.
func (w *writer) DeleteRange(begin, end []byte) error {
	if err := w.check(); err != nil {
		return err
	}
	begin, end = clampBound(begin), clampBound(end)
	w.ranges = append(w.ranges, [2][]byte{bytes.Clone(begin), bytes.Clone(end)})
	ib, ie := areaBounds(areaIndex, begin, end)
	if bytes.Compare(ib, ie) >= 0 {
		return nil
	}
	var (
		ids []blobID
		bad error
	)
	err := w.raw.Range(RawRange{Begin: ib, End: ie}, func(_, v []byte) bool {
		id, err := decodeBlobID(v)
		if err != nil {
			bad = err
			return false
		}
		ids = append(ids, id)
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := w.clearRange(blobPrefix(id), blobEnd(id)); err != nil {
			return err
		}
	}
	if len(ids) > 0 {
		if err := w.clearRange(ib, ie); err != nil {
			return err
		}
	}
	hb, he := areaBounds(areaHead, begin, end)
	return w.clearRange(hb, he)
}

// newBlobID returns a random blob id.
func newBlobID() blobID {
	var id blobID
	rand.Read(id[:]) // never fails (crypto/rand, Go 1.24+)
	return id
}
