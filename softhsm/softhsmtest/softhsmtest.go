// Package softhsmtest gives tests of any package a fresh SoftHSM2 token.
package softhsmtest

import (
	"os"
	"testing"

	"github.com/strongroom/strongroom/softhsm"
)

// EnvRequire, set to "1", turns a missing SoftHSM2 from a skipped test into
// a failed one. CI sets it, so that tests of the HSM layer cannot silently
// stop running.
const EnvRequire = "STRONGROOM_REQUIRE_SOFTHSM"

// Label is the label of the tokens New creates.
const Label = "strongroom-test"

// New creates a token labelled Label in a fresh t.TempDir() and points
// SOFTHSM2_CONF at it with t.Setenv, so the test cannot be parallel. If
// SoftHSM2 is not installed, it skips the test, or fails it when
// STRONGROOM_REQUIRE_SOFTHSM=1.
//
// Every hsm.HSM the test opens must be closed before the test ends (use
// t.Cleanup), so that the module is finalized and the next test's Open reads
// its own configuration.
func New(t testing.TB) *softhsm.Token {
	t.Helper()
	Require(t)
	tok, err := softhsm.Create(t.TempDir(), Label)
	if err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	t.Setenv(softhsm.EnvConf, tok.ConfPath)
	return tok
}

// Require skips t (or fails it when STRONGROOM_REQUIRE_SOFTHSM=1) if
// SoftHSM2 is not installed, and returns the module path otherwise.
func Require(t testing.TB) string {
	t.Helper()
	lib, ok := softhsm.Available()
	if ok {
		return lib
	}
	const msg = "SoftHSM2 is not installed (libsofthsm2.so and softhsm2-util; Debian: apt-get install softhsm2)"
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("softhsmtest: %s, and %s=1", msg, EnvRequire)
	}
	t.Skipf("softhsmtest: %s; set %s=1 to fail instead", msg, EnvRequire)
	return ""
}
