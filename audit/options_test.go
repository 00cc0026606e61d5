package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "existing.log")
	if err := os.WriteFile(existing, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(existing, 0o640); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		opts map[string]string
		want FileConfig
	}{
		{map[string]string{"file_path": "/var/log/a.log"},
			FileConfig{FilePath: "/var/log/a.log", HMACAccessor: true}},
		{map[string]string{"path": "/var/log/a.log"},
			FileConfig{FilePath: "/var/log/a.log", HMACAccessor: true}},
		{map[string]string{"file_path": "StdOut", "log_raw": "true", "hmac_accessor": "false", "format": "json", "prefix": "@cee: "},
			FileConfig{FilePath: Stdout, LogRaw: true, Prefix: "@cee: "}},
		{map[string]string{"file_path": "DISCARD", "mode": "0000"},
			FileConfig{FilePath: Discard, HMACAccessor: true}},
		{map[string]string{"file_path": "/a", "mode": "0640"},
			FileConfig{FilePath: "/a", Mode: 0o640, HMACAccessor: true}},
		{map[string]string{"file_path": "/a", "mode": "755"},
			FileConfig{FilePath: "/a", Mode: 0o644, HMACAccessor: true}},
		{map[string]string{"file_path": existing, "mode": "0000"},
			FileConfig{FilePath: existing, Mode: 0o640, HMACAccessor: true}},
		{map[string]string{"file_path": "/a", "path": "/a"},
			FileConfig{FilePath: "/a", HMACAccessor: true}},
	}
	for _, c := range cases {
		got, err := ParseOptions(c.opts)
		if err != nil {
			t.Errorf("ParseOptions(%v): %v", c.opts, err)
			continue
		}
		if got.String() != c.want.String() {
			t.Errorf("ParseOptions(%v) = %v, want %v", c.opts, got, c.want)
		}
	}

	bad := []map[string]string{
		{},
		{"log_raw": "true"},
		{"file_path": ""},
		{"file_path": "/a", "path": "/b"},
		{"file_path": "/a", "log_raw": "yes"},
		{"file_path": "/a", "hmac_accessor": "maybe"},
		{"file_path": "/a", "mode": "0800"},
		{"file_path": "/a", "mode": "01777"},
		{"file_path": "/a", "mode": "-1"},
		{"file_path": "/a", "mode": "rw"},
		{"file_path": filepath.Join(t.TempDir(), "missing"), "mode": "0000"},
		{"file_path": "/a", "format": "jsonx"},
		{"file_path": "/a", "format": "xml"},
		{"file_path": "/a", "prefix": "two\nlines"},
		{"file_path": "/a", "elide_list_responses": "true"},
		{"file_path": "/a", "log_rwa": "true"},
	}
	for _, opts := range bad {
		if got, err := ParseOptions(opts); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseOptions(%v) = %v, %v; want ErrInvalidConfig", opts, got, err)
		}
	}
}

// FuzzParseOptions checks that any option map either fails with
// ErrInvalidConfig or gives a config NewFileDevice accepts for its checks:
// a path, permission bits only without execute, a prefix on one line.
func FuzzParseOptions(f *testing.F) {
	f.Add("file_path", "/var/log/audit.log", "mode", "0640", "prefix", "x")
	f.Add("path", "stdout", "log_raw", "1", "hmac_accessor", "F")
	f.Add("file_path", "discard", "format", "jsonx", "mode", "0000")
	f.Add("file_path", "/a", "mode", "07777", "prefix", "a\nb")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		opts := map[string]string{k1: v1, k2: v2, k3: v3}
		cfg, err := ParseOptions(opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("ParseOptions(%q) = %v, not ErrInvalidConfig", opts, err)
			}
			return
		}
		if cfg.FilePath == "" || cfg.Mode&^0o666 != 0 || strings.ContainsAny(cfg.Prefix, "\r\n") {
			t.Fatalf("ParseOptions(%q) = %v", opts, cfg)
		}
		if cfg.check() != nil {
			t.Fatalf("ParseOptions(%q) = %v, which check refuses", opts, cfg)
		}
	})
}
