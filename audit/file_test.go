package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestNewFileDeviceRejects(t *testing.T) {
	dir := t.TempDir()
	ok := FileConfig{Name: "file/", FilePath: filepath.Join(dir, "a.log"), Salt: testSalt(0)}
	cases := map[string]func(*FileConfig){
		"no name":         func(c *FileConfig) { c.Name = "" },
		"no path":         func(c *FileConfig) { c.FilePath = "" },
		"no salt":         func(c *FileConfig) { c.Salt = nil },
		"short salt":      func(c *FileConfig) { c.Salt = c.Salt[:16] },
		"setuid mode":     func(c *FileConfig) { c.Mode = 0o600 | os.ModeSetuid },
		"directory mode":  func(c *FileConfig) { c.Mode = 0o700 | os.ModeDir },
		"newline prefix":  func(c *FileConfig) { c.Prefix = "a\nb" },
		"carriage prefix": func(c *FileConfig) { c.Prefix = "a\r" },
	}
	for name, mod := range cases {
		cfg := ok
		mod(&cfg)
		if d, err := NewFileDevice(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewFileDevice = %v, %v; want ErrInvalidConfig", name, d, err)
		}
	}
	if _, err := os.Stat(ok.FilePath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a rejected config created the file: %v", err)
	}

	// A path that cannot be opened fails now, with the OS error reachable.
	if err := os.Mkdir(filepath.Join(dir, "isdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := ok
	cfg.FilePath = filepath.Join(dir, "isdir")
	if _, err := NewFileDevice(cfg); err == nil || !errors.Is(err, syscall.EISDIR) {
		t.Errorf("NewFileDevice on a directory: %v, want EISDIR", err)
	}
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		mode, existing, want os.FileMode
	}{
		{0, 0, 0o600},
		{0o640, 0, 0o640},
		{0o755, 0, 0o644}, // execute bits cleared
		{0, 0o666, 0o600}, // an existing file is set to the mode
		{0o644, 0o600, 0o644},
	}
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprintf("sub%d", i), "audit.log")
		if c.existing != 0 {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, nil, c.existing); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.existing); err != nil {
				t.Fatal(err)
			}
		}
		d, err := NewFileDevice(FileConfig{Name: "f", FilePath: path, Mode: c.mode, Salt: testSalt(0)})
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("mode %#o on a file of %#o: got %#o, want %#o", c.mode, c.existing, got, c.want)
		}
	}
}

func TestStdoutAndDiscard(t *testing.T) {
	for _, path := range []string{"stdout", "STDOUT", "discard", "Discard"} {
		d, err := NewFileDevice(FileConfig{Name: path, FilePath: path, Salt: testSalt(0)})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := d.Reload(); err != nil {
			t.Errorf("%s: Reload: %v", path, err)
		}
		if strings.EqualFold(path, Discard) {
			auth, req, resp := sample()
			if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
				t.Errorf("discard: LogRequest: %v", err)
			}
			if err := d.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
				t.Errorf("discard: LogResponse: %v", err)
			}
		}
		if err := d.Close(); err != nil {
			t.Errorf("%s: Close: %v", path, err)
		}
	}
	if _, err := os.Stat("stdout"); err == nil {
		t.Error(`a file named "stdout" was created`)
	}
}

// TestReload renames the log away, as logrotate does, and checks that lines
// go on into the old file until Reload, and into a new file after it.
func TestReload(t *testing.T) {
	d, path := newFile(t, "file/", nil)
	auth, req, _ := sample()
	logOne := func(id string) {
		t.Helper()
		r := *req
		r.ID = id
		if err := d.LogRequest(t.Context(), auth, &r, nil); err != nil {
			t.Fatalf("LogRequest %s: %v", id, err)
		}
	}
	logOne("1")
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	logOne("2") // still the open file, now named rotated
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	logOne("3")

	ids := func(p string) string {
		var s []string
		for _, l := range readLines(t, p) {
			s = append(s, str(l, "request", "id"))
		}
		return strings.Join(s, ",")
	}
	if got := ids(rotated); got != "1,2" {
		t.Errorf("rotated file holds %s, want 1,2", got)
	}
	if got := ids(path); got != "3" {
		t.Errorf("new file holds %s, want 3", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new file: %v, %v; want mode 0600", fi, err)
	}
}

// TestReloadFailure checks that a device whose file cannot be reopened fails
// every write, and recovers by itself once the path is writable again.
func TestReloadFailure(t *testing.T) {
	d, path := newFile(t, "file/", nil)
	auth, req, _ := sample()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil { // the path now cannot be opened
		t.Fatal(err)
	}
	if err := d.Reload(); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("Reload = %v, want EISDIR", err)
	}
	if err := d.LogRequest(t.Context(), auth, req, nil); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("LogRequest after a failed Reload = %v, want EISDIR", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Fatalf("LogRequest once the path is free: %v", err)
	}
	if n := len(readLines(t, path)); n != 1 {
		t.Errorf("new file holds %d lines, want 1", n)
	}
}

func TestClose(t *testing.T) {
	d, _ := newFile(t, "file/", nil)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	auth, req, resp := sample()
	if err := d.LogRequest(t.Context(), auth, req, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("LogRequest after Close = %v", err)
	}
	if err := d.LogResponse(t.Context(), auth, req, resp, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("LogResponse after Close = %v", err)
	}
	if err := d.Reload(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close = %v", err)
	}
	if got := d.Hash("x"); !strings.HasPrefix(got, hmacPrefix) {
		t.Errorf("Hash after Close = %q", got)
	}
}

// TestDevFull writes to /dev/full, where every write fails with ENOSPC.
func TestDevFull(t *testing.T) {
	d := newDevFull(t, "full/")
	before, _ := os.Stat("/dev/full")
	auth, req, resp := sample()
	err := d.LogRequest(t.Context(), auth, req, nil)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("LogRequest = %v, want ENOSPC", err)
	}
	if err := d.LogResponse(t.Context(), auth, req, resp, nil); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("LogResponse = %v, want ENOSPC", err)
	}
	if after, _ := os.Stat("/dev/full"); before.Mode() != after.Mode() {
		t.Errorf("the device changed the mode of /dev/full: %v to %v", before.Mode(), after.Mode())
	}
}

// newDevFull returns a device on /dev/full, or skips the test where there is
// none.
func newDevFull(t *testing.T, name string) *Device {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("/dev/full is Linux's")
	}
	d, err := NewFileDevice(FileConfig{Name: name, FilePath: "/dev/full", Salt: testSalt(0), HMACAccessor: true})
	if err != nil {
		t.Skipf("cannot open /dev/full: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestTornAfter(t *testing.T) {
	cases := []struct {
		wasTorn  bool
		n, total int
		want     bool
	}{
		{false, 10, 10, false},
		{false, 0, 10, false},
		{false, 4, 10, true},
		{true, 11, 11, false},
		{true, 0, 11, true},  // nothing written: still torn
		{true, 1, 11, false}, // only the '\n': the old line is ended
		{true, 5, 11, true},
	}
	for _, c := range cases {
		if got := tornAfter(c.wasTorn, c.n, c.total); got != c.want {
			t.Errorf("tornAfter(%t, %d, %d) = %t, want %t", c.wasTorn, c.n, c.total, got, c.want)
		}
	}
}

// TestTornLineEnded simulates a write that stopped half-way (the disk
// filled): the next line starts on a line of its own.
func TestTornLineEnded(t *testing.T) {
	d, path := newFile(t, "file/", nil)
	s := d.out.(*fileSink)
	if _, err := s.f.WriteString(`{"time":"2025-01-02T03:04:05Z","type":"requ`); err != nil {
		t.Fatal(err)
	}
	s.torn = true
	auth, req, _ := sample()
	if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], `"requ`) {
		t.Fatalf("got %q", b)
	}
	parseLines(t, []byte(lines[1]+"\n"), "")
}

func TestStringHidesSalt(t *testing.T) {
	salt := []byte("SALT-SALT-SALT-SALT-SALT-SALT-SA")
	cfg := FileConfig{Name: "file/", FilePath: Discard, Salt: salt}
	d, err := NewFileDevice(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s", d, d, d, d),
		fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		fmt.Sprintf("%v %+v %#v", &cfg, &cfg, &cfg),
	} {
		for _, leak := range []string{string(salt), fmt.Sprint(salt), fmt.Sprintf("%#v", salt), "SALT"} {
			if strings.Contains(s, leak) {
				t.Errorf("%q shows the salt", s)
			}
		}
	}
	if got, want := d.String(), `audit device "file/" (discard)`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
