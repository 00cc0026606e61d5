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
}
