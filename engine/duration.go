package engine

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Duration is a number of seconds read from JSON as Vault accepts it: a
// number of seconds, or a string such as "30s", "1h", "768h" or "3600".
type Duration int64

// UnmarshalJSON reads a number or a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		v, err := n.Int64()
		if err != nil {
			return Errorf(ErrBadRequest, "invalid duration %s", b)
		}
		*d = Duration(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(ErrBadRequest, "invalid duration: must be a number of seconds or a duration string")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v / time.Second)
	return nil
}

// ParseDuration reads Vault's duration strings: "" (0), an integer number
// of seconds, or a Go duration with the extra unit "d" (days).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseInt(strings.TrimSuffix(s, "d"), 10, 64)
		if err != nil {
			return 0, Errorf(ErrBadRequest, "invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Errorf(ErrBadRequest, "invalid duration %q", s)
	}
	return d, nil
}

// UpgradeDuration applies a write of a deprecated duration field (old)
// and its replacement (cur) to a stored value and the legacy value a read
// reports, as Vault's tokenutil.UpgradeValue: cur wins when given, and the
// legacy value follows it only if old was given too (else it is cleared);
// old alone sets both; neither keeps both.
func UpgradeDuration(old, cur *Duration, value, legacy time.Duration) (time.Duration, time.Duration) {
	switch {
	case cur != nil:
		value, legacy = time.Duration(*cur)*time.Second, 0
		if old != nil {
			legacy = value
		}
	case old != nil:
		value = time.Duration(*old) * time.Second
		legacy = value
	}
	return value, legacy
}
