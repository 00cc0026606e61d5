//go:build cgo && !nopkcs11

package hsm

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/strongroom/strongroom/softhsm"
	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

// These tests reach inside the HSM to look at the token directly and to
// break it behind the package's back.

const testKeyLabel = "strongroom-master"

func openTest(t testing.TB, tok *softhsm.Token, mutate func(*Config)) *HSM {
	t.Helper()
	cfg := Config{Lib: tok.Lib, TokenLabel: tok.Label, PIN: tok.PIN, KeyLabel: testKeyLabel, GenerateKey: true}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// raw runs f on a fresh session of h's token, outside the pool and the
// counters. The application is logged in (through h), so private objects
// are visible.
func raw(t *testing.T, h *HSM, f func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle)) {
	t.Helper()
	h.mod.mu.RLock()
	defer h.mod.mu.RUnlock()
	st := h.state.Load()
	s, err := h.mod.ctx.OpenSession(st.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatalf("raw OpenSession: %v", err)
	}
	defer h.mod.ctx.CloseSession(s)
	f(h.mod.ctx, s)
}

// secretKeys returns the handles of all secret keys on h's token.
func secretKeys(t *testing.T, h *HSM) []pkcs11.ObjectHandle {
	t.Helper()
	return findObjects(t, h, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY))
}

// findObjects returns the handles (up to 100) of the objects on h's token
// that match template, searched behind h's back.
func findObjects(t *testing.T, h *HSM, template ...*pkcs11.Attribute) []pkcs11.ObjectHandle {
	t.Helper()
	var objs []pkcs11.ObjectHandle
	raw(t, h, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) {
		if err := ctx.FindObjectsInit(s, template); err != nil {
			t.Fatal(err)
		}
		var err error
		objs, _, err = ctx.FindObjects(s, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := ctx.FindObjectsFinal(s); err != nil {
			t.Fatal(err)
		}
	})
	return objs
}

// tokenObjectFiles counts the object files in a SoftHSM2 token directory.
func tokenObjectFiles(t *testing.T, tokensDir string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(tokensDir, "*", "*.object"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

func statsDiff(before, after Stats) map[string]uint64 {
	d := map[string]uint64{}
	for k, v := range after.Calls {
		if n := v - before.Calls[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

func TestMasterKeyAttributes(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, nil)

	if err := h.FindKey(ctx); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("FindKey on an empty token = %v, want ErrKeyNotFound", err)
	}
	if err := h.EnsureKey(ctx, false); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("EnsureKey(false) = %v, want ErrKeyNotFound", err)
	}
	if n := len(secretKeys(t, h)); n != 0 {
		t.Fatalf("EnsureKey(false) left %d keys on the token", n)
	}
	if h.Stats().Calls["C_GenerateKey"] != 0 {
		t.Fatal("C_GenerateKey was called")
	}
	for range 2 {
		if err := h.EnsureKey(ctx, true); err != nil {
			t.Fatalf("EnsureKey(true): %v", err)
		}
	}
	keys := secretKeys(t, h)
	if len(keys) != 1 {
		t.Fatalf("%d keys after EnsureKey(true) twice, want 1", len(keys))
	}
	if n := h.Stats().Calls["C_GenerateKey"]; n != 1 {
		t.Fatalf("%d C_GenerateKey calls, want 1", n)
	}

	want := map[uint]bool{
		pkcs11.CKA_TOKEN: true, pkcs11.CKA_PRIVATE: true, pkcs11.CKA_SENSITIVE: true,
		pkcs11.CKA_EXTRACTABLE: false, pkcs11.CKA_MODIFIABLE: false,
		pkcs11.CKA_ENCRYPT: true, pkcs11.CKA_DECRYPT: true, pkcs11.CKA_WRAP: true, pkcs11.CKA_UNWRAP: true,
		pkcs11.CKA_SIGN: false, pkcs11.CKA_VERIFY: false, pkcs11.CKA_DERIVE: false,
		pkcs11.CKA_ALWAYS_SENSITIVE: true, pkcs11.CKA_NEVER_EXTRACTABLE: true,
	}
	raw(t, h, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) {
		var template []*pkcs11.Attribute
		for a := range want {
			template = append(template, pkcs11.NewAttribute(a, nil))
		}
		template = append(template,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ID, nil))
		attrs, err := ctx.GetAttributeValue(s, keys[0], template)
		if err != nil {
			t.Fatalf("C_GetAttributeValue: %v", err)
		}
		for _, a := range attrs {
			switch a.Type {
			case pkcs11.CKA_KEY_TYPE:
				if attrUint(a) != pkcs11.CKK_AES {
					t.Errorf("CKA_KEY_TYPE = %d", attrUint(a))
				}
			case pkcs11.CKA_VALUE_LEN:
				if attrUint(a) != 32 {
					t.Errorf("CKA_VALUE_LEN = %d", attrUint(a))
				}
			case pkcs11.CKA_LABEL:
				if string(a.Value) != testKeyLabel {
					t.Errorf("CKA_LABEL = %q", a.Value)
				}
			case pkcs11.CKA_ID:
				if len(a.Value) != 16 {
					t.Errorf("CKA_ID is %d bytes", len(a.Value))
				}
			default:
				if got := len(a.Value) == 1 && a.Value[0] != 0; got != want[a.Type] {
					t.Errorf("attribute 0x%X = %v, want %v", a.Type, got, want[a.Type])
				}
			}
		}
		// The value itself cannot be read.
		_, err = ctx.GetAttributeValue(s, keys[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if codeOf(err) != 0x11 { // CKR_ATTRIBUTE_SENSITIVE
			t.Errorf("reading CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
		}
	})
}

func TestEnsureKeyNeedsGenerateKey(t *testing.T) {
	tok := softhsmtest.New(t)
	h := openTest(t, tok, func(c *Config) { c.GenerateKey = false })
	err := h.EnsureKey(context.Background(), true)
	if !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("EnsureKey(true) without Config.GenerateKey = %v", err)
	}
	if n := len(secretKeys(t, h)); n != 0 {
		t.Fatalf("%d keys created", n)
	}
}

func TestDuplicateKeyLabel(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, nil)
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	// A second key under the same label, made outside the package.
	h.lock <- struct{}{}
	st := h.state.Load()
	err := h.mod.call(&h.stats, "test", fnGenerateKey, st.gen, func() error {
		_, err := h.mod.ctx.GenerateKey(st.login, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)},
			masterKeyTemplate(testKeyLabel, []byte{9}))
		return err
	})
	<-h.lock
	if err != nil {
		t.Fatal(err)
	}
	if err := h.FindKey(ctx); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("FindKey = %v, want ErrDuplicateKey", err)
	}
	if err := h.EnsureKey(ctx, true); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("EnsureKey(true) = %v, want ErrDuplicateKey", err)
	}
	if _, err := Open(ctx, h.cfg); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("Open = %v, want ErrDuplicateKey", err)
	}
}

// TestStatsPerOperation pins the PKCS#11 calls of each operation on a warm
// pool.
func TestStatsPerOperation(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		mech         Mechanism
		wrap, unwrap map[string]uint64
	}{
		{MechanismAESGCM,
			map[string]uint64{"C_EncryptInit": 1, "C_Encrypt": 1},
			map[string]uint64{"C_DecryptInit": 1, "C_Decrypt": 1}},
		{MechanismKWP,
			map[string]uint64{"C_CreateObject": 1, "C_WrapKey": 1, "C_DestroyObject": 1},
			map[string]uint64{"C_UnwrapKey": 1, "C_GetAttributeValue": 1, "C_DestroyObject": 1}},
	} {
		t.Run(tc.mech.String(), func(t *testing.T) {
			h := openTest(t, tok, func(c *Config) { c.Mechanism = tc.mech })
			if err := h.EnsureKey(ctx, true); err != nil {
				t.Fatal(err)
			}
			blob, err := h.Wrap(ctx, make([]byte, 32), nil) // opens the pooled session
			if err != nil {
				t.Fatal(err)
			}
			s0 := h.Stats()
			if _, err := h.Wrap(ctx, make([]byte, 32), nil); err != nil {
				t.Fatal(err)
			}
			s1 := h.Stats()
			if _, err := h.Unwrap(ctx, blob, nil); err != nil {
				t.Fatal(err)
			}
			s2 := h.Stats()
			if err := h.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			s3 := h.Stats()
			if d := statsDiff(s0, s1); !maps.Equal(d, tc.wrap) {
				t.Errorf("Wrap made %v, want %v", d, tc.wrap)
			}
			if d := statsDiff(s1, s2); !maps.Equal(d, tc.unwrap) {
				t.Errorf("Unwrap made %v, want %v", d, tc.unwrap)
			}
			if d := statsDiff(s2, s3); !maps.Equal(d, map[string]uint64{"C_GetAttributeValue": 1}) {
				t.Errorf("Ping made %v", d)
			}
			// A malformed blob costs no call at all.
			if _, err := h.Unwrap(ctx, blob[:5], nil); !errors.Is(err, ErrUnwrap) {
				t.Fatal(err)
			}
			if d := statsDiff(s3, h.Stats()); len(d) != 0 {
				t.Errorf("malformed blob made %v", d)
			}
			if s3.CallTime <= 0 || len(s3.Errors) != 0 {
				t.Errorf("CallTime %v, Errors %v", s3.CallTime, s3.Errors)
			}
		})
	}
}

// TestSessionDiscardedAfterError checks that the session of a failed call
// is closed, not pooled, and that the next call opens a new one.
func TestSessionDiscardedAfterError(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, func(c *Config) { c.MaxSessions = 1 })
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	blob, err := h.Wrap(ctx, make([]byte, 32), []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	s0 := h.Stats()
	bad := bytes.Clone(blob)
	bad[len(bad)-1] ^= 1
	_, err = h.Unwrap(ctx, bad, []byte("a"))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Call != "C_Decrypt" {
		t.Fatalf("tampered Unwrap = %v, want a C_Decrypt CallError", err)
	}
	t.Logf("SoftHSM2 on a bad tag: %v (ErrUnwrap: %v)", err, errors.Is(err, ErrUnwrap))
	if _, err := h.Unwrap(ctx, blob, []byte("a")); err != nil {
		t.Fatal(err)
	}
	d := statsDiff(s0, h.Stats())
	if d["C_CloseSession"] != 1 || d["C_OpenSession"] != 1 {
		t.Fatalf("after a failed call: %v, want the session closed and a new one opened", d)
	}
}

func TestAcquireHonoursDeadline(t *testing.T) {
	tok := softhsmtest.New(t)
	h := openTest(t, tok, func(c *Config) { c.MaxSessions = 1 })
	ctx := context.Background()
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	s, err := h.acquire(ctx, "test", h.state.Load())
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = h.Wrap(tctx, make([]byte, 32), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wrap with the pool exhausted = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Wrap waited %v", d)
	}
	h.release(s, true)
	if _, err := h.Wrap(ctx, make([]byte, 32), nil); err != nil {
		t.Fatalf("Wrap after release: %v", err)
	}
}

// TestTokenDirectoryVanishes moves SoftHSM2's token directory away under a
// running HSM, then back.
func TestTokenDirectoryVanishes(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, nil)
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	aad := []byte("tenant/root")
	blob, err := h.Wrap(ctx, make([]byte, 32), aad)
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(tok.Dir, "tokens")
	objects := tokenObjectFiles(t, tokens)
	back := hideTokens(t, tok)

	bounded := func(name string, f func(context.Context) error) error {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		start := time.Now()
		err := f(cctx)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v", name, d)
		}
		t.Logf("token gone: %s: %v", name, err)
		if err != nil && strings.Contains(err.Error(), tok.PIN) {
			t.Errorf("%s: the PIN appears in the error", name)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s = %v, want ErrUnavailable", name, err)
		}
		return err
	}
	err = bounded("Wrap", func(ctx context.Context) error { _, err := h.Wrap(ctx, make([]byte, 32), aad); return err })
	var ce *CallError
	if !errors.As(err, &ce) || ce.Code == 0 {
		t.Errorf("Wrap error %v names no PKCS#11 call", err)
	}
	bounded("Unwrap", func(ctx context.Context) error { _, err := h.Unwrap(ctx, blob, aad); return err })
	bounded("Ping", h.Ping)
	bounded("FindKey", h.FindKey)
	bounded("EnsureKey(false)", func(ctx context.Context) error { return h.EnsureKey(ctx, false) })
	bounded("EnsureKey(true)", func(ctx context.Context) error { return h.EnsureKey(ctx, true) })
	if h.Stats().Calls["C_GenerateKey"] != 1 {
		t.Fatal("a key was generated while the token was gone")
	}
	if _, err := os.Stat(tokens); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the token directory was recreated: %v", err)
	}

	back()
	before := h.Stats()
	// Operations reuse the last recovery error for up to RetryInterval.
	var got []byte
	eventually(t, func() (err error) { got, err = h.Unwrap(ctx, blob, aad); return err })
	if !bytes.Equal(got, make([]byte, 32)) {
		t.Fatal("wrong plaintext")
	}
	if _, err := h.Wrap(ctx, make([]byte, 32), aad); err != nil {
		t.Fatal(err)
	}
	if err := h.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	after := h.Stats()
	if after.Reinitializations <= before.Reinitializations {
		t.Errorf("service resumed without re-initialization? %d → %d", before.Reinitializations, after.Reinitializations)
	}
	if n := len(secretKeys(t, h)); n != 1 {
		t.Fatalf("%d secret keys on the token, want 1", n)
	}
	if n := tokenObjectFiles(t, tokens); n != objects {
		t.Fatalf("%d object files, was %d", n, objects)
	}
	t.Logf("recovery stats: %+v", after)
}

// TestSessionsClosedBehindBack closes every session of the application on
// the token (which also logs it out) without telling the HSM.
func TestSessionsClosedBehindBack(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, nil)
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	blob, err := h.Wrap(ctx, make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.mod.mu.RLock()
	err = h.mod.ctx.CloseAllSessions(h.state.Load().slot)
	h.mod.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	before := h.Stats()
	if _, err := h.Unwrap(ctx, blob, nil); err != nil {
		t.Fatalf("Unwrap after C_CloseAllSessions: %v", err)
	}
	after := h.Stats()
	t.Logf("errors seen: %v", after.Errors)
	if after.Errors["C_DecryptInit"] != 1 {
		t.Errorf("want the stale session to fail once at C_DecryptInit, got %v", after.Errors)
	}
	if after.Recoveries != before.Recoveries+1 || after.Reinitializations != before.Reinitializations {
		t.Errorf("recoveries %d→%d, re-initializations %d→%d; want one recovery without re-initialization",
			before.Recoveries, after.Recoveries, before.Reinitializations, after.Reinitializations)
	}
	if d := statsDiff(before, after); d["C_Login"] != 1 {
		t.Errorf("want one new C_Login, got %v", d)
	}
}

// TestModuleFinalizedBehindBack finalizes the module as a foreign component
// of the process would, without telling the package.
func TestModuleFinalizedBehindBack(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, nil)
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	blob, err := h.Wrap(ctx, make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.mod.mu.Lock()
	err = h.mod.ctx.Finalize()
	h.mod.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	before := h.Stats()
	if _, err := h.Unwrap(ctx, blob, nil); err != nil {
		t.Fatalf("Unwrap after a foreign C_Finalize: %v", err)
	}
	after := h.Stats()
	if after.Errors["C_DecryptInit"] != 1 || after.Reinitializations != before.Reinitializations+1 {
		t.Errorf("errors %v, re-initializations %d→%d", after.Errors, before.Reinitializations, after.Reinitializations)
	}
}

// TestReinitializedByAnotherHSM re-initializes the module through one HSM;
// another HSM on the same module must notice from the generation, without
// passing a stale handle to the module.
func TestReinitializedByAnotherHSM(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	a := openTest(t, tok, nil)
	b := openTest(t, tok, nil)
	if err := a.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := b.FindKey(ctx); err != nil {
		t.Fatal(err)
	}
	blob, err := a.Wrap(ctx, make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.mod != b.mod {
		t.Fatal("two HSMs on one library do not share the module")
	}
	gen, _ := a.mod.status()
	if did, err := b.mod.reinit(&b.stats, "test", gen); !did || err != nil {
		t.Fatalf("reinit = %v, %v", did, err)
	}
	before := a.Stats()
	if _, err := a.Unwrap(ctx, blob, nil); err != nil {
		t.Fatalf("Unwrap after another HSM re-initialized: %v", err)
	}
	if _, err := b.Unwrap(ctx, blob, nil); err != nil {
		t.Fatalf("Unwrap on the re-initializing HSM: %v", err)
	}
	after := a.Stats()
	if len(after.Errors) != len(before.Errors) {
		t.Errorf("stale handles reached the module: errors %v → %v", before.Errors, after.Errors)
	}
	if after.Reinitializations != 0 || after.Recoveries != 1 {
		t.Errorf("recoveries %d, re-initializations %d; want 1, 0", after.Recoveries, after.Reinitializations)
	}
}

// TestRecoveryIsSharedByConcurrentCallers makes many callers hit a dead
// token at once: they must all fail fast, and the module must not be
// re-initialized once per caller.
func TestRecoveryIsSharedByConcurrentCallers(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, func(c *Config) { c.MaxSessions = 4 })
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	blob, err := h.Wrap(ctx, make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	back := hideTokens(t, tok)
	const callers = 16
	errs := make(chan error, callers)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for range callers {
		go func() { _, err := h.Unwrap(cctx, blob, nil); errs <- err }()
	}
	for range callers {
		if err := <-errs; !errors.Is(err, ErrUnavailable) {
			t.Errorf("Unwrap = %v, want ErrUnavailable", err)
		}
	}
	s := h.Stats()
	t.Logf("%d callers: %d C_Initialize calls, %d recoveries", callers, s.Calls["C_Initialize"], s.Recoveries)
	if s.Calls["C_Initialize"] > 3 {
		t.Errorf("%d C_Initialize calls for %d callers", s.Calls["C_Initialize"], callers)
	}
	back()
	eventually(t, func() error { _, err := h.Unwrap(ctx, blob, nil); return err })
}

// eventually retries f for up to three retry intervals.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(3 * RetryInterval)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", 3*RetryInterval, err)
		}
		time.Sleep(RetryInterval / 10)
	}
}

func TestCloseFinalizesLastUser(t *testing.T) {
	tok := softhsmtest.New(t)
	a := openTest(t, tok, nil)
	b := openTest(t, tok, nil)
	m := a.mod
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, init := m.status(); !init {
		t.Fatal("module finalized while b still uses it")
	}
	if err := b.Ping(context.Background()); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("b.Ping = %v (want it working, with no key yet)", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, init := m.status(); init {
		t.Fatal("module still initialized after its last HSM closed")
	}
}

// TestTokenSubdirectoryVanishes removes only the token's own directory
// (SoftHSM2 keeps one per token under the token store): C_Initialize then
// works, but the token is gone from the slot list, and comes back only
// after another C_Initialize.
func TestTokenSubdirectoryVanishes(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, nil)
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	blob, err := h.Wrap(ctx, make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(tok.Dir, "tokens", "*"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("token directories: %v, %v", dirs, err)
	}
	away := filepath.Join(tok.Dir, "token.away")
	if err := os.Rename(dirs[0], away); err != nil {
		t.Fatal(err)
	}
	_, err = h.Unwrap(ctx, blob, nil)
	t.Logf("token gone: Unwrap: %v", err)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Unwrap = %v, want ErrUnavailable", err)
	}
	err = h.EnsureKey(ctx, true)
	t.Logf("token gone: EnsureKey(true): %v", err)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("EnsureKey(true) = %v, want ErrUnavailable and ErrTokenNotFound", err)
	}
	if err := os.Rename(away, dirs[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error { _, err := h.Unwrap(ctx, blob, nil); return err })
	if n := len(secretKeys(t, h)); n != 1 {
		t.Fatalf("%d keys, want 1", n)
	}
}

// TestTokenDirectoryVanishesKWP: with AES-KWP, the token's answers for a
// vanished token (SoftHSM2: CKR_WRAPPING_KEY_HANDLE_INVALID and
// CKR_UNWRAPPING_KEY_HANDLE_INVALID for the cached master key handle) are
// faults: the operation fails with ErrUnavailable, and service resumes
// once the token is back.
func TestTokenDirectoryVanishesKWP(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, func(c *Config) { c.Mechanism = MechanismKWP })
	if err := h.EnsureKey(ctx, true); err != nil {
		t.Fatal(err)
	}
	blob, err := h.Wrap(ctx, make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	back := hideTokens(t, tok)
	if _, err := h.Wrap(ctx, make([]byte, 32), nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Wrap with the token gone = %v, want ErrUnavailable", err)
	}
	if _, err := h.Unwrap(ctx, blob, nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Unwrap with the token gone = %v, want ErrUnavailable", err)
	}
	back()
	var got []byte
	eventually(t, func() (err error) { got, err = h.Unwrap(ctx, blob, nil); return err })
	if !bytes.Equal(got, make([]byte, 32)) {
		t.Fatal("wrong plaintext")
	}
	if _, err := h.Wrap(ctx, make([]byte, 32), nil); err != nil {
		t.Fatal(err)
	}
}

// hideTokens moves SoftHSM2's token directory away, as when a token
// vanishes; back puts it back (and cleanup does, if the test did not).
func hideTokens(t *testing.T, tok *softhsm.Token) (back func()) {
	t.Helper()
	tokens := filepath.Join(tok.Dir, "tokens")
	away := tokens + ".away"
	if err := os.Rename(tokens, away); err != nil {
		t.Fatal(err)
	}
	moved := true
	t.Cleanup(func() {
		if moved {
			_ = os.Rename(away, tokens)
		}
	})
	return func() {
		t.Helper()
		if err := os.Rename(away, tokens); err != nil {
			t.Fatal(err)
		}
		moved = false
	}
}
