// Package hsmtest gives tests of other packages an open hsm.HSM on a fresh
// SoftHSM2 token (softhsmtest.New), with its master key generated.
package hsmtest

import (
	"context"
	"testing"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

// MasterKeyLabel is the label of the master key Open generates.
const MasterKeyLabel = "master"

// Open opens a fresh SoftHSM2 token, generates its master key, and closes
// the HSM when t ends. It skips t without SoftHSM2 (see softhsmtest.New).
func Open(t testing.TB) *hsm.HSM {
	t.Helper()
	tok := softhsmtest.New(t)
	h, err := hsm.Open(context.Background(), hsm.Config{
		Lib: tok.Lib, TokenLabel: tok.Label, PIN: tok.PIN, KeyLabel: MasterKeyLabel, GenerateKey: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.EnsureKey(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	return h
}
