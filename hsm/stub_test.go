//go:build !cgo || nopkcs11

package hsm

import (
	"context"
	"errors"
	"testing"
)

func TestStubOpenFails(t *testing.T) {
	slot := uint(0)
	_, err := Open(context.Background(), Config{Lib: "/x.so", Slot: &slot, PIN: "1234", KeyLabel: "k"})
	if !errors.Is(err, ErrLibrary) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Open = %v, want ErrLibrary and errors.ErrUnsupported", err)
	}
	var w Wrapper = (*HSM)(nil)
	if _, err := w.Wrap(context.Background(), make([]byte, 32), nil); !errors.Is(err, ErrLibrary) {
		t.Fatalf("Wrap = %v", err)
	}
	var h *HSM
	ctx := context.Background()
	for name, err := range map[string]error{
		"GenerateNamedKey": h.GenerateNamedKey(ctx, "t"),
		"CreateNamedKey":   h.CreateNamedKey(ctx, "t"),
		"IndexNamedKeys":   second(h.IndexNamedKeys(ctx, "t")),
		"WrapNamed":        second(h.WrapNamed(ctx, "t", make([]byte, 32), nil)),
		"UnwrapNamed":      second(h.UnwrapNamed(ctx, "t", make([]byte, 32), nil)),
		"DestroyNamedKey":  h.DestroyNamedKey(ctx, "t"),
	} {
		if !errors.Is(err, ErrLibrary) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s = %v, want ErrLibrary and errors.ErrUnsupported", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }
