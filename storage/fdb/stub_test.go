//go:build !fdb

package fdb

import (
	"errors"
	"strings"
	"testing"
)

// TestStub: without the fdb build tag, Open checks the configuration and
// then says how to get the real backend.
func TestStub(t *testing.T) {
	s, err := Open(Config{ClusterFile: "/etc/foundationdb/fdb.cluster"})
	if s != nil || !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Open = %v, %v; want ErrNotBuilt", s, err)
	}
	if !strings.Contains(err.Error(), "rebuild with -tags fdb and libfdb_c installed") {
		t.Fatalf("message: %v", err)
	}
	var ce *ConfigError
	if _, err := OpenRaw(Config{Prefix: "a prefix with spaces"}); !errors.As(err, &ce) || ce.Field != "prefix" {
		t.Fatalf("OpenRaw with a bad prefix = %v", err)
	}
}
