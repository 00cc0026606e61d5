package kv

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage/tuple"
)

var update = flag.Bool("update", false, "rewrite testdata/layout.golden")

// TestLayoutGolden freezes the storage layout: the keys and the record
// encodings a release writes must stay readable by the next one.
func TestLayoutGolden(t *testing.T) {
	var b strings.Builder
	line := func(name string, v []byte, text bool) {
		if text {
			fmt.Fprintf(&b, "%s %s\n", name, v)
			return
		}
		fmt.Fprintf(&b, "%s %s\n", name, hex.EncodeToString(v))
	}
	line("config-key", configKey, false)
	line("entry-key a/b/c", entryKey("a/b/c"), false)
	line("entry-key top", entryKey("top"), false)
	line("folder-prefix a/b/", folderPrefix("a/b/"), false)
	line("marker-key a/b/", tuple.Pack("m", "a/", "b/"), false)
	line("version-key a/b/c 3", versionKey("a/b/c", 3), false)
	line("version-key a/b/c 300", versionKey("a/b/c", 300), false)
	line("version-prefix a/b/c", versionPrefix("a/b/c"), false)
	cfg, _ := json.Marshal(configRecord{MaxVersions: 5, CASRequired: true, DeleteVersionAfter: time.Hour})
	line("config-record", cfg, true)
	cfg, _ = json.Marshal(configRecord{DeleteVersionAfter: dvaDisabled})
	line("config-record-disabled", cfg, true)
	s := secretRecord{
		Current: 3, Oldest: 2, Created: 1700000000000000001, Updated: 1700000000000000003,
		MaxVersions: 2, CASRequired: true, DeleteVersionAfter: 90 * time.Second,
		CustomMetadata: map[string]string{"owner": "ops"},
		Versions: []versionRecord{
			{Created: 1700000000000000002, Deletion: 1700000000000000009},
			{Created: 1700000000000000003, Destroyed: true},
		},
	}
	sr, _ := json.Marshal(&s)
	line("secret-record", sr, true)
	got := b.String()

	path := filepath.Join("testdata", "layout.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("layout changed:\n%s\nwant:\n%s", got, want)
	}
	// The frozen secret record decodes back.
	var back *secretRecord
	for _, l := range strings.Split(string(want), "\n") {
		if rest, ok := strings.CutPrefix(l, "secret-record "); ok {
			if back, err = decodeSecret([]byte(rest)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if back == nil || back.version(2).Deletion != 1700000000000000009 || !back.version(3).Destroyed || back.version(1) != nil ||
		back.CustomMetadata["owner"] != "ops" || back.DeleteVersionAfter != 90*time.Second {
		t.Fatalf("decoded %+v", back)
	}
}
