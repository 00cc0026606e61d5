//go:build cgo && !nopkcs11

package hsm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/strongroom/strongroom/softhsm"
	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

// openNamed opens tok with openTest and makes sure the master key exists.
func openNamed(t testing.TB, tok *softhsm.Token, mutate func(*Config)) *HSM {
	t.Helper()
	h := openTest(t, tok, mutate)
	if err := h.EnsureKey(context.Background(), true); err != nil {
		t.Fatalf("EnsureKey: %v", err)
	}
	return h
}

func testKey(n int, seed byte) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

// objectsLabelled returns the handles of every object on h's token that
// carries label, whatever its class.
func objectsLabelled(t *testing.T, h *HSM, label string) []pkcs11.ObjectHandle {
	t.Helper()
	return findObjects(t, h, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
}

// generateBehindBack generates a key labelled label on h's token without
// going through the named-key API (nor its cache).
func generateBehindBack(t *testing.T, h *HSM, label string) pkcs11.ObjectHandle {
	t.Helper()
	return generateRawBehindBack(t, h, pkcs11.CKM_AES_KEY_GEN, masterKeyTemplate(label, []byte{7}))
}

// generateRawBehindBack generates a token key with mechanism mech and
// template on h's login session, without going through the named-key API.
func generateRawBehindBack(t *testing.T, h *HSM, mech uint, template []*pkcs11.Attribute) pkcs11.ObjectHandle {
	t.Helper()
	h.lock <- struct{}{}
	defer func() { <-h.lock }()
	st := h.state.Load()
	var obj pkcs11.ObjectHandle
	err := h.mod.call(&h.stats, "test", fnGenerateKey, st.gen, func() (err error) {
		obj, err = h.mod.ctx.GenerateKey(st.login, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, template)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// destroyBehindBack destroys obj without going through the named-key API.
func destroyBehindBack(t *testing.T, h *HSM, obj pkcs11.ObjectHandle) {
	t.Helper()
	h.lock <- struct{}{}
	defer func() { <-h.lock }()
	st := h.state.Load()
	if err := h.mod.call(&h.stats, "test", fnDestroyObject, st.gen, func() error {
		return h.mod.ctx.DestroyObject(st.login, obj)
	}); err != nil {
		t.Fatal(err)
	}
}

// cached returns the handle h caches for label in its current state.
func cached(h *HSM, label string) (pkcs11.ObjectHandle, bool) {
	return h.names.get(h.state.Load(), label)
}

var namedMechanisms = []struct {
	name   string
	mutate func(*Config)
	aad    []byte
}{
	{"AES-GCM", nil, []byte("tenant-a/root")},
	{"AES-GCM no aad", nil, nil},
	{"AES-KWP", func(c *Config) { c.Mechanism = MechanismKWP }, nil},
}

func TestNamedKeyRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, tc := range namedMechanisms {
		t.Run(tc.name, func(t *testing.T) {
			tok := softhsmtest.New(t)
			h := openNamed(t, tok, tc.mutate)
			generateNamed(t, h, "tenant-a", "tenant-b")
			masterBlob, err := h.Wrap(ctx, testKey(32, 1), tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{16, 32} {
				pt := testKey(n, 1)
				blob, err := h.WrapNamed(ctx, "tenant-a", pt, tc.aad)
				if err != nil {
					t.Fatalf("WrapNamed(%d bytes): %v", n, err)
				}
				// The blob format is the master key's.
				if len(blob) != len(masterBlob)-32+n || !bytes.Equal(blob[:2], masterBlob[:2]) {
					t.Fatalf("blob %x does not have the format of Wrap's %x", blob, masterBlob)
				}
				if bytes.Contains(blob, pt) {
					t.Fatal("blob contains the plaintext")
				}
				got, err := h.UnwrapNamed(ctx, "tenant-a", blob, tc.aad)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("UnwrapNamed = %x, %v; want %x", got, err, pt)
				}
				// Under another named key, or the master key: no.
				for name, err := range map[string]error{
					"UnwrapNamed(tenant-b)":    second(h.UnwrapNamed(ctx, "tenant-b", blob, tc.aad)),
					"Unwrap (master)":          second(h.Unwrap(ctx, blob, tc.aad)),
					"UnwrapNamed(master blob)": second(h.UnwrapNamed(ctx, "tenant-a", masterBlob, tc.aad)),
				} {
					if err == nil {
						t.Fatalf("%s succeeded", name)
					}
					if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrKeyNotFound) {
						t.Fatalf("%s = %v: a wrong key is neither a fault nor a missing key", name, err)
					}
				}
				if tc.aad != nil {
					for _, aad := range [][]byte{[]byte("tenant-b/root"), nil} {
						if got, err := h.UnwrapNamed(ctx, "tenant-a", blob, aad); err == nil {
							t.Fatalf("UnwrapNamed with aad %q succeeded: %x", aad, got)
						}
					}
				}
			}
			if tc.mutate != nil { // KWP binds no aad
				if _, err := h.WrapNamed(ctx, "tenant-a", testKey(32, 0), []byte("aad")); !errors.Is(err, ErrInvalid) {
					t.Fatalf("KWP WrapNamed with aad = %v, want ErrInvalid", err)
				}
			}
			if _, err := h.WrapNamed(ctx, "tenant-a", testKey(31, 0), nil); !errors.Is(err, ErrInvalid) {
				t.Fatalf("WrapNamed(31 bytes) = %v, want ErrInvalid", err)
			}
			if s := h.Stats(); s.Recoveries != 0 {
				t.Fatalf("%d recoveries", s.Recoveries)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

// TestNamedKeyAttributes checks that a named key has the master key's
// attributes, with its own label and CKA_ID, whether GenerateNamedKey
// (tenant-1) or CreateNamedKey (tenant-2) made it.
func TestNamedKeyAttributes(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	generateNamed(t, h, "tenant-1")
	if err := h.CreateNamedKey(ctx, "tenant-2"); err != nil {
		t.Fatal(err)
	}
	types := []uint{
		pkcs11.CKA_CLASS, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_VALUE_LEN,
		pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_MODIFIABLE,
		pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP,
		pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY, pkcs11.CKA_DERIVE,
		pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE,
		pkcs11.CKA_LABEL, pkcs11.CKA_ID,
	}
	attrs := func(label string) map[uint]string {
		objs := objectsLabelled(t, h, label)
		if len(objs) != 1 {
			t.Fatalf("%d objects labelled %q", len(objs), label)
		}
		m := map[uint]string{}
		raw(t, h, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) {
			var template []*pkcs11.Attribute
			for _, a := range types {
				template = append(template, pkcs11.NewAttribute(a, nil))
			}
			got, err := ctx.GetAttributeValue(s, objs[0], template)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range got {
				m[a.Type] = string(a.Value)
			}
			_, err = ctx.GetAttributeValue(s, objs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
			if codeOf(err) != 0x11 { // CKR_ATTRIBUTE_SENSITIVE
				t.Errorf("reading CKA_VALUE of %q: %v, want CKR_ATTRIBUTE_SENSITIVE", label, err)
			}
		})
		return m
	}
	master := attrs(testKeyLabel)
	ids := map[string]bool{master[pkcs11.CKA_ID]: true}
	for _, label := range []string{"tenant-1", "tenant-2"} {
		named := attrs(label)
		if named[pkcs11.CKA_LABEL] != label {
			t.Errorf("CKA_LABEL = %q, want %q", named[pkcs11.CKA_LABEL], label)
		}
		if id := named[pkcs11.CKA_ID]; len(id) != 16 || ids[id] {
			t.Errorf("%q: CKA_ID %x is not a fresh 16-byte id", label, id)
		} else {
			ids[id] = true
		}
		for _, a := range types {
			if a != pkcs11.CKA_LABEL && a != pkcs11.CKA_ID && named[a] != master[a] {
				t.Errorf("%q: attribute 0x%X = %x, the master key has %x", label, a, named[a], master[a])
			}
		}
	}
}

// TestNamedKeyBadLabel checks that an empty label and the master key's are
// refused before any PKCS#11 call, and that the master key survives.
func TestNamedKeyBadLabel(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	blob, err := h.Wrap(ctx, testKey(32, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := h.Stats()
	for _, label := range []string{"", testKeyLabel} {
		for name, err := range map[string]error{
			"GenerateNamedKey": h.GenerateNamedKey(ctx, label),
			"CreateNamedKey":   h.CreateNamedKey(ctx, label),
			"WrapNamed":        second(h.WrapNamed(ctx, label, testKey(32, 0), nil)),
			"UnwrapNamed":      second(h.UnwrapNamed(ctx, label, blob, nil)),
			"DestroyNamedKey":  h.DestroyNamedKey(ctx, label),
		} {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s(%q) = %v, want ErrInvalid", name, label, err)
			}
		}
	}
	if d := statsDiff(before, h.Stats()); len(d) != 0 {
		t.Errorf("refused labels made PKCS#11 calls: %v", d)
	}
	if n := len(objectsLabelled(t, h, testKeyLabel)); n != 1 {
		t.Fatalf("%d master keys", n)
	}
	if got, err := h.Unwrap(ctx, blob, nil); err != nil || !bytes.Equal(got, testKey(32, 0)) {
		t.Fatalf("master key no longer unwraps: %v", err)
	}
}

func TestGenerateNamedKeyDuplicate(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	generateNamed(t, h, "tenant-d")
	blob := wrapNamed(t, h, "tenant-d", testKey(32, 4), nil)
	err := h.GenerateNamedKey(ctx, "tenant-d")
	if !errors.Is(err, ErrDuplicateKey) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("second GenerateNamedKey = %v, want ErrDuplicateKey", err)
	}
	if !strings.Contains(err.Error(), `"tenant-d"`) || strings.Contains(err.Error(), "master") {
		t.Errorf("error %q should name the label, and not the master key", err)
	}
	if n := len(objectsLabelled(t, h, "tenant-d")); n != 1 {
		t.Fatalf("%d keys labelled tenant-d, want 1", n)
	}
	if got, err := h.UnwrapNamed(ctx, "tenant-d", blob, nil); err != nil || !bytes.Equal(got, testKey(32, 4)) {
		t.Fatalf("UnwrapNamed after the refused duplicate: %v", err)
	}

	// A second key under the label, made behind the HSM's back: the label is
	// ambiguous, for a fresh lookup, until DestroyNamedKey removes both.
	generateBehindBack(t, h, "tenant-d")
	h.names.reset()
	for name, err := range map[string]error{
		"WrapNamed":   second(h.WrapNamed(ctx, "tenant-d", testKey(32, 0), nil)),
		"UnwrapNamed": second(h.UnwrapNamed(ctx, "tenant-d", blob, nil)),
	} {
		if !errors.Is(err, ErrDuplicateKey) {
			t.Errorf("%s with two keys labelled tenant-d = %v, want ErrDuplicateKey", name, err)
		}
	}
	if err := h.DestroyNamedKey(ctx, "tenant-d"); err != nil {
		t.Fatal(err)
	}
	if n := len(objectsLabelled(t, h, "tenant-d")); n != 0 {
		t.Fatalf("%d objects labelled tenant-d after DestroyNamedKey", n)
	}
	if err := h.GenerateNamedKey(ctx, "tenant-d"); err != nil {
		t.Fatalf("GenerateNamedKey after DestroyNamedKey: %v", err)
	}
}

// TestDestroyNamedKey shreds one tenant: its blobs never open again, in this
// HSM, after Close and Open, nor under a new key of the same label; other
// tenants and the master key are untouched.
func TestDestroyNamedKey(t *testing.T) {
	ctx := context.Background()
	for _, tc := range namedMechanisms {
		t.Run(tc.name, func(t *testing.T) {
			tok := softhsmtest.New(t)
			h := openNamed(t, tok, tc.mutate)
			generateNamed(t, h, "tenant-x", "tenant-y")
			blobX := wrapNamed(t, h, "tenant-x", testKey(32, 1), tc.aad)
			blobY := wrapNamed(t, h, "tenant-y", testKey(32, 2), tc.aad)
			masterBlob, err := h.Wrap(ctx, testKey(32, 3), tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			tokens := filepath.Join(tok.Dir, "tokens")
			files := tokenObjectFiles(t, tokens)

			if err := h.DestroyNamedKey(ctx, "tenant-x"); err != nil {
				t.Fatalf("DestroyNamedKey: %v", err)
			}
			if _, ok := cached(h, "tenant-x"); ok {
				t.Error("the destroyed key's handle is still cached")
			}
			if n := len(objectsLabelled(t, h, "tenant-x")); n != 0 {
				t.Fatalf("%d objects labelled tenant-x after DestroyNamedKey", n)
			}
			if n := tokenObjectFiles(t, tokens); n != files-1 {
				t.Fatalf("%d object files after DestroyNamedKey, was %d", n, files)
			}
			gone := func(h *HSM, when string) {
				t.Helper()
				for name, err := range map[string]error{
					"UnwrapNamed": second(h.UnwrapNamed(ctx, "tenant-x", blobX, tc.aad)),
					"WrapNamed":   second(h.WrapNamed(ctx, "tenant-x", testKey(32, 0), tc.aad)),
				} {
					if !errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrUnavailable) {
						t.Fatalf("%s: %s = %v, want ErrKeyNotFound", when, name, err)
					}
					if !strings.Contains(err.Error(), `"tenant-x"`) || strings.Contains(err.Error(), "master") {
						t.Errorf("%s: error %q should name the label, and not the master key", when, err)
					}
				}
			}
			gone(h, "after DestroyNamedKey")
			// Idempotent, also for a label that never existed.
			for _, label := range []string{"tenant-x", "never-existed"} {
				if err := h.DestroyNamedKey(ctx, label); err != nil {
					t.Fatalf("DestroyNamedKey(%q) again = %v", label, err)
				}
			}
			check := func(h *HSM) {
				t.Helper()
				if got, err := h.UnwrapNamed(ctx, "tenant-y", blobY, tc.aad); err != nil || !bytes.Equal(got, testKey(32, 2)) {
					t.Fatalf("tenant-y: %v", err)
				}
				if got, err := h.Unwrap(ctx, masterBlob, tc.aad); err != nil || !bytes.Equal(got, testKey(32, 3)) {
					t.Fatalf("master key: %v", err)
				}
			}
			check(h)
			if s := h.Stats(); s.Recoveries != 0 {
				t.Fatalf("%d recoveries", s.Recoveries)
			}

			// A fresh Open of the token: still gone.
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			h2 := openTest(t, tok, func(c *Config) {
				c.GenerateKey = false
				if tc.mutate != nil {
					tc.mutate(c)
				}
			})
			gone(h2, "after Close and Open")
			check(h2)
			// A new key under the same label does not open the old blobs.
			if err := h2.GenerateNamedKey(ctx, "tenant-x"); err != nil {
				t.Fatal(err)
			}
			got, err := h2.UnwrapNamed(ctx, "tenant-x", blobX, tc.aad)
			if err == nil {
				t.Fatalf("a new tenant-x key opened the old blob: %x", got)
			}
			t.Logf("old blob under a new key of the same label: %v", err)
		})
	}
}

func TestNamedKeysPersist(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	labels := []string{"persist-1", "persist-2", "persist-3"}
	blobs := map[string][]byte{}
	for i, label := range labels {
		if err := h.GenerateNamedKey(ctx, label); err != nil {
			t.Fatal(err)
		}
		blob, err := h.WrapNamed(ctx, label, testKey(32, byte(i)), []byte(label))
		if err != nil {
			t.Fatal(err)
		}
		blobs[label] = blob
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.UnwrapNamed(ctx, labels[0], blobs[labels[0]], []byte(labels[0])); !errors.Is(err, ErrClosed) {
		t.Fatalf("UnwrapNamed after Close = %v, want ErrClosed", err)
	}
	h2 := openTest(t, tok, func(c *Config) { c.GenerateKey = false })
	for i, label := range labels {
		got, err := h2.UnwrapNamed(ctx, label, blobs[label], []byte(label))
		if err != nil || !bytes.Equal(got, testKey(32, byte(i))) {
			t.Fatalf("UnwrapNamed(%q) after reopening: %x, %v", label, got, err)
		}
	}
	if n := h2.Stats().Calls["C_GenerateKey"]; n != 0 {
		t.Fatalf("the reopened HSM generated %d keys", n)
	}
}

// TestNamedKeyStats pins the PKCS#11 calls of the named-key operations.
func TestNamedKeyStats(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	if _, err := h.Wrap(ctx, testKey(32, 0), nil); err != nil { // opens the pooled session
		t.Fatal(err)
	}
	var blob []byte
	search := map[string]uint64{"C_FindObjectsInit": 1, "C_FindObjects": 1, "C_FindObjectsFinal": 1}
	plus := func(a map[string]uint64, b map[string]uint64) map[string]uint64 {
		m := maps.Clone(a)
		for k, v := range b {
			m[k] += v
		}
		return m
	}
	for _, step := range []struct {
		name string
		f    func() error
		want map[string]uint64
	}{
		{"GenerateNamedKey", func() error { return h.GenerateNamedKey(ctx, "stats") },
			plus(search, map[string]uint64{"C_GetAttributeValue": 1, "C_GenerateKey": 1})},
		{"WrapNamed, handle cached by GenerateNamedKey", func() (err error) { blob, err = h.WrapNamed(ctx, "stats", testKey(32, 0), nil); return err },
			map[string]uint64{"C_GetAttributeValue": 1, "C_EncryptInit": 1, "C_Encrypt": 1}},
		{"UnwrapNamed, cached", func() error { return second(h.UnwrapNamed(ctx, "stats", blob, nil)) },
			map[string]uint64{"C_DecryptInit": 1, "C_Decrypt": 1}},
		{"UnwrapNamed, cold", func() error { h.names.reset(); return second(h.UnwrapNamed(ctx, "stats", blob, nil)) },
			plus(search, map[string]uint64{"C_GetAttributeValue": 1, "C_DecryptInit": 1, "C_Decrypt": 1})},
		{"UnwrapNamed, no such key", func() error {
			if err := second(h.UnwrapNamed(ctx, "absent", blob, nil)); !errors.Is(err, ErrKeyNotFound) {
				return fmt.Errorf("got %v, want ErrKeyNotFound", err)
			}
			return nil
		}, plus(search, map[string]uint64{"C_GetAttributeValue": 1, "C_CloseSession": 1})}, // a failed call's session is closed
		{"DestroyNamedKey", func() error { return h.DestroyNamedKey(ctx, "stats") },
			plus(search, map[string]uint64{"C_FindObjects": 1, "C_DestroyObject": 1})},
		{"DestroyNamedKey, none", func() error { return h.DestroyNamedKey(ctx, "stats") },
			plus(search, map[string]uint64{"C_GetAttributeValue": 1})},
		// No search: the master key check and the generation.
		{"CreateNamedKey", func() error { return h.CreateNamedKey(ctx, "stats-created") },
			map[string]uint64{"C_GetAttributeValue": 1, "C_GenerateKey": 1}},
		// The pooled session closed after the failed lookup is replaced.
		{"WrapNamed, handle cached by CreateNamedKey", func() (err error) { blob, err = h.WrapNamed(ctx, "stats-created", testKey(32, 0), nil); return err },
			map[string]uint64{"C_OpenSession": 1, "C_GetAttributeValue": 1, "C_EncryptInit": 1, "C_Encrypt": 1}},
		// The token holds the master key and stats-created: one pass, one
		// C_GetAttributeValue per key.
		{"IndexNamedKeys", func() error {
			h.names.reset()
			if n, err := h.IndexNamedKeys(ctx, "stats"); n != 1 || err != nil {
				return fmt.Errorf("got %d, %v; want 1 label", n, err)
			}
			return nil
		}, plus(search, map[string]uint64{"C_FindObjects": 1, "C_GetAttributeValue": 2})},
		{"UnwrapNamed, indexed", func() error { return second(h.UnwrapNamed(ctx, "stats-created", blob, nil)) },
			map[string]uint64{"C_DecryptInit": 1, "C_Decrypt": 1}},
	} {
		before := h.Stats()
		if err := step.f(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if d := statsDiff(before, h.Stats()); !maps.Equal(d, step.want) {
			t.Errorf("%s made %v, want %v", step.name, d, step.want)
		}
	}
	if s := h.Stats(); len(s.Errors) != 0 {
		t.Errorf("errors: %v", s.Errors)
	}
}

// TestNamedKeyStaleHandle makes the cached handle of a named key wrong in
// the ways the token can: a handle the module no longer knows, a handle of
// another key, a key destroyed or replaced behind the HSM's back. The
// handle is looked up again once; none of it is a fault.
func TestNamedKeyStaleHandle(t *testing.T) {
	ctx := context.Background()
	for _, tc := range namedMechanisms {
		t.Run(tc.name, func(t *testing.T) {
			tok := softhsmtest.New(t)
			h := openNamed(t, tok, tc.mutate)
			generateNamed(t, h, "tenant-s", "tenant-o")
			blob := wrapNamed(t, h, "tenant-s", testKey(32, 5), tc.aad)
			good, _ := cached(h, "tenant-s")
			other, _ := cached(h, "tenant-o")
			setCache := func(key pkcs11.ObjectHandle) {
				h.names.put(h.state.Load(), "tenant-s", key, h.names.version())
			}
			unwrapOK := func(step string) {
				t.Helper()
				got, err := h.UnwrapNamed(ctx, "tenant-s", blob, tc.aad)
				if err != nil || !bytes.Equal(got, testKey(32, 5)) {
					t.Fatalf("%s: UnwrapNamed = %v", step, err)
				}
			}

			// A handle the module does not know: the operation fails once
			// with a handle error, then succeeds after a search.
			const bogus = pkcs11.ObjectHandle(0xDEAD)
			for _, op := range []string{"unwrap", "wrap"} {
				setCache(bogus)
				before := h.Stats()
				if op == "unwrap" {
					unwrapOK("bogus handle")
				} else if _, err := h.WrapNamed(ctx, "tenant-s", testKey(32, 0), tc.aad); err != nil {
					t.Fatalf("bogus handle: WrapNamed = %v", err)
				}
				after := h.Stats()
				t.Logf("%s with a bogus cached handle: errors %v", op, statsErrDiff(before, after))
				if n := sum(statsErrDiff(before, after)); n != 1 {
					t.Errorf("%s with a bogus cached handle: %d failed calls, want 1", op, n)
				}
				if key, _ := cached(h, "tenant-s"); key != good {
					t.Errorf("%s: cached handle %d, want %d", op, key, good)
				}
			}

			// Another key's handle, as a module that reuses handles may
			// give: a wrap checks the label and looks the key up.
			setCache(other)
			blob2 := wrapNamed(t, h, "tenant-s", testKey(32, 6), tc.aad)
			if got, err := h.UnwrapNamed(ctx, "tenant-s", blob2, tc.aad); err != nil || !bytes.Equal(got, testKey(32, 6)) {
				t.Fatalf("a wrap with another key's cached handle went astray: %v", err)
			}
			if _, err := h.UnwrapNamed(ctx, "tenant-o", blob2, tc.aad); err == nil {
				t.Fatal("the blob opened under the key whose handle was cached")
			}

			// Replaced behind the HSM's back: the new key is found.
			destroyBehindBack(t, h, good)
			fresh := generateBehindBack(t, h, "tenant-s")
			before := h.Stats()
			blob3, err := h.WrapNamed(ctx, "tenant-s", testKey(32, 7), tc.aad)
			if err != nil {
				t.Fatalf("WrapNamed after the key was replaced: %v", err)
			}
			if key, _ := cached(h, "tenant-s"); key != fresh {
				t.Errorf("cached handle %d, want the new key's %d", key, fresh)
			}
			blob = blob3
			h.names.put(h.state.Load(), "tenant-s", good, h.names.version()) // the old, destroyed handle
			got, err := h.UnwrapNamed(ctx, "tenant-s", blob3, tc.aad)
			if err != nil || !bytes.Equal(got, testKey(32, 7)) {
				t.Fatalf("UnwrapNamed with the destroyed key's handle cached: %v", err)
			}

			// Destroyed behind the HSM's back: ErrKeyNotFound, not a fault.
			destroyBehindBack(t, h, fresh)
			if _, err := h.UnwrapNamed(ctx, "tenant-s", blob3, tc.aad); !errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("UnwrapNamed after the key was destroyed behind the back = %v, want ErrKeyNotFound", err)
			}
			if s := h.Stats(); s.Recoveries != before.Recoveries || s.Recoveries != 0 {
				t.Fatalf("%d recoveries", s.Recoveries)
			}
		})
	}
}

func statsErrDiff(before, after Stats) map[string]uint64 {
	d := map[string]uint64{}
	for k, v := range after.Errors {
		if n := v - before.Errors[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// TestNamedKeyCacheFollowsState re-initializes the module through another
// HSM: the cached handles of the old generation must never reach the
// module (they may name other objects now).
func TestNamedKeyCacheFollowsState(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	a := openNamed(t, tok, nil)
	b := openNamed(t, tok, nil)
	if err := a.GenerateNamedKey(ctx, "tenant-g"); err != nil {
		t.Fatal(err)
	}
	blob, err := a.WrapNamed(ctx, "tenant-g", testKey(32, 8), nil)
	if err != nil {
		t.Fatal(err)
	}
	oldGen := a.state.Load().gen
	if _, ok := cached(a, "tenant-g"); !ok {
		t.Fatal("not cached")
	}
	if did, err := b.mod.reinit(&b.stats, "test", oldGen); !did || err != nil {
		t.Fatalf("reinit = %v, %v", did, err)
	}
	before := a.Stats()
	got, err := a.UnwrapNamed(ctx, "tenant-g", blob, nil)
	if err != nil || !bytes.Equal(got, testKey(32, 8)) {
		t.Fatalf("UnwrapNamed after re-initialization: %v", err)
	}
	after := a.Stats()
	if d := statsErrDiff(before, after); len(d) != 0 {
		t.Errorf("stale handles reached the module: %v", d)
	}
	if d := statsDiff(before, after); d["C_FindObjectsInit"] != 2 { // the master key, then tenant-g
		t.Errorf("after re-initialization: %v, want the master key and the named key searched again", d)
	}
	if a.state.Load().gen == oldGen || a.names.gen != a.state.Load().gen {
		t.Errorf("cache generation %d, state %d, old %d", a.names.gen, a.state.Load().gen, oldGen)
	}
}

// TestNamedCache tests the handle cache alone.
func TestNamedCache(t *testing.T) {
	c := namedCache{limit: 3}
	st1 := &state{gen: 1, epoch: 1}
	v := c.version()
	for i, label := range []string{"a", "b", "c"} {
		c.put(st1, label, pkcs11.ObjectHandle(i+1), v)
	}
	c.get(st1, "a") // a is now the most recent, b the least
	c.put(st1, "d", 4, v)
	if _, ok := c.get(st1, "b"); ok {
		t.Error("b was not evicted")
	}
	for label, want := range map[string]pkcs11.ObjectHandle{"a": 1, "c": 3, "d": 4} {
		if got, ok := c.get(st1, label); !ok || got != want {
			t.Errorf("get(%q) = %d, %v; want %d", label, got, ok, want)
		}
	}
	if c.len() != 3 {
		t.Errorf("len = %d", c.len())
	}

	// Another state sees nothing; an older one cannot store.
	st2 := &state{gen: 1, epoch: 2}
	if _, ok := c.get(st2, "a"); ok {
		t.Error("a handle of epoch 1 was returned in epoch 2")
	}
	if _, ok := c.get(&state{gen: 2, epoch: 1}, "a"); ok {
		t.Error("a handle of generation 1 was returned in generation 2")
	}
	c.put(st2, "e", 5, v)
	if c.len() != 1 {
		t.Errorf("a newer state did not empty the cache: len %d", c.len())
	}
	c.put(st1, "f", 6, v)
	if _, ok := c.get(st1, "f"); ok {
		t.Error("an older state stored a handle")
	}

	// forget removes only the handle it names.
	c.forget("e", 9)
	if _, ok := c.get(st2, "e"); !ok {
		t.Error("forget removed another handle")
	}
	c.forget("e", 5)
	if _, ok := c.get(st2, "e"); ok {
		t.Error("forget did not remove the handle")
	}

	// A drop keeps searches that began before it from storing.
	c.put(st2, "g", 7, v)
	c.drop("g")
	if _, ok := c.get(st2, "g"); ok {
		t.Error("drop did not remove the handle")
	}
	c.put(st2, "g", 7, v)
	if _, ok := c.get(st2, "g"); ok {
		t.Error("a search that began before the drop stored its handle")
	}
	c.put(st2, "g", 8, c.version())
	if got, ok := c.get(st2, "g"); !ok || got != 8 {
		t.Error("a search that began after the drop did not store its handle")
	}

	var zero namedCache
	zero.put(st1, "x", 1, zero.version())
	if got, ok := zero.get(st1, "x"); !ok || got != 1 {
		t.Error("the zero cache does not work")
	}
}

// TestNamedKeysTokenVanishes moves SoftHSM2's token directory away, which
// makes searches find nothing: no named-key operation may take that for a
// missing key (ErrKeyNotFound, or nil from DestroyNamedKey), and nothing is
// generated. Each operation is the first to meet the vanished token.
func TestNamedKeysTokenVanishes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		op   func(h *HSM, blob []byte) error
	}{
		{"UnwrapNamed cached", func(h *HSM, blob []byte) error { return second(h.UnwrapNamed(ctx, "hot", blob, nil)) }},
		{"UnwrapNamed cold", func(h *HSM, blob []byte) error { return second(h.UnwrapNamed(ctx, "cold", blob, nil)) }},
		{"WrapNamed cached", func(h *HSM, _ []byte) error { return second(h.WrapNamed(ctx, "hot", testKey(32, 0), nil)) }},
		{"WrapNamed absent", func(h *HSM, _ []byte) error { return second(h.WrapNamed(ctx, "absent", testKey(32, 0), nil)) }},
		{"DestroyNamedKey", func(h *HSM, _ []byte) error { return h.DestroyNamedKey(ctx, "hot") }},
		{"DestroyNamedKey absent", func(h *HSM, _ []byte) error { return h.DestroyNamedKey(ctx, "absent") }},
		{"GenerateNamedKey", func(h *HSM, _ []byte) error { return h.GenerateNamedKey(ctx, "absent") }},
		{"CreateNamedKey", func(h *HSM, _ []byte) error { return h.CreateNamedKey(ctx, "absent") }},
		{"IndexNamedKeys", func(h *HSM, _ []byte) error { return second(h.IndexNamedKeys(ctx, "")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := softhsmtest.New(t)
			h := openNamed(t, tok, nil)
			blobs := map[string][]byte{}
			for _, label := range []string{"hot", "cold"} {
				if err := h.GenerateNamedKey(ctx, label); err != nil {
					t.Fatal(err)
				}
				blob, err := h.WrapNamed(ctx, label, testKey(32, 1), nil)
				if err != nil {
					t.Fatal(err)
				}
				blobs[label] = blob
			}
			coldKey, _ := cached(h, "cold")
			h.names.forget("cold", coldKey)
			if _, ok := cached(h, "hot"); !ok {
				t.Fatal("hot is not cached")
			}
			if _, ok := cached(h, "cold"); ok {
				t.Fatal("cold is cached")
			}
			generated := h.Stats().Calls["C_GenerateKey"]

			back := hideTokens(t, tok)
			blob := blobs["hot"]
			if strings.Contains(tc.name, "cold") {
				blob = blobs["cold"]
			}
			err := tc.op(h, blob)
			t.Logf("token gone: %v", err)
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrKeyNotFound) {
				t.Fatalf("%s with the token gone = %v, want ErrUnavailable and not ErrKeyNotFound", tc.name, err)
			}
			if n := h.Stats().Calls["C_GenerateKey"]; n != generated {
				t.Fatal("a key was generated while the token was gone")
			}

			back()
			for _, label := range []string{"hot", "cold"} {
				var got []byte
				eventually(t, func() (err error) { got, err = h.UnwrapNamed(ctx, label, blobs[label], nil); return err })
				if !bytes.Equal(got, testKey(32, 1)) {
					t.Fatal("wrong plaintext")
				}
			}
			if n := len(objectsLabelled(t, h, "absent")); n != 0 {
				t.Fatalf("%d objects labelled absent", n)
			}
		})
	}
}

// TestNamedKeysNeedMasterKey checks that, without a master key, named-key
// operations fail with an error that does not read as news about the named
// key, and work once the master key exists.
func TestNamedKeysNeedMasterKey(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openTest(t, tok, func(c *Config) { c.GenerateKey = false })
	blob := append([]byte{blobVersion, byte(MechanismAESGCM)}, make([]byte, gcmIVLen+32+gcmTagLen)...)
	for name, err := range map[string]error{
		"GenerateNamedKey": h.GenerateNamedKey(ctx, "tenant-m"),
		"CreateNamedKey":   h.CreateNamedKey(ctx, "tenant-m"),
		"IndexNamedKeys":   second(h.IndexNamedKeys(ctx, "")),
		"WrapNamed":        second(h.WrapNamed(ctx, "tenant-m", testKey(32, 0), nil)),
		"UnwrapNamed":      second(h.UnwrapNamed(ctx, "tenant-m", blob, nil)),
		"DestroyNamedKey":  h.DestroyNamedKey(ctx, "tenant-m"),
	} {
		t.Logf("%s without a master key: %v", name, err)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrKeyNotFound) {
			t.Errorf("%s without a master key = %v, want ErrUnavailable and not ErrKeyNotFound", name, err)
		}
	}
	if n := len(secretKeys(t, h)); n != 0 {
		t.Fatalf("%d keys on the token", n)
	}
	openNamed(t, tok, nil) // generates the master key
	if err := h.GenerateNamedKey(ctx, "tenant-m"); err != nil {
		t.Fatalf("GenerateNamedKey once the master key exists: %v", err)
	}
}

// TestNamedKeysConcurrent runs WrapNamed and UnwrapNamed on several labels
// from many goroutines on a small pool, while other goroutines generate
// and destroy other labels, empty the handle cache and index the token.
func TestNamedKeysConcurrent(t *testing.T) {
	ctx := context.Background()
	const workers, rounds, labels, sessions = 16, 30, 6, 4
	for _, tc := range namedMechanisms {
		if tc.name == "AES-GCM no aad" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			tok := softhsmtest.New(t)
			h := openNamed(t, tok, func(c *Config) {
				c.MaxSessions = sessions
				if tc.mutate != nil {
					tc.mutate(c)
				}
			})
			for l := range labels {
				if err := h.GenerateNamedKey(ctx, fmt.Sprintf("tenant-%d", l)); err != nil {
					t.Fatal(err)
				}
			}
			errs := make(chan error, workers+3)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for r := range rounds {
						label := fmt.Sprintf("tenant-%d", (w+r)%labels)
						pt := testKey(16+16*(r%2), byte(w*rounds+r))
						var aad []byte
						if tc.aad != nil {
							aad = fmt.Appendf(nil, "%s/w%d/r%d", label, w, r)
						}
						blob, err := h.WrapNamed(ctx, label, pt, aad)
						if err != nil {
							errs <- fmt.Errorf("worker %d round %d: WrapNamed: %w", w, r, err)
							return
						}
						got, err := h.UnwrapNamed(ctx, label, blob, aad)
						if err != nil {
							errs <- fmt.Errorf("worker %d round %d: UnwrapNamed: %w", w, r, err)
							return
						}
						if !bytes.Equal(got, pt) {
							errs <- fmt.Errorf("worker %d round %d: got %x want %x", w, r, got, pt)
							return
						}
					}
				})
			}
			done := make(chan struct{})
			var churn sync.WaitGroup
			churn.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-done:
						return
					default:
					}
					label := fmt.Sprintf("churn-%d", i)
					generate := h.GenerateNamedKey
					if i%2 == 1 {
						generate = h.CreateNamedKey
					}
					if err := generate(ctx, label); err != nil {
						errs <- fmt.Errorf("churn: generating %s: %w", label, err)
						return
					}
					if _, err := h.WrapNamed(ctx, label, testKey(32, 0), nil); err != nil {
						errs <- fmt.Errorf("churn: WrapNamed: %w", err)
						return
					}
					if err := h.DestroyNamedKey(ctx, label); err != nil {
						errs <- fmt.Errorf("churn: DestroyNamedKey: %w", err)
						return
					}
				}
			})
			churn.Go(func() {
				for {
					select {
					case <-done:
						return
					case <-time.After(5 * time.Millisecond):
						h.names.reset()
					}
				}
			})
			churn.Go(func() {
				for {
					select {
					case <-done:
						return
					case <-time.After(3 * time.Millisecond):
						if _, err := h.IndexNamedKeys(ctx, ""); err != nil {
							errs <- fmt.Errorf("IndexNamedKeys: %w", err)
							return
						}
					}
				}
			})
			wg.Wait()
			close(done)
			churn.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			s := h.Stats()
			if len(s.Errors) != 0 || s.Recoveries != 0 {
				t.Errorf("errors %v, recoveries %d", s.Errors, s.Recoveries)
			}
			if n := s.Calls["C_OpenSession"]; n > sessions+1 {
				t.Errorf("%d C_OpenSession calls for a pool of %d", n, sessions)
			}
			t.Logf("stats: %d calls, %v in PKCS#11, %v", s.Total(), s.CallTime, s.Calls)
		})
	}
}

// TestGenerateNamedKeyDuringSearches generates keys (GenerateNamedKey and
// CreateNamedKey in turn) while other goroutines look named keys up (cold
// cache). SoftHSM2 2.6.1 fails about one C_GenerateKey in five with
// CKR_GENERAL_ERROR when a search runs at the same time (see
// module.objects).
func TestGenerateNamedKeyDuringSearches(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	generateNamed(t, h, "searched")
	blob := wrapNamed(t, h, "searched", testKey(32, 0), nil)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				h.names.reset()
				if _, err := h.UnwrapNamed(ctx, "searched", blob, nil); err != nil {
					t.Errorf("UnwrapNamed: %v", err)
					return
				}
			}
		})
	}
	const n = 40
	failed := 0
	for i := range n {
		generate, name := h.GenerateNamedKey, "GenerateNamedKey"
		if i%2 == 1 {
			generate, name = h.CreateNamedKey, "CreateNamedKey"
		}
		if err := generate(ctx, fmt.Sprintf("during-%d", i)); err != nil {
			failed++
			t.Errorf("%s %d: %v", name, i, err)
		}
	}
	close(done)
	wg.Wait()
	if failed > 0 {
		t.Fatalf("%d of %d generations failed", failed, n)
	}
	t.Logf("searches meanwhile: %d", h.Stats().Calls["C_FindObjectsInit"])
}

// TestCreateNamedKey makes keys without a duplicate search: they work, are
// cached, persist, and a label that does exist ends up ambiguous, as
// documented.
func TestCreateNamedKey(t *testing.T) {
	ctx := context.Background()
	for _, tc := range namedMechanisms {
		t.Run(tc.name, func(t *testing.T) {
			tok := softhsmtest.New(t)
			h := openNamed(t, tok, tc.mutate)
			blobs := map[string][]byte{}
			for i, label := range []string{"created/1", "created/2"} {
				before := h.Stats()
				if err := h.CreateNamedKey(ctx, label); err != nil {
					t.Fatalf("CreateNamedKey(%q): %v", label, err)
				}
				if d := statsDiff(before, h.Stats()); d["C_FindObjectsInit"] != 0 || d["C_GenerateKey"] != 1 {
					t.Errorf("CreateNamedKey made %v: no search, one C_GenerateKey", d)
				}
				objs := objectsLabelled(t, h, label)
				if len(objs) != 1 {
					t.Fatalf("%d objects labelled %q", len(objs), label)
				}
				if key, ok := cached(h, label); !ok || key != objs[0] {
					t.Fatalf("cached %d, %v; want the new key %d", key, ok, objs[0])
				}
				blob, err := h.WrapNamed(ctx, label, testKey(32, byte(i)), tc.aad)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := h.UnwrapNamed(ctx, label, blob, tc.aad); err != nil || !bytes.Equal(got, testKey(32, byte(i))) {
					t.Fatalf("UnwrapNamed(%q) = %x, %v", label, got, err)
				}
				blobs[label] = blob
			}
			if _, err := h.UnwrapNamed(ctx, "created/2", blobs["created/1"], tc.aad); err == nil {
				t.Fatal("a blob opened under another created key")
			}

			// The caller's promise broken: two keys, and a lookup says so.
			if err := h.CreateNamedKey(ctx, "created/1"); err != nil {
				t.Fatalf("CreateNamedKey of an existing label: %v", err)
			}
			if n := len(objectsLabelled(t, h, "created/1")); n != 2 {
				t.Fatalf("%d keys labelled created/1, want 2", n)
			}
			h.names.reset()
			if _, err := h.UnwrapNamed(ctx, "created/1", blobs["created/1"], tc.aad); !errors.Is(err, ErrDuplicateKey) {
				t.Fatalf("UnwrapNamed of a label created twice = %v, want ErrDuplicateKey", err)
			}

			// Persisted: a fresh Open reads created/2's blob.
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			h2 := openTest(t, tok, func(c *Config) {
				c.GenerateKey = false
				if tc.mutate != nil {
					tc.mutate(c)
				}
			})
			if got, err := h2.UnwrapNamed(ctx, "created/2", blobs["created/2"], tc.aad); err != nil || !bytes.Equal(got, testKey(32, 1)) {
				t.Fatalf("UnwrapNamed after Close and Open = %x, %v", got, err)
			}
			if s := h2.Stats(); len(s.Errors) != 0 || s.Recoveries != 0 {
				t.Errorf("errors %v, recoveries %d", s.Errors, s.Recoveries)
			}
		})
	}
}

// readerFunc is an io.Reader.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestCreateNamedKeyRetry makes C_GenerateKey fail with a fault (the
// sessions closed behind the HSM's back, just before the call): the
// operation recovers and retries, and never leaves two keys under the
// label, whether the failed call had made the key or not.
func TestCreateNamedKeyRetry(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		made    bool // the failed C_GenerateKey made the key all the same
		creates uint64
	}{
		{"key not made", false, 2},
		{"key made", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := softhsmtest.New(t)
			h := openNamed(t, tok, nil)
			const label = "retried"
			madeID := []byte("made-by-the-failed-call")
			armed := true
			// The key id is drawn between the master key check and
			// C_GenerateKey, with h.lock held.
			h.random = readerFunc(func(p []byte) (int, error) {
				if armed {
					armed = false
					st := h.state.Load()
					if tc.made {
						_, err := h.mod.ctx.GenerateKey(st.login, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)},
							masterKeyTemplate(label, madeID))
						if err != nil {
							t.Errorf("GenerateKey: %v", err)
						}
					}
					if err := h.mod.ctx.CloseAllSessions(st.slot); err != nil {
						t.Errorf("CloseAllSessions: %v", err)
					}
				}
				return rand.Read(p)
			})
			before := h.Stats()
			if err := h.CreateNamedKey(ctx, label); err != nil {
				t.Fatalf("CreateNamedKey: %v", err)
			}
			after := h.Stats()
			d := statsDiff(before, after)
			t.Logf("calls %v, errors %v", d, statsErrDiff(before, after))
			if armed || d["C_GenerateKey"] != tc.creates || statsErrDiff(before, after)["C_GenerateKey"] != 1 {
				t.Errorf("%d C_GenerateKey calls, want %d, the first failed", d["C_GenerateKey"], tc.creates)
			}
			if d["C_FindObjectsInit"] != 2 { // the master key, then label, after the recovery
				t.Errorf("%d searches, want 2", d["C_FindObjectsInit"])
			}
			if after.Recoveries != 1 {
				t.Errorf("%d recoveries", after.Recoveries)
			}
			objs := objectsLabelled(t, h, label)
			if len(objs) != 1 {
				t.Fatalf("%d keys labelled %q, want 1", len(objs), label)
			}
			raw(t, h, func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle) {
				attrs, err := ctx.GetAttributeValue(s, objs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
				if err != nil {
					t.Fatal(err)
				}
				if made := bytes.Equal(attrs[0].Value, madeID); made != tc.made {
					t.Errorf("the key is the one the failed call made: %v, want %v", made, tc.made)
				}
			})
			if key, ok := cached(h, label); !ok || key != objs[0] {
				t.Errorf("cached %d, %v; want %d", key, ok, objs[0])
			}
			blob, err := h.WrapNamed(ctx, label, testKey(32, 0), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := h.UnwrapNamed(ctx, label, blob, nil); err != nil || !bytes.Equal(got, testKey(32, 0)) {
				t.Fatalf("UnwrapNamed = %v", err)
			}
		})
	}
}

// TestIndexNamedKeys indexes a token holding keys under two prefixes: only
// the labels with the prefix are cached, never the master key's, and after
// Close and Open a fresh HSM's first WrapNamed and UnwrapNamed of an
// indexed label make no search.
func TestIndexNamedKeys(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	// The master key's label, strongroom-master, has the prefix too.
	const prefix = "strongroom-"
	mine := []string{"strongroom-master/tenant/1/a1", "strongroom-master/tenant/2/b2", "strongroom-master/tenant/3/c3"}
	other := "other/tenant/4/d4"
	blobs := map[string][]byte{}
	for i, label := range append(mine, other) {
		createNamed(t, h, label)
		blobs[label] = wrapNamed(t, h, label, testKey(32, byte(i)), []byte(label))
	}
	indexed := func(h *HSM, want ...string) {
		t.Helper()
		if n := h.names.len(); n != len(want) {
			t.Errorf("%d labels cached, want %d", n, len(want))
		}
		for _, label := range want {
			objs := objectsLabelled(t, h, label)
			if key, ok := cached(h, label); !ok || len(objs) != 1 || key != objs[0] {
				t.Errorf("%q: cached %d, %v; the token has %v", label, key, ok, objs)
			}
		}
	}

	h.names.reset()
	before := h.Stats()
	n, err := h.IndexNamedKeys(ctx, prefix)
	if err != nil || n != len(mine) {
		t.Fatalf("IndexNamedKeys = %d, %v; want %d", n, err, len(mine))
	}
	// Five secret keys: one search, one C_GetAttributeValue each.
	want := map[string]uint64{"C_FindObjectsInit": 1, "C_FindObjects": 2, "C_FindObjectsFinal": 1, "C_GetAttributeValue": 5}
	if d := statsDiff(before, h.Stats()); !maps.Equal(d, want) {
		t.Errorf("IndexNamedKeys made %v, want %v", d, want)
	}
	indexed(h, mine...)
	if _, ok := cached(h, testKeyLabel); ok {
		t.Error("the master key's label is cached")
	}
	// Again, and with every prefix: what is cached stays, the rest joins.
	mustIndex(t, h, prefix, len(mine))
	mustIndex(t, h, "", len(mine)+1)
	indexed(h, append(mine, other)...)
	mustIndex(t, h, "nothing/", 0)

	// A restart: the module is finalized and initialized again.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openTest(t, tok, func(c *Config) { c.GenerateKey = false })
	if err := h2.Ping(ctx); err != nil { // opens the pooled session
		t.Fatal(err)
	}
	mustIndex(t, h2, prefix, len(mine))
	indexed(h2, mine...)
	for i, label := range mine {
		before := h2.Stats()
		got, err := h2.UnwrapNamed(ctx, label, blobs[label], []byte(label))
		if err != nil || !bytes.Equal(got, testKey(32, byte(i))) {
			t.Fatalf("UnwrapNamed(%q) = %x, %v", label, got, err)
		}
		if d := statsDiff(before, h2.Stats()); !maps.Equal(d, map[string]uint64{"C_DecryptInit": 1, "C_Decrypt": 1}) {
			t.Errorf("first UnwrapNamed(%q) after the index made %v, want no search", label, d)
		}
	}
	before = h2.Stats()
	if _, err := h2.WrapNamed(ctx, mine[0], testKey(32, 0), nil); err != nil {
		t.Fatal(err)
	}
	if d := statsDiff(before, h2.Stats()); !maps.Equal(d, map[string]uint64{"C_GetAttributeValue": 1, "C_EncryptInit": 1, "C_Encrypt": 1}) {
		t.Errorf("WrapNamed after the index made %v, want no search", d)
	}
	// A label without the prefix was not indexed: it is searched.
	before = h2.Stats()
	if got, err := h2.UnwrapNamed(ctx, other, blobs[other], []byte(other)); err != nil || !bytes.Equal(got, testKey(32, 3)) {
		t.Fatalf("UnwrapNamed(%q) = %v", other, err)
	}
	if d := statsDiff(before, h2.Stats()); d["C_FindObjectsInit"] != 1 {
		t.Errorf("UnwrapNamed of a label not indexed made %v, want a search", d)
	}
	if s := h2.Stats(); len(s.Errors) != 0 || s.Recoveries != 0 {
		t.Errorf("errors %v, recoveries %d", s.Errors, s.Recoveries)
	}
}

// TestIndexNamedKeysSkips puts keys that a lookup refuses under the prefix:
// a label on two AES-256 keys, a label on an AES-256 and a DES3 key (which
// has no CKA_VALUE_LEN), an AES-128 key. None is cached, and their use
// reports what a lookup finds.
func TestIndexNamedKeysSkips(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	createNamed(t, h, "idx/ok", "idx/dup", "idx/mixed")
	generateBehindBack(t, h, "idx/dup")
	generateRawBehindBack(t, h, pkcs11.CKM_DES3_KEY_GEN, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_DES3),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "idx/mixed"),
	})
	short := masterKeyTemplate("idx/short", []byte{8})
	for i, a := range short {
		if a.Type == pkcs11.CKA_VALUE_LEN {
			short[i] = pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 16)
		}
	}
	generateRawBehindBack(t, h, pkcs11.CKM_AES_KEY_GEN, short)

	h.names.reset()
	before := h.Stats()
	n, err := h.IndexNamedKeys(ctx, "idx/")
	if err != nil || n != 1 {
		t.Fatalf("IndexNamedKeys = %d, %v; want 1 (idx/ok)", n, err)
	}
	after := h.Stats()
	// Seven secret keys, and the DES3 key's label read again alone.
	if d := statsDiff(before, after); d["C_GetAttributeValue"] != 8 || d["C_FindObjectsInit"] != 1 {
		t.Errorf("IndexNamedKeys made %v, want one search and 8 C_GetAttributeValue", d)
	}
	if d := statsErrDiff(before, after); !maps.Equal(d, map[string]uint64{"C_GetAttributeValue": 1}) {
		t.Errorf("failed calls %v, want the DES3 key's first C_GetAttributeValue", d)
	}
	if h.names.len() != 1 {
		t.Errorf("%d labels cached", h.names.len())
	}
	if _, ok := cached(h, "idx/ok"); !ok {
		t.Error("idx/ok is not cached")
	}
	for label, want := range map[string]error{"idx/dup": ErrDuplicateKey, "idx/mixed": ErrDuplicateKey, "idx/short": ErrKeyUnsuitable} {
		if _, err := h.WrapNamed(ctx, label, testKey(32, 0), nil); !errors.Is(err, want) || errors.Is(err, ErrUnavailable) {
			t.Errorf("WrapNamed(%q) after the index = %v, want %v", label, err, want)
		}
	}
	if s := h.Stats(); s.Recoveries != 0 {
		t.Errorf("%d recoveries", s.Recoveries)
	}
}

// mustIndex runs IndexNamedKeys(prefix) on h and fails the test unless it
// indexed want keys.
func mustIndex(t *testing.T, h *HSM, prefix string, want int) {
	t.Helper()
	if n, err := h.IndexNamedKeys(context.Background(), prefix); err != nil || n != want {
		t.Fatalf("IndexNamedKeys(%q) = %d, %v; want %d", prefix, n, err, want)
	}
}

// TestIndexNamedKeysDestroy checks that a key destroyed after an index, or
// while an index runs, is never served from it.
func TestIndexNamedKeysDestroy(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	h := openNamed(t, tok, nil)
	blobs := map[string][]byte{}
	create := func(label string) {
		t.Helper()
		createNamed(t, h, label)
		blobs[label] = wrapNamed(t, h, label, testKey(32, 0), nil)
	}
	gone := func(label string) {
		t.Helper()
		if key, ok := cached(h, label); ok {
			t.Fatalf("%q: the destroyed key's handle %d is cached", label, key)
		}
		if _, err := h.UnwrapNamed(ctx, label, blobs[label], nil); !errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("UnwrapNamed(%q) after DestroyNamedKey = %v, want ErrKeyNotFound", label, err)
		}
	}
	create("kept")
	create("destroyed")
	h.names.reset()
	mustIndex(t, h, "", 2)
	if err := h.DestroyNamedKey(ctx, "destroyed"); err != nil {
		t.Fatal(err)
	}
	gone("destroyed")
	if _, ok := cached(h, "kept"); !ok {
		t.Error("DestroyNamedKey dropped another label")
	}

	// The index and the destroy at once, in either order.
	for i := range 20 {
		label := fmt.Sprintf("race-%d", i)
		create(label)
		h.names.reset()
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := h.IndexNamedKeys(ctx, "race-"); err != nil {
				t.Errorf("IndexNamedKeys: %v", err)
			}
		})
		wg.Go(func() {
			if err := h.DestroyNamedKey(ctx, label); err != nil {
				t.Errorf("DestroyNamedKey: %v", err)
			}
		})
		wg.Wait()
		gone(label)
	}
	if s := h.Stats(); s.Recoveries != 0 {
		t.Errorf("%d recoveries", s.Recoveries)
	}
}

// TestIndexNamedKeysRecovery re-initializes the module through another HSM
// after an index: the index is gone with the state it belonged to, no
// stale handle reaches the module, and an index in the new state works.
func TestIndexNamedKeysRecovery(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	a := openNamed(t, tok, nil)
	b := openNamed(t, tok, nil)
	labels := []string{"rec/1", "rec/2", "rec/3"}
	blobs := map[string][]byte{}
	for _, label := range labels {
		createNamed(t, a, label)
		blobs[label] = wrapNamed(t, a, label, testKey(32, 1), nil)
	}
	a.names.reset()
	mustIndex(t, a, "rec/", 3)
	oldGen := a.state.Load().gen
	if did, err := b.mod.reinit(&b.stats, "test", oldGen); !did || err != nil {
		t.Fatalf("reinit = %v, %v", did, err)
	}
	before := a.Stats()
	if got, err := a.UnwrapNamed(ctx, "rec/1", blobs["rec/1"], nil); err != nil || !bytes.Equal(got, testKey(32, 1)) {
		t.Fatalf("UnwrapNamed after re-initialization: %v", err)
	}
	after := a.Stats()
	if d := statsErrDiff(before, after); len(d) != 0 {
		t.Errorf("stale handles reached the module: %v", d)
	}
	if d := statsDiff(before, after); d["C_FindObjectsInit"] != 2 { // the master key, then rec/1
		t.Errorf("after re-initialization: %v, want the master key and the named key searched again", d)
	}
	if n := a.names.len(); n != 1 {
		t.Errorf("%d labels cached after the recovery, want rec/1 alone", n)
	}
	for _, label := range labels[1:] {
		if _, ok := cached(a, label); ok {
			t.Errorf("%q is still served from the index of the old state", label)
		}
	}
	mustIndex(t, a, "rec/", 3)
	for _, label := range labels {
		before := a.Stats()
		if _, err := a.UnwrapNamed(ctx, label, blobs[label], nil); err != nil {
			t.Fatal(err)
		}
		if d := statsDiff(before, a.Stats()); d["C_FindObjectsInit"] != 0 {
			t.Errorf("UnwrapNamed(%q) after the new index searched: %v", label, d)
		}
	}
}

// TestNamedKeyCacheCapacity sets Config.NamedKeyCache: an index fills the
// free room only, and never evicts a handle in use.
func TestNamedKeyCacheCapacity(t *testing.T) {
	tok := softhsmtest.New(t)
	ctx := context.Background()
	if h := openNamed(t, tok, nil); h.names.capacity() != DefaultNamedKeyCache {
		t.Fatalf("capacity %d by default, want %d", h.names.capacity(), DefaultNamedKeyCache)
	}
	h := openNamed(t, tok, func(c *Config) { c.NamedKeyCache = 2 })
	createNamed(t, h, "cap/1", "cap/2", "cap/3")
	if n := h.names.len(); n != 2 {
		t.Fatalf("%d handles cached, want 2", n)
	}
	h.names.reset()
	mustIndex(t, h, "cap/", 2)
	if h.names.len() != 2 {
		t.Fatalf("%d handles cached after an index with room for 2", h.names.len())
	}
	// cap/3 is used: its lookup evicts an indexed handle; a new index
	// evicts nothing.
	h.names.reset()
	if _, err := h.WrapNamed(ctx, "cap/3", testKey(32, 0), nil); err != nil {
		t.Fatal(err)
	}
	mustIndex(t, h, "cap/", 2)
	if _, ok := cached(h, "cap/3"); !ok || h.names.len() != 2 {
		t.Fatalf("the index evicted the handle in use (%d cached)", h.names.len())
	}
	if _, err := Open(ctx, Config{Lib: tok.Lib, TokenLabel: tok.Label, PIN: tok.PIN, KeyLabel: testKeyLabel, NamedKeyCache: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open with a negative NamedKeyCache = %v, want ErrInvalid", err)
	}
}

// TestNamedCacheIndex tests namedCache.index alone.
func TestNamedCacheIndex(t *testing.T) {
	c := namedCache{limit: 3}
	st1 := &state{gen: 1, epoch: 1}
	c.put(st1, "a", 1, c.version())
	entries := []namedEntry{{"b", 2}, {"a", 9}, {"c", 3}, {"d", 4}}
	if n := c.index(st1, entries, c.version()); n != 3 {
		t.Fatalf("index = %d, want 3 (b, a, c; no room for d)", n)
	}
	if got, ok := c.get(st1, "a"); !ok || got != 1 {
		t.Errorf("a = %d, %v: the cached entry was replaced", got, ok)
	}
	if _, ok := c.get(st1, "d"); ok {
		t.Error("d was cached beyond the limit")
	}
	// Indexed entries are the least recently used: a put evicts c, then b.
	c.put(st1, "e", 5, c.version())
	if _, ok := c.get(st1, "c"); ok {
		t.Error("c, indexed last, was not evicted first")
	}
	for _, label := range []string{"a", "b", "e"} {
		if _, ok := c.get(st1, label); !ok {
			t.Errorf("%q was evicted", label)
		}
	}

	// A drop since the search refuses the whole index; an older state
	// cannot store; a newer one empties the cache first.
	v := c.version()
	c.drop("x")
	if n := c.index(st1, []namedEntry{{"f", 6}}, v); n != 0 {
		t.Errorf("an index that began before a drop stored %d", n)
	}
	st2 := &state{gen: 1, epoch: 2}
	if n := c.index(st2, []namedEntry{{"g", 7}}, c.version()); n != 1 || c.len() != 1 {
		t.Errorf("index in a newer state = %d, len %d; want 1, 1", n, c.len())
	}
	if n := c.index(st1, []namedEntry{{"h", 8}}, c.version()); n != 0 {
		t.Errorf("an older state indexed %d", n)
	}
	var zero namedCache
	if n := zero.index(st1, []namedEntry{{"x", 1}}, zero.version()); n != 1 {
		t.Error("the zero cache does not index")
	}
}

// generateNamed generates a named key for each label.
func generateNamed(t *testing.T, h *HSM, labels ...string) {
	t.Helper()
	for _, label := range labels {
		if err := h.GenerateNamedKey(context.Background(), label); err != nil {
			t.Fatalf("GenerateNamedKey(%q): %v", label, err)
		}
	}
}

// createNamed creates a named key for each label (CreateNamedKey: a fresh
// label, no search).
func createNamed(t *testing.T, h *HSM, labels ...string) {
	t.Helper()
	for _, label := range labels {
		if err := h.CreateNamedKey(context.Background(), label); err != nil {
			t.Fatalf("CreateNamedKey(%q): %v", label, err)
		}
	}
}

// wrapNamed wraps pt under the named key label.
func wrapNamed(t *testing.T, h *HSM, label string, pt, aad []byte) []byte {
	t.Helper()
	blob, err := h.WrapNamed(context.Background(), label, pt, aad)
	if err != nil {
		t.Fatalf("WrapNamed(%q): %v", label, err)
	}
	return blob
}
