package httpapi

import (
	"errors"
	"net/http"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

func TestCheckWrapTTL(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want error // nil, errWrappingUnsupported or engine.ErrBadRequest
	}{
		{"", nil}, {"0", nil}, {"0s", nil}, {" 0 ", nil},
		{"5m0s", errWrappingUnsupported}, {"60", errWrappingUnsupported}, {"1d", errWrappingUnsupported},
		{"abc", engine.ErrBadRequest}, {"-5s", engine.ErrBadRequest}, {"-1", engine.ErrBadRequest}, {"5x", engine.ErrBadRequest},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set(wrapTTLHeader, tc.v)
		}
		err := checkWrapTTL(h)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%q: %v, want %v", tc.v, err, tc.want)
		}
	}
}

// FuzzCheckWrapTTL: any header value asks for nothing (its duration is
// zero), is refused as unsupported (above zero), or is a 400; never
// anything else, and never a panic.
func FuzzCheckWrapTTL(f *testing.F) {
	for _, s := range []string{"", "0", "5m0s", "60", "1d", "-5s", "abc", "9999999999999999999", "1e3s", "+5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set(wrapTTLHeader, v)
		err := checkWrapTTL(h)
		d, perr := engine.ParseDuration(v)
		switch {
		case err == nil:
			if v != "" && (perr != nil || d != 0) {
				t.Fatalf("%q (%v, %v) asks for nothing", v, d, perr)
			}
		case errors.Is(err, errWrappingUnsupported):
			if perr != nil || d <= 0 {
				t.Fatalf("%q (%v, %v) refused as a wrapping request", v, d, perr)
			}
		case !errors.Is(err, engine.ErrBadRequest):
			t.Fatalf("%q: %v is not a 400", v, err)
		}
	})
}

// TestCheckWrapTTLAllocatesNothing: every request passes through
// checkWrapTTL; without the header it must cost no allocation (Header.Get
// with the non-canonical name allocated one per request).
func TestCheckWrapTTLAllocatesNothing(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "X-Vault-Token": {"t"}}
	if n := testing.AllocsPerRun(100, func() { _ = checkWrapTTL(h) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}
