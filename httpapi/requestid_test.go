package httpapi

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

func TestRequestIDIsUUIDv4(t *testing.T) {
	seen := make(map[string]bool, 100_000)
	for range 100_000 {
		id := newRequestID()
		u, err := uuid.Parse(id)
		if err != nil || len(id) != 36 {
			t.Fatalf("%q: %v", id, err)
		}
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("%q: version %d, variant %v", id, u.Version(), u.Variant())
		}
		if seen[id] {
			t.Fatalf("%q generated twice", id)
		}
		seen[id] = true
	}
	if n := testing.AllocsPerRun(100, func() { _ = newRequestID() }); n > 1 {
		t.Fatalf("newRequestID allocates %v times, want the string only", n)
	}
}

func TestHeaderReadsCanonicalKeys(t *testing.T) {
	h := http.Header{}
	h.Set("x-vault-token", "t1") // stored under the canonical key, as net/http does
	h.Add("X-Vault-Token", "t2")
	if got := header(h, "X-Vault-Token"); got != "t1" {
		t.Fatalf("header = %q, want the first value t1", got)
	}
	if got := header(h, "X-Vault-Namespace"); got != "" {
		t.Fatalf("absent header = %q", got)
	}
	for _, k := range []string{"X-Vault-Token", "Authorization", "Content-Type", "X-Vault-Namespace", wrapTTLKey} {
		if http.CanonicalHeaderKey(k) != k {
			t.Errorf("%q is not canonical: header() would never find it", k)
		}
	}
}
