package seal

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestGetJSON: a missing record is nil without error, a record that is
// not JSON of the type is ErrCorrupt without its text, and a good one
// decodes.
func TestGetJSON(t *testing.T) {
	st, _ := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("tenant-a"), Options{})
	initUnseal(t, b, 1, 1)
	type rec struct{ Name string }
	if err := b.Update(ctx, func(tx *Tx) error {
		if err := tx.Set([]byte("good"), []byte(`{"Name":"x"}`)); err != nil {
			return err
		}
		return tx.Set([]byte("bad"), []byte(`not json: hunter2`))
	}); err != nil {
		t.Fatal(err)
	}
	err := b.View(ctx, func(tx *ReadTx) error {
		if r, err := GetJSON[rec](tx, []byte("missing")); r != nil || err != nil {
			t.Errorf("missing: %v %v", r, err)
		}
		if r, err := GetJSON[rec](tx, []byte("good")); err != nil || r == nil || r.Name != "x" {
			t.Errorf("good: %v %v", r, err)
		}
		r, err := GetJSON[rec](tx, []byte("bad"))
		if r != nil || !errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("bad: %v %v", r, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
