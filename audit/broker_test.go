package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestBrokerNoDevices(t *testing.T) {
	var b Broker
	auth, req, resp := sample()
	if err := b.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Errorf("LogRequest with no device = %v", err)
	}
	if err := b.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
		t.Errorf("LogResponse with no device = %v", err)
	}
	if err := b.LogRequest(t.Context(), auth, nil, nil); !errors.Is(err, ErrAuditFailed) {
		t.Errorf("LogRequest(nil request) = %v, want ErrAuditFailed", err)
	}
}

func TestBrokerDevices(t *testing.T) {
	var b Broker
	d1, _ := newFile(t, "b/", nil)
	d2, _ := newFile(t, "a/", nil)
	for _, d := range []*Device{d1, d2} {
		if err := b.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	d3, _ := newFile(t, "a/", nil)
	if err := b.Add(d3); !errors.Is(err, ErrDeviceExists) {
		t.Errorf("Add of a second a/ = %v, want ErrDeviceExists", err)
	}
	if err := b.Add(nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Add(nil) = %v", err)
	}
	if got := b.Names(); !reflect.DeepEqual(got, []string{"a/", "b/"}) {
		t.Errorf("Names = %v", got)
	}
	if d, err := b.Device("b/"); err != nil || d != d1 || d.Hash("x") != d1.Hash("x") {
		t.Errorf("Device(b/) = %v, %v", d, err)
	}
	if _, err := b.Device("c/"); !errors.Is(err, ErrNoDevice) {
		t.Errorf("Device(c/) = %v, want ErrNoDevice", err)
	}
	if d, err := b.Remove("a/"); err != nil || d != d2 {
		t.Errorf("Remove(a/) = %v, %v", d, err)
	}
	if _, err := b.Remove("a/"); !errors.Is(err, ErrNoDevice) {
		t.Errorf("second Remove(a/) = %v, want ErrNoDevice", err)
	}
	if got := b.Names(); !reflect.DeepEqual(got, []string{"b/"}) {
		t.Errorf("Names = %v", got)
	}
}

// TestBrokerFailsClosed: a device that cannot write, alone, fails the
// request; next to a healthy device, the request goes on and the failure is
// reported.
func TestBrokerFailsClosed(t *testing.T) {
	full := newDevFull(t, "full/")
	auth, req, resp := sample()

	var alone Broker
	if err := alone.Add(full); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"LogRequest":  alone.LogRequest(t.Context(), auth, req, nil),
		"LogResponse": alone.LogResponse(t.Context(), auth, req, resp, nil),
	} {
		if !errors.Is(err, ErrAuditFailed) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%s = %v, want ErrAuditFailed and ENOSPC", name, err)
		}
		var de *DeviceError
		if !errors.As(err, &de) || de.Device != "full/" {
			t.Errorf("%s: no DeviceError naming full/: %v", name, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, `"full/"`) || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q should name the device on one line", name, msg)
		}
		for _, secret := range []string{rawToken, rawAccessor, rawPlaintext, rawCiphertext} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: message %q shows %q", name, msg, secret)
			}
		}
	}

	var reported []*DeviceError
	both := Broker{OnDeviceError: func(e *DeviceError) { reported = append(reported, e) }}
	healthy, path := newFile(t, "file/", nil)
	for _, d := range []*Device{full, healthy} {
		if err := both.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := both.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Errorf("LogRequest with a healthy device = %v", err)
	}
	if err := both.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
		t.Errorf("LogResponse with a healthy device = %v", err)
	}
	if n := len(readLines(t, path)); n != 2 {
		t.Errorf("healthy device wrote %d lines, want 2", n)
	}
	if len(reported) != 2 || reported[0].Device != "full/" || !errors.Is(reported[0], syscall.ENOSPC) {
		t.Errorf("reported %v, want two ENOSPC of full/", reported)
	}

	// Once the healthy device is removed, the request fails again.
	if _, err := both.Remove("file/"); err != nil {
		t.Fatal(err)
	}
	if err := both.LogRequest(t.Context(), auth, req, nil); !errors.Is(err, ErrAuditFailed) {
		t.Errorf("LogRequest after removing the healthy device = %v", err)
	}
}

func TestBrokerClosedDevice(t *testing.T) {
	var b Broker
	d, _ := newFile(t, "file/", nil)
	if err := b.Add(d); err != nil {
		t.Fatal(err)
	}
	d.Close()
	_, req, _ := sample()
	if err := b.LogRequest(t.Context(), nil, req, nil); !errors.Is(err, ErrAuditFailed) || !errors.Is(err, ErrClosed) {
		t.Errorf("LogRequest to a closed device = %v", err)
	}
	if err := b.Reload(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload = %v", err)
	}
}

func TestBrokerReload(t *testing.T) {
	var b Broker
	d, path := newFile(t, "file/", nil)
	if err := b.Add(d); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	_, req, _ := sample()
	if err := b.LogRequest(t.Context(), nil, req, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, path)); n != 1 {
		t.Errorf("new file holds %d lines", n)
	}
}

// TestConcurrentWholeLines logs from 100 goroutines to two devices, with
// entries large enough to need more than one page, and checks that each
// file holds whole lines only, each request once and its response once.
func TestConcurrentWholeLines(t *testing.T) {
	const workers, perWorker = 100, 5
	var b Broker
	var paths []string
	for _, name := range []string{"one/", "two/"} {
		d, path := newFile(t, name, nil)
		if err := b.Add(d); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	big := strings.Repeat("x", 9000)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				auth, req, resp := sample()
				req.ID = fmt.Sprintf("%d-%d", w, i)
				req.Data["big"] = big
				resp.Data["big"] = []any{big, big}
				if err := b.LogRequest(t.Context(), auth, req, nil); err != nil {
					errs <- err
					return
				}
				if err := b.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, path := range paths {
		seen := map[string]int{}
		lines := readLines(t, path)
		for _, l := range lines {
			seen[str(l, "type")+" "+str(l, "request", "id")]++
		}
		if len(lines) != 2*workers*perWorker || len(seen) != len(lines) {
			t.Errorf("%s: %d lines, %d distinct; want %d of each", filepath.Base(filepath.Dir(path)), len(lines), len(seen), 2*workers*perWorker)
		}
	}
}

// nullSink takes every line and keeps none, to measure formatting alone.
type nullSink struct{}

func (nullSink) write([]byte) error { return nil }
func (nullSink) reload() error      { return nil }
func (nullSink) close() error       { return nil }

// BenchmarkLogRequestResponse logs the request and the response of a small
// transit encrypt through a Broker with one device.
func BenchmarkLogRequestResponse(b *testing.B) {
	bench := func(b *testing.B, d *Device) {
		var br Broker
		if err := br.Add(d); err != nil {
			b.Fatal(err)
		}
		auth, req, resp := sample()
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			if err := br.LogRequest(ctx, auth, req, nil); err != nil {
				b.Fatal(err)
			}
			if err := br.LogResponse(ctx, auth, req, resp, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("file", func(b *testing.B) {
		d, _ := newFile(b, "file/", nil)
		bench(b, d)
	})
	b.Run("file-raw", func(b *testing.B) {
		d, _ := newFile(b, "file/", func(c *FileConfig) { c.LogRaw = true })
		bench(b, d)
	})
	b.Run("format-only", func(b *testing.B) {
		d, _ := newFile(b, "file/", nil)
		d.out = nullSink{}
		bench(b, d)
	})
}
