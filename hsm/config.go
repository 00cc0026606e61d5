package hsm

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Mechanism selects how Wrap protects key material. Its values are also the
// mechanism byte of a blob, so they never change.
type Mechanism uint8

const (
	// MechanismDefault, the zero value, selects MechanismAESGCM in a Config.
	// It is not a mechanism of its own and never appears in a blob.
	MechanismDefault Mechanism = 0

	// MechanismAESGCM is CKM_AES_GCM with a 12-byte IV drawn by this package
	// and a 128-bit tag; the associated data is bound to the blob. Default.
	MechanismAESGCM Mechanism = 1

	// MechanismKWP is CKM_AES_KEY_WRAP_PAD (RFC 5649) through C_WrapKey and
	// C_UnwrapKey. It is deterministic and takes no associated data.
	MechanismKWP Mechanism = 2
)

// String returns the Vault-style configuration name of m.
func (m Mechanism) String() string {
	switch m {
	case MechanismDefault:
		return "default"
	case MechanismAESGCM:
		return "CKM_AES_GCM"
	case MechanismKWP:
		return "CKM_AES_KEY_WRAP_PAD"
	}
	return "Mechanism(" + strconv.Itoa(int(m)) + ")"
}

// ParseMechanism reads a mechanism name as an operator writes it in the
// seal "pkcs11" stanza: "CKM_AES_GCM", "aes-gcm" or "0x1087" for AES-GCM;
// "CKM_AES_KEY_WRAP_PAD", "aes-kwp" or "0x210A" for key wrap with padding.
// An empty string gives MechanismDefault. Anything else matches ErrInvalid.
func ParseMechanism(s string) (Mechanism, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return MechanismDefault, nil
	case "ckm_aes_gcm", "aes-gcm", "aes_gcm", "gcm", "0x1087", "4231":
		return MechanismAESGCM, nil
	case "ckm_aes_key_wrap_pad", "aes-kwp", "aes_kwp", "kwp", "0x210a", "8458":
		return MechanismKWP, nil
	}
	return MechanismDefault, fmt.Errorf("%w: unknown mechanism %q (want CKM_AES_GCM or CKM_AES_KEY_WRAP_PAD)", ErrInvalid, s)
}

// DefaultMaxSessions caps the session pool when the token reports no limit
// (SoftHSM2 reports CK_EFFECTIVELY_INFINITE) and Config.MaxSessions is 0.
const DefaultMaxSessions = 16

// DefaultNamedKeyCache is the number of named-key handles an HSM caches
// when Config.NamedKeyCache is 0: room for one key per tenant of a large
// installation, so that IndexNamedKeys can hold them all.
const DefaultNamedKeyCache = 100000

// RetryInterval is how long, after a recovery failed because the token is
// unavailable, Wrap, Unwrap and Ping return that same error without
// probing the token again.
const RetryInterval = time.Second

// Config says which module, token and key to use. Its String, GoString and
// LogValue methods never show the PIN, so a Config may be logged or printed
// with any fmt verb.
type Config struct {
	// Lib is the path of the PKCS#11 shared library. Required.
	Lib string
	// Slot is the slot id of the token. Slot or TokenLabel is required; when
	// both are set, the token in Slot must carry TokenLabel.
	Slot *uint
	// TokenLabel is the label of the token.
	TokenLabel string
	// PIN is the user PIN. It is kept in memory to log in again after a token
	// fault, and appears in no error, log line or formatted output.
	PIN string
	// KeyLabel is the CKA_LABEL of the AES-256 master key. Required.
	KeyLabel string
	// Mechanism wraps new blobs. Unwrap follows the mechanism byte of each
	// blob, so blobs of either mechanism stay readable.
	Mechanism Mechanism
	// GenerateKey permits EnsureKey(ctx, true) to create the master key when
	// it is missing. Neither Open nor FindKey ever creates a key.
	GenerateKey bool
	// MaxSessions bounds the pool of operation sessions (the login session
	// is extra). 0 derives it from the token's ulMaxSessionCount, capped at
	// DefaultMaxSessions.
	MaxSessions int
	// NamedKeyCache bounds the number of named-key handles cached (see
	// HSM.IndexNamedKeys), least recently used out first; an entry takes
	// about 200 bytes. 0 means DefaultNamedKeyCache.
	NamedKeyCache int
}

// redacted stands in for a set PIN in every rendering of a Config.
const redacted = "<redacted>"

// String renders c without its PIN. fmt uses it for %v, %+v and %s.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("hsm.Config{Lib:")
	b.WriteString(strconv.Quote(c.Lib))
	b.WriteString(" Slot:")
	if c.Slot != nil {
		b.WriteString(strconv.FormatUint(uint64(*c.Slot), 10))
	} else {
		b.WriteString("<nil>")
	}
	b.WriteString(" TokenLabel:")
	b.WriteString(strconv.Quote(c.TokenLabel))
	b.WriteString(" PIN:")
	b.WriteString(c.pinMask())
	b.WriteString(" KeyLabel:")
	b.WriteString(strconv.Quote(c.KeyLabel))
	b.WriteString(" Mechanism:")
	b.WriteString(c.Mechanism.String())
	b.WriteString(" GenerateKey:")
	b.WriteString(strconv.FormatBool(c.GenerateKey))
	b.WriteString(" MaxSessions:")
	b.WriteString(strconv.Itoa(c.MaxSessions))
	b.WriteString(" NamedKeyCache:")
	b.WriteString(strconv.Itoa(c.NamedKeyCache))
	b.WriteString("}")
	return b.String()
}

// GoString renders c for %#v, without its PIN.
func (c Config) GoString() string { return c.String() }

// LogValue renders c for log/slog, without its PIN.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("lib", c.Lib),
		slog.String("token_label", c.TokenLabel),
		slog.String("pin", c.pinMask()),
		slog.String("key_label", c.KeyLabel),
		slog.String("mechanism", c.Mechanism.String()),
		slog.Bool("generate_key", c.GenerateKey),
		slog.Int("max_sessions", c.MaxSessions),
		slog.Int("named_key_cache", c.NamedKeyCache),
	}
	if c.Slot != nil {
		attrs = append(attrs, slog.Uint64("slot", uint64(*c.Slot)))
	}
	return slog.GroupValue(attrs...)
}

func (c Config) pinMask() string {
	if c.PIN == "" {
		return `""`
	}
	return redacted
}

// validate checks c and returns it with defaults filled in.
func (c Config) validate() (Config, error) {
	switch {
	case c.Lib == "":
		return c, fmt.Errorf("%w: Config.Lib (module path) is required", ErrInvalid)
	case c.Slot == nil && c.TokenLabel == "":
		return c, fmt.Errorf("%w: Config.Slot or Config.TokenLabel is required", ErrInvalid)
	case c.PIN == "":
		return c, fmt.Errorf("%w: Config.PIN is required", ErrInvalid)
	case c.KeyLabel == "":
		return c, fmt.Errorf("%w: Config.KeyLabel is required", ErrInvalid)
	case c.MaxSessions < 0:
		return c, fmt.Errorf("%w: Config.MaxSessions is negative", ErrInvalid)
	case c.NamedKeyCache < 0:
		return c, fmt.Errorf("%w: Config.NamedKeyCache is negative", ErrInvalid)
	}
	if c.NamedKeyCache == 0 {
		c.NamedKeyCache = DefaultNamedKeyCache
	}
	switch c.Mechanism {
	case MechanismDefault:
		c.Mechanism = MechanismAESGCM
	case MechanismAESGCM, MechanismKWP:
	default:
		return c, fmt.Errorf("%w: Config.Mechanism %v", ErrInvalid, c.Mechanism)
	}
	return c, nil
}
