package storage

import (
	"errors"
	"testing"
	"time"
)

// TestTxDurationLimit checks that a transaction older than MaxTxDuration
// fails every operation with ErrTimeout, for good, without touching the
// backend (raw is nil here: a call would panic).
func TestTxDurationLimit(t *testing.T) {
	old := time.Now().Add(-MaxTxDuration - time.Millisecond)
	r := &reader{start: old}
	if _, err := r.Get([]byte("k")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Get on an expired transaction = %v, want ErrTimeout", err)
	}
	if _, err := r.GetRange(Range{}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("GetRange on an expired transaction = %v, want ErrTimeout", err)
	}
	w := &writer{reader: reader{start: old}}
	for name, op := range map[string]func() error{
		"Set":         func() error { return w.Set([]byte("k"), []byte("v")) },
		"Delete":      func() error { return w.Delete([]byte("k")) },
		"DeleteRange": func() error { return w.DeleteRange(nil, nil) },
	} {
		if err := op(); !errors.Is(err, ErrTimeout) {
			t.Errorf("%s on an expired transaction = %v, want ErrTimeout", name, err)
		}
	}
	// The commit check of update() is the same check.
	if err := w.check(); !errors.Is(err, ErrTimeout) {
		t.Fatalf("check = %v", err)
	}
}

// TestTxDone checks that a transaction used after its function returned
// fails with an error matching ErrClosed.
func TestTxDone(t *testing.T) {
	w := &writer{reader: reader{start: time.Now(), done: true}}
	if err := w.Set([]byte("k"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after the end = %v", err)
	}
}
