package sys

import (
	"context"
	"testing"
	"time"

	"github.com/strongroom/strongroom/seal/sealtest"
)

// TestVersionHistory: each version is recorded once, at its first run;
// the list is oldest first, with each entry's previous version.
func TestVersionHistory(t *testing.T) {
	b := sealtest.Unsealed(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := t0
	node := func(v string) *Sys {
		return &Sys{Barrier: b, Version: v, BuildDate: "build-" + v, Now: func() time.Time { return at }}
	}
	if err := node("1.0.0").RecordVersion(ctx); err != nil {
		t.Fatal(err)
	}
	at = t0.Add(time.Hour)
	if err := node("1.0.0").RecordVersion(ctx); err != nil { // a restart: no change
		t.Fatal(err)
	}
	at = t0.Add(2 * time.Hour)
	h, err := node("1.1.0").VersionHistory(ctx) // records 1.1.0 as it lists
	if err != nil {
		t.Fatal(err)
	}
	keys := h["keys"].([]string)
	info := h["key_info"].(map[string]any)
	if len(keys) != 2 || keys[0] != "1.0.0" || keys[1] != "1.1.0" {
		t.Fatalf("keys %v", keys)
	}
	first, second := info["1.0.0"].(map[string]any), info["1.1.0"].(map[string]any)
	if first["timestamp_installed"] != "2026-01-02T03:04:05Z" || first["previous_version"] != nil || first["build_date"] != "build-1.0.0" {
		t.Fatalf("1.0.0: %v", first)
	}
	if second["timestamp_installed"] != "2026-01-02T05:04:05Z" || second["previous_version"] != "1.0.0" {
		t.Fatalf("1.1.0: %v", second)
	}
}
