package main

import (
	"os"
	"strings"
	"testing"
)

// TestHasCapIPCLock compares the capability with /proc/self/status, read
// independently (CapEff, bit 14).
func TestHasCapIPCLock(t *testing.T) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if hexCaps, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			for _, c := range strings.TrimSpace(hexCaps) {
				caps = caps<<4 | uint64(strings.IndexRune("0123456789abcdef", c))
			}
			if want := caps&(1<<14) != 0; hasCapIPCLock() != want {
				t.Fatalf("hasCapIPCLock() = %v, CapEff says %v", !want, want)
			}
			return
		}
	}
	t.Skip("no CapEff line")
}
