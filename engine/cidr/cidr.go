// Package cidr parses the address blocks that bind AppRole secret IDs and
// tokens to the clients that may use them, and matches a client's address
// against them, as Vault's cidrutil and parseutil.ParseAddrs do.
package cidr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrInvalid matches every parse error (errors.Is), whose message, in
// Vault's words, names the element that did not parse.
var ErrInvalid = errors.New("invalid CIDR block")

type parseError struct{ msg string }

func (e *parseError) Error() string        { return e.msg }
func (e *parseError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &parseError{msg: fmt.Sprintf(format, args...)}
}

// List is a parsed list of address blocks. The zero List binds nothing.
type List []netip.Prefix

// Parse reads in, one block per element, surrounding spaces ignored and
// empty elements skipped. Each element is a block ("10.0.0.0/8",
// "fd00::/8"; host bits may be set, as net.ParseCIDR allows), or, when
// bare is true, also a single address ("10.0.0.1", its /32 or /128), as
// Vault's token_bound_cidrs take them (parseutil.ParseAddrs); Vault's
// secret_id_bound_cidrs and cidr_list take blocks only
// (cidrutil.ValidateCIDRListSlice). IPv4-mapped IPv6 forms are read as
// IPv4.
func Parse(in []string, bare bool) (List, error) {
	var out List
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := parseOne(s, bare)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parseOne(s string, bare bool) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		if !bare {
			return netip.Prefix{}, invalid("invalid CIDR address: %s", s)
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, invalid("error parsing address %q", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	// net.ParseCIDR is Vault's parser; it also reads IPv4-mapped forms
	// ("::ffff:10.0.0.0/104") as IPv4 blocks.
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		return netip.Prefix{}, invalid("invalid CIDR address: %s", s)
	}
	a, _ := netip.AddrFromSlice(ip)
	ones, _ := n.Mask.Size()
	if a.Is4In6() && (len(n.Mask) == net.IPv4len || ones >= 96) {
		if len(n.Mask) == net.IPv6len {
			ones -= 96
		}
		a = a.Unmap()
	}
	// The address is kept as given, host bits and all (Vault shows a block
	// as it was written); matching masks it.
	return netip.PrefixFrom(a, ones), nil
}

// Strings is l as stored and shown: each block as "address/bits" with the
// address as written, a single address without its mask (as Vault's
// sockaddr prints them). Nil for an empty list.
func (l List) Strings() []string {
	if len(l) == 0 {
		return nil
	}
	out := make([]string, len(l))
	for i, p := range l {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

// Allows reports whether the client address remote ("host:port", as
// http.Request.RemoteAddr, or a bare host) lies in one of l's blocks. An
// address that does not parse, or has an IPv6 zone, lies in none. An empty list allows nothing:
// callers check for a binding before calling.
func (l List) Allows(remote string) bool {
	a, ok := parseRemote(remote)
	if !ok {
		return false
	}
	for _, p := range l {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseRemote(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(remote)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// Covers reports whether every block of sub lies inside a block of l
// (Vault's cidrutil.SubsetBlocks): what a secret ID's lists must be of its
// role's. An empty l covers everything (the role binds nothing).
func (l List) Covers(sub List) bool {
	if len(l) == 0 {
		return true
	}
	for _, s := range sub {
		if !l.coversOne(s) {
			return false
		}
	}
	return true
}

func (l List) coversOne(s netip.Prefix) bool {
	for _, p := range l {
		if p.Bits() <= s.Bits() && p.Contains(s.Addr()) {
			return true
		}
	}
	return false
}

// Host is the address part of remote ("host:port" or a bare host), as
// Vault's messages name a client: remote itself when it has no port.
func Host(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
