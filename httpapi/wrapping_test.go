package httpapi

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
)

func TestCheckWrapTTL(t *testing.T) {
	for _, tc := range []struct {
		v    string
		ttl  time.Duration
		want error // nil or engine.ErrBadRequest
	}{
		{"", 0, nil}, {"0", 0, nil}, {"0s", 0, nil}, {" 0 ", 0, nil},
		{"5m0s", 5 * time.Minute, nil}, {"60", time.Minute, nil}, {"1d", 24 * time.Hour, nil},
		{"abc", 0, engine.ErrBadRequest}, {"-5s", 0, engine.ErrBadRequest}, {"-1", 0, engine.ErrBadRequest}, {"5x", 0, engine.ErrBadRequest},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set(wrapTTLHeader, tc.v)
		}
		ttl, err := checkWrapTTL(h)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) || ttl != tc.ttl {
			t.Errorf("%q: %v %v, want %v %v", tc.v, ttl, err, tc.ttl, tc.want)
		}
	}
}

// FuzzCheckWrapTTL: any header value reads as the duration
// engine.ParseDuration gives it when that is zero or more, or is a 400;
// never anything else, and never a panic.
func FuzzCheckWrapTTL(f *testing.F) {
	for _, s := range []string{"", "0", "5m0s", "60", "1d", "-5s", "abc", "9999999999999999999", "1e3s", "+5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set(wrapTTLHeader, v)
		ttl, err := checkWrapTTL(h)
		d, perr := engine.ParseDuration(v)
		switch {
		case err == nil:
			if perr != nil || d < 0 || ttl != d {
				t.Fatalf("%q (%v, %v) read as %v", v, d, perr, ttl)
			}
		case !errors.Is(err, engine.ErrBadRequest):
			t.Fatalf("%q: %v is not a 400", v, err)
		case perr == nil && d >= 0:
			t.Fatalf("%q (%v) refused: %v", v, d, err)
		}
	})
}

// TestCheckWrapTTLAllocatesNothing: every request passes through
// checkWrapTTL; without the header it must cost no allocation (Header.Get
// with the non-canonical name allocated one per request).
func TestCheckWrapTTLAllocatesNothing(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "X-Vault-Token": {"t"}}
	if n := testing.AllocsPerRun(100, func() { _, _ = checkWrapTTL(h) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}
