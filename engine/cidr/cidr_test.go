package cidr

import (
	"errors"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	l, err := Parse([]string{" 10.0.0.0/8", "", "192.168.1.7/24", "fd00::/8", "::ffff:172.16.0.0/108"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/24", "fd00::/8", "172.16.0.0/12"}
	if got := l.Strings(); !slices.Equal(got, want) {
		t.Errorf("Strings() = %q, want %q", got, want)
	}
	for _, bad := range []string{"10.0.0.1", "10.0.0.0/33", "nope/8", "fe80::1%eth0/64", "10.0.0.0/-1"} {
		if _, err := Parse([]string{"10.0.0.0/8", bad}, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q, blocks only) = %v, want ErrInvalid", bad, err)
		}
	}
	l, err = Parse([]string{"10.0.0.1", "::1", "::ffff:10.1.2.3", "10.0.0.0/16"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Strings(); !slices.Equal(got, []string{"10.0.0.1", "::1", "10.1.2.3", "10.0.0.0/16"}) {
		t.Errorf("bare addresses: %q", got)
	}
	for _, bad := range []string{"10.0.0.256", "fe80::1%eth0", "host"} {
		if _, err := Parse([]string{bad}, true); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q, bare) = %v, want ErrInvalid", bad, err)
		}
	}
	if l, err := Parse(nil, false); err != nil || l != nil || l.Strings() != nil {
		t.Errorf("Parse(nil) = %v, %v", l, err)
	}
}

func TestAllows(t *testing.T) {
	l, _ := Parse([]string{"127.0.0.0/8", "10.1.2.3", "fd00::/8", "192.168.1.7/24"}, true)
	for remote, want := range map[string]bool{
		"127.0.0.1:4567":        true,
		"127.9.9.9":             true,
		"10.1.2.3:1":            true,
		"10.1.2.4:1":            false,
		"[fd00::5]:80":          true,
		"[::ffff:127.0.0.1]:80": true, // an IPv4 client on a dual-stack socket
		"[fe80::1]:80":          false,
		"":                      false,
		"garbage":               false,
		"[fd00::5%eth0]:80":     false, // zoned: netip matches no block (fails closed)
	} {
		if got := l.Allows(remote); got != want {
			t.Errorf("Allows(%q) = %v, want %v", remote, got, want)
		}
	}
	if (List{}).Allows("127.0.0.1:1") {
		t.Error("an empty list allows a client")
	}
}

func TestCovers(t *testing.T) {
	role, _ := Parse([]string{"10.0.0.0/8", "192.168.1.1"}, true)
	for _, c := range []struct {
		sub  []string
		want bool
	}{
		{[]string{"10.1.0.0/16"}, true},
		{[]string{"10.0.0.0/8", "192.168.1.1/32"}, true},
		{[]string{"10.0.0.0/7"}, false},
		{[]string{"192.168.1.0/24"}, false},
		{[]string{"10.1.0.0/16", "11.0.0.0/8"}, false},
		{nil, true},
	} {
		sub, err := Parse(c.sub, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := role.Covers(sub); got != c.want {
			t.Errorf("%q covers %q: %v, want %v", role.Strings(), c.sub, got, c.want)
		}
	}
	if sub, _ := Parse([]string{"1.0.0.0/8"}, false); !(List{}).Covers(sub) {
		t.Error("a role without blocks does not cover a secret ID's")
	}
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1:80": "127.0.0.1", "[::1]:80": "::1", "10.0.0.1": "10.0.0.1"} {
		if got := Host(in); got != want {
			t.Errorf("Host(%q) = %q", in, got)
		}
	}
}

// FuzzParse: Parse never panics; whatever it accepts prints to strings
// that parse back to the same list (what is stored reads back as it was
// checked), and a list allows each of its own blocks' addresses.
// testdata/fuzz holds what it found.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.0.0.1", "::1", "fd00::/8", "::ffff:1.2.3.4/120", "1.2.3.4/33", "a/b", ""} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, bare bool) {
		l, err := Parse([]string{s}, bare)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, not ErrInvalid", s, err)
			}
			return
		}
		again, err := Parse(l.Strings(), true)
		if err != nil || !slices.Equal(again, l) {
			t.Fatalf("Parse(%q) = %v; its strings %q read back as %v, %v", s, l, l.Strings(), again, err)
		}
		for _, p := range l {
			// A client's IPv4-mapped address is read as IPv4, which an
			// IPv6 block (one written as ::ffff:a.b.c.d/n, n < 96) does
			// not hold.
			if !p.Addr().Is4In6() && !l.Allows(p.Addr().String()) {
				t.Fatalf("%v does not allow its own address %v", l, p.Addr())
			}
		}
	})
}
