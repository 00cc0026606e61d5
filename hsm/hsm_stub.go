//go:build !cgo || nopkcs11

package hsm

import (
	"context"
	"errors"
	"fmt"
)

// errNoPKCS11 is what every entry point of a build without PKCS#11 returns.
var errNoPKCS11 = fmt.Errorf("%w: this binary was built without PKCS#11 support (needs cgo and no nopkcs11 tag): %w",
	ErrLibrary, errors.ErrUnsupported)

// HSM is unusable in this build: Open always fails.
type HSM struct{}

// Open fails with an error matching ErrLibrary and errors.ErrUnsupported.
func Open(context.Context, Config) (*HSM, error) { return nil, errNoPKCS11 }

func (*HSM) Wrap(context.Context, []byte, []byte) ([]byte, error)   { return nil, errNoPKCS11 }
func (*HSM) Unwrap(context.Context, []byte, []byte) ([]byte, error) { return nil, errNoPKCS11 }
func (*HSM) Ping(context.Context) error                             { return errNoPKCS11 }
func (*HSM) FindKey(context.Context) error                          { return errNoPKCS11 }
func (*HSM) EnsureKey(context.Context, bool) error                  { return errNoPKCS11 }
func (*HSM) Stats() Stats                                           { return Stats{} }
func (*HSM) Close() error                                           { return nil }

func (*HSM) GenerateNamedKey(context.Context, string) error      { return errNoPKCS11 }
func (*HSM) CreateNamedKey(context.Context, string) error        { return errNoPKCS11 }
func (*HSM) DestroyNamedKey(context.Context, string) error       { return errNoPKCS11 }
func (*HSM) IndexNamedKeys(context.Context, string) (int, error) { return 0, errNoPKCS11 }

func (*HSM) WrapNamed(context.Context, string, []byte, []byte) ([]byte, error) {
	return nil, errNoPKCS11
}

func (*HSM) UnwrapNamed(context.Context, string, []byte, []byte) ([]byte, error) {
	return nil, errNoPKCS11
}
