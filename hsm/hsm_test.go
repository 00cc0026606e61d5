//go:build cgo && !nopkcs11

package hsm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/softhsm"
	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

const keyLabel = "strongroom-master"

// config returns a Config for tok, with mutate applied.
func config(tok *softhsm.Token, mutate func(*hsm.Config)) hsm.Config {
	cfg := hsm.Config{Lib: tok.Lib, TokenLabel: tok.Label, PIN: tok.PIN, KeyLabel: keyLabel, GenerateKey: true}
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

// open opens tok, generates its master key, and closes it at the end of t.
func open(t testing.TB, tok *softhsm.Token, mutate func(*hsm.Config)) *hsm.HSM {
	t.Helper()
	ctx := context.Background()
	h, err := hsm.Open(ctx, config(tok, mutate))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatalf("EnsureKey(true): %v", err)
	}
	return h
}

func kwp(c *hsm.Config) { c.Mechanism = hsm.MechanismKWP }

func key(n int, seed byte) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

func TestWrapUnwrapRoundTrip(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		mutate  func(*hsm.Config)
		aad     []byte
		overhad int
	}{
		{"AES-GCM", nil, []byte("tenant-7/root-key"), 2 + 12 + 16},
		{"AES-GCM no aad", nil, nil, 2 + 12 + 16},
		{"AES-KWP", kwp, nil, 2 + 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := open(t, tok, tc.mutate)
			for _, n := range []int{16, 32} {
				pt := key(n, 1)
				blob, err := h.Wrap(ctx, pt, tc.aad)
				if err != nil {
					t.Fatalf("Wrap(%d bytes): %v", n, err)
				}
				if len(blob) != n+tc.overhad {
					t.Fatalf("blob is %d bytes, want %d", len(blob), n+tc.overhad)
				}
				if bytes.Contains(blob, pt) {
					t.Fatal("blob contains the plaintext")
				}
				got, err := h.Unwrap(ctx, blob, tc.aad)
				if err != nil {
					t.Fatalf("Unwrap: %v", err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatalf("Unwrap = %x, want %x", got, pt)
				}
			}
		})
	}
}

func TestWrapRefusesBadInput(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	gcm := open(t, tok, nil)
	for _, n := range []int{0, 1, 15, 17, 24, 31, 33, 64} {
		if _, err := gcm.Wrap(ctx, make([]byte, n), nil); !errors.Is(err, hsm.ErrInvalid) {
			t.Errorf("Wrap(%d bytes) = %v, want ErrInvalid", n, err)
		}
	}
	h := open(t, tok, kwp)
	if _, err := h.Wrap(ctx, key(32, 0), []byte("aad")); !errors.Is(err, hsm.ErrInvalid) {
		t.Errorf("KWP Wrap with aad = %v, want ErrInvalid", err)
	}
	blob, err := h.Wrap(ctx, key(32, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A KWP blob offered where aad binding is expected is refused, even by
	// an HSM configured for AES-GCM: no silent downgrade.
	if _, err := gcm.Unwrap(ctx, blob, []byte("aad")); !errors.Is(err, hsm.ErrInvalid) {
		t.Errorf("Unwrap(KWP blob, aad) = %v, want ErrInvalid", err)
	}
	if got, err := gcm.Unwrap(ctx, blob, nil); err != nil || !bytes.Equal(got, key(32, 0)) {
		t.Errorf("GCM-configured HSM cannot read a KWP blob: %v", err)
	}
}

func TestGCMIsRandomized(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := open(t, tok, nil)
	pt := key(32, 9)
	aad := []byte("tenant/a")
	b1, err := h.Wrap(ctx, pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := h.Wrap(ctx, pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b1, b2) {
		t.Fatal("wrapping the same plaintext twice gave the same blob")
	}
	if bytes.Equal(b1[2:14], b2[2:14]) {
		t.Fatal("two wraps share an IV")
	}
	for _, b := range [][]byte{b1, b2} {
		if got, err := h.Unwrap(ctx, b, aad); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Unwrap = %x, %v", got, err)
		}
	}
}

// TestUnwrapRejectsTampering flips every bit of a blob in turn, and changes
// the aad: nothing unwraps. The token's errors are not faults, so no
// recovery runs.
func TestUnwrapRejectsTampering(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		mutate func(*hsm.Config)
		aad    []byte
	}{
		{"AES-GCM", nil, []byte("tenant-1/root")},
		{"AES-KWP", kwp, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := open(t, tok, tc.mutate)
			blob, err := h.Wrap(ctx, key(32, 3), tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(blob) * 8 {
				bad := bytes.Clone(blob)
				bad[i/8] ^= 1 << (i % 8)
				got, err := h.Unwrap(ctx, bad, tc.aad)
				if err == nil {
					t.Fatalf("bit %d flipped: Unwrap succeeded with %x", i, got)
				}
				if errors.Is(err, hsm.ErrUnavailable) {
					t.Fatalf("bit %d flipped: %v matches ErrUnavailable", i, err)
				}
			}
			if tc.aad != nil {
				_, err := h.Unwrap(ctx, blob, []byte("tenant-2/root"))
				if err == nil {
					t.Fatal("Unwrap with another aad succeeded")
				}
				t.Logf("wrong aad: %v", err)
				if _, err := h.Unwrap(ctx, blob, nil); err == nil {
					t.Fatal("Unwrap without aad succeeded")
				}
			}
			for _, n := range []int{0, 1, 2, len(blob) - 1} {
				if _, err := h.Unwrap(ctx, blob[:n], tc.aad); !errors.Is(err, hsm.ErrUnwrap) {
					t.Fatalf("truncated to %d: %v, want ErrUnwrap", n, err)
				}
			}
			if s := h.Stats(); s.Recoveries != 0 {
				t.Fatalf("tampered blobs caused %d recoveries", s.Recoveries)
			}
			if got, err := h.Unwrap(ctx, blob, tc.aad); err != nil || !bytes.Equal(got, key(32, 3)) {
				t.Fatalf("the intact blob no longer unwraps: %v", err)
			}
		})
	}
}

// TestOtherTokensKeyFails puts two tokens under one SoftHSM2 configuration,
// each with its own master key under the same label, and opens both at once
// (two HSMs sharing the module).
func TestOtherTokensKeyFails(t *testing.T) {
	tokA := softhsmtest.New(t)
	tokB, err := softhsm.Create(tokA.Dir, "other-token")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		mutate func(*hsm.Config)
		aad    []byte
	}{
		{"AES-GCM", nil, []byte("aad")},
		{"AES-KWP", kwp, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := open(t, tokA, tc.mutate)
			b := open(t, tokB, tc.mutate)
			blob, err := a.Wrap(ctx, key(32, 5), tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := b.Unwrap(ctx, blob, tc.aad); err == nil {
				t.Fatalf("token B unwrapped token A's blob: %x", got)
			} else {
				t.Logf("other token: %v", err)
			}
			if _, err := a.Unwrap(ctx, blob, tc.aad); err != nil {
				t.Fatalf("token A: %v", err)
			}
		})
	}
}

// TestErrorPaths drives each failure of Open and of key lookup with a
// distinctive PIN, checks the sentinel and the call named, and that the PIN
// shows nowhere.
func TestErrorPaths(t *testing.T) {
	const pin = "pin-CANARY-4d1e0b"
	tok := softhsmtest.New(t)
	ctx := context.Background()
	slot := tok.Slot
	badSlot := tok.Slot + 12345
	for _, tc := range []struct {
		name   string
		mutate func(*hsm.Config)
		want   error
		substr []string
	}{
		{"wrong PIN", func(c *hsm.Config) { c.PIN = pin }, hsm.ErrPINIncorrect, []string{"C_Login", "CKR_PIN_INCORRECT"}},
		{"wrong token label", func(c *hsm.Config) { c.TokenLabel = "no-such-token"; c.PIN = pin }, hsm.ErrTokenNotFound, []string{"no-such-token"}},
		{"wrong slot", func(c *hsm.Config) { c.TokenLabel = ""; c.Slot = &badSlot; c.PIN = pin }, hsm.ErrTokenNotFound, []string{"C_GetTokenInfo", "CKR_SLOT_ID_INVALID"}},
		{"slot holds another label", func(c *hsm.Config) { c.Slot = &slot; c.TokenLabel = "x"; c.PIN = pin }, hsm.ErrTokenNotFound, nil},
		{"missing library", func(c *hsm.Config) { c.Lib = filepath.Join(t.TempDir(), "nope.so"); c.PIN = pin }, hsm.ErrLibrary, []string{"nope.so"}},
		{"invalid config", func(c *hsm.Config) { c.KeyLabel = ""; c.PIN = pin }, hsm.ErrInvalid, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(tok, tc.mutate)
			h, err := hsm.Open(ctx, cfg)
			if err == nil {
				h.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			for _, s := range tc.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not name %q", err, s)
				}
			}
			assertNoPIN(t, pin, err, cfg)
		})
	}

	t.Run("missing key", func(t *testing.T) {
		// The token's real PIN; the canary goes into the key label's
		// neighbour fields only through cfg rendering.
		cfg := config(tok, func(c *hsm.Config) { c.KeyLabel = "no-such-key"; c.GenerateKey = false })
		h, err := hsm.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		for name, err := range map[string]error{
			"FindKey":          h.FindKey(ctx),
			"EnsureKey(false)": h.EnsureKey(ctx, false),
			"EnsureKey(true)":  h.EnsureKey(ctx, true), // GenerateKey is false
			"Ping":             h.Ping(ctx),
			"Wrap":             second(h.Wrap(ctx, key(32, 0), nil)),
		} {
			if !errors.Is(err, hsm.ErrKeyNotFound) {
				t.Errorf("%s = %v, want ErrKeyNotFound", name, err)
			}
			if err != nil && !strings.Contains(err.Error(), "no-such-key") {
				t.Errorf("%s: %q does not name the label", name, err)
			}
			assertNoPIN(t, tok.PIN, err, cfg)
		}
	})

	t.Run("wrong PIN then right PIN", func(t *testing.T) {
		// A failed Open leaves nothing behind that breaks the next one.
		if _, err := hsm.Open(ctx, config(tok, func(c *hsm.Config) { c.PIN = pin })); !errors.Is(err, hsm.ErrPINIncorrect) {
			t.Fatalf("Open = %v", err)
		}
		open(t, tok, nil)
	})
}

func second[T any](_ T, err error) error { return err }

func assertNoPIN(t *testing.T, pin string, err error, cfg hsm.Config) {
	t.Helper()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Error("open failed", "err", err, "config", cfg)
	for _, s := range []string{
		fmt.Sprint(err), fmt.Sprintf("%+v %#v", err, err),
		fmt.Sprintf("%+v %#v %v %s", cfg, cfg, cfg, cfg),
		logged.String(),
	} {
		if strings.Contains(s, pin) {
			t.Fatalf("PIN appears in %q", s)
		}
	}
}

// TestConcurrentWrapUnwrap runs 32 goroutines × 50 wrap/unwrap pairs on a
// pool of 4 sessions.
func TestConcurrentWrapUnwrap(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	const workers, rounds, sessions = 32, 50, 4
	for _, tc := range []struct {
		name   string
		mutate func(*hsm.Config)
		aad    bool
	}{
		{"AES-GCM", func(c *hsm.Config) { c.MaxSessions = sessions }, true},
		{"AES-KWP", func(c *hsm.Config) { c.MaxSessions = sessions; c.Mechanism = hsm.MechanismKWP }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := open(t, tok, tc.mutate)
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Go(func() {
					for r := range rounds {
						pt := key(16+16*(r%2), byte(w*rounds+r))
						var aad []byte
						if tc.aad {
							aad = fmt.Appendf(nil, "w%d/r%d", w, r)
						}
						blob, err := h.Wrap(ctx, pt, aad)
						if err != nil {
							errs <- err
							return
						}
						got, err := h.Unwrap(ctx, blob, aad)
						if err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(got, pt) {
							errs <- fmt.Errorf("worker %d round %d: got %x want %x", w, r, got, pt)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			s := h.Stats()
			if s.PoolSize != sessions {
				t.Errorf("PoolSize = %d, want %d", s.PoolSize, sessions)
			}
			// The login session, plus at most the pool.
			if n := s.Calls["C_OpenSession"]; n > sessions+1 {
				t.Errorf("%d C_OpenSession calls for a pool of %d", n, sessions)
			}
			if len(s.Errors) != 0 {
				t.Errorf("errors: %v", s.Errors)
			}
			t.Logf("stats: %d calls, %v in PKCS#11, %v", s.Total(), s.CallTime, s.Calls)
		})
	}
}

func TestPoolSizeFromToken(t *testing.T) {
	tok := softhsmtest.New(t)
	// SoftHSM2 reports CK_EFFECTIVELY_INFINITE: the cap applies.
	if got := open(t, tok, nil).Stats().PoolSize; got != hsm.DefaultMaxSessions {
		t.Fatalf("PoolSize = %d, want %d", got, hsm.DefaultMaxSessions)
	}
	if got := open(t, tok, func(c *hsm.Config) { c.MaxSessions = 40 }).Stats().PoolSize; got != 40 {
		t.Fatalf("PoolSize = %d, want 40", got)
	}
}

func TestClose(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h, err := hsm.Open(ctx, config(tok, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	blob, err := h.Wrap(ctx, key(32, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := h.Unwrap(ctx, blob, nil); !errors.Is(err, hsm.ErrClosed) {
		t.Fatalf("Unwrap after Close = %v", err)
	}
	if err := h.FindKey(ctx); !errors.Is(err, hsm.ErrClosed) {
		t.Fatalf("FindKey after Close = %v", err)
	}
	// The module was finalized; a new Open initializes it again and
	// finds the key generated before.
	h2 := open(t, tok, func(c *hsm.Config) { c.GenerateKey = false })
	if got, err := h2.Unwrap(ctx, blob, nil); err != nil || !bytes.Equal(got, key(32, 1)) {
		t.Fatalf("Unwrap after reopen = %v", err)
	}
	if n := h2.Stats().Calls["C_Initialize"]; n != 1 {
		t.Fatalf("reopen made %d C_Initialize calls, want 1", n)
	}
}

func TestContextCanceled(t *testing.T) {
	tok := softhsmtest.New(t)
	h := open(t, tok, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := h.Stats().Total()
	if _, err := h.Wrap(ctx, key(32, 0), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wrap = %v, want context.Canceled", err)
	}
	if _, err := hsm.Open(ctx, config(tok, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open = %v, want context.Canceled", err)
	}
	if got := h.Stats().Total(); got != before {
		t.Fatalf("a canceled Wrap made %d PKCS#11 calls", got-before)
	}
}

func BenchmarkWrap(b *testing.B) {
	tok := softhsmtest.New(b)
	ctx := context.Background()
	for _, m := range []hsm.Mechanism{hsm.MechanismAESGCM, hsm.MechanismKWP} {
		b.Run(m.String(), func(b *testing.B) {
			h := open(b, tok, func(c *hsm.Config) { c.Mechanism = m })
			pt := key(32, 0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Wrap(ctx, pt, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnwrap(b *testing.B) {
	tok := softhsmtest.New(b)
	ctx := context.Background()
	for _, m := range []hsm.Mechanism{hsm.MechanismAESGCM, hsm.MechanismKWP} {
		b.Run(m.String(), func(b *testing.B) {
			h := open(b, tok, func(c *hsm.Config) { c.Mechanism = m })
			blob, err := h.Wrap(ctx, key(32, 0), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Unwrap(ctx, blob, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnwrapParallel(b *testing.B) {
	tok := softhsmtest.New(b)
	ctx := context.Background()
	h := open(b, tok, nil)
	blob, err := h.Wrap(ctx, key(32, 0), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Unwrap(ctx, blob, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
