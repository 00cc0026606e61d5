package hsm

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns that has a known cause
// matches one or more of them with [errors.Is]; callers never need to read
// error text. Errors that come from a PKCS#11 call are [*CallError] values,
// which also carry the function name and the CK_RV code.
var (
	// ErrLibrary means the PKCS#11 module cannot be used at all: the shared
	// library does not exist or does not load, or this binary was built
	// without PKCS#11 support (no cgo, or the nopkcs11 build tag).
	ErrLibrary = errors.New("hsm: PKCS#11 module cannot be loaded")

	// ErrTokenNotFound means no slot holds a token with the configured slot
	// id or token label.
	ErrTokenNotFound = errors.New("hsm: token not found")

	// ErrPINIncorrect means the token refused the user PIN at C_Login
	// (CKR_PIN_INCORRECT, CKR_PIN_INVALID or CKR_PIN_LEN_RANGE).
	ErrPINIncorrect = errors.New("hsm: PIN incorrect")

	// ErrKeyNotFound means no secret key with the configured label is on the
	// token. The package never creates one unless EnsureKey is called with
	// generate=true and Config.GenerateKey is set. From WrapNamed and
	// UnwrapNamed, it means that no secret key carries the named key's label
	// (never that the master key is missing: see [HSM.WrapNamed]).
	ErrKeyNotFound = errors.New("hsm: master key not found")

	// ErrDuplicateKey means more than one secret key carries the configured
	// label, so the master key is ambiguous. From the named-key operations,
	// it means that a secret key with the named key's label already exists
	// (GenerateNamedKey) or that several do (WrapNamed, UnwrapNamed).
	ErrDuplicateKey = errors.New("hsm: more than one key with the master key label")

	// ErrKeyUnsuitable means the object found under the label is not an
	// AES-256 secret key.
	ErrKeyUnsuitable = errors.New("hsm: master key is not an AES-256 key")

	// ErrUnavailable means the token or the module is not reachable now:
	// device errors, a removed token, or sessions and handles that went stale
	// and could not be replaced. The package recovers by itself once the
	// token is back; the operation may be retried later.
	ErrUnavailable = errors.New("hsm: token unavailable")

	// ErrUnwrap means a blob cannot be unwrapped because it is not one this
	// package wrote (bad version, mechanism or length), or because the token
	// reported it inauthentic with the code PKCS#11 assigns to that case
	// (CKR_ENCRYPTED_DATA_INVALID, CKR_WRAPPED_KEY_INVALID and their
	// LEN_RANGE forms). SoftHSM2 reports a failed AES-GCM tag check as
	// CKR_GENERAL_ERROR instead, which is indistinguishable from a fault, so
	// that case is a [*CallError] that matches neither ErrUnwrap nor
	// ErrUnavailable. Callers treat every Unwrap error as "cannot unseal".
	ErrUnwrap = errors.New("hsm: cannot unwrap blob")

	// ErrInvalid means an argument is out of contract: a bad Config field, a
	// plaintext that is not 16 or 32 bytes, or associated data given to a
	// mechanism that cannot bind it.
	ErrInvalid = errors.New("hsm: invalid argument")

	// ErrClosed means the HSM was closed.
	ErrClosed = errors.New("hsm: closed")
)

// CallError is a failed PKCS#11 call. Its message names the package
// operation, the PKCS#11 function and the return value, for example
// "hsm: open: C_Login: CKR_PIN_INCORRECT". It never contains a PIN or key
// material. It matches the sentinel errors that fit its code (and the place
// it happened) through Unwrap.
type CallError struct {
	Op   string // package operation: "open", "wrap", "unwrap", "find key", ...
	Call string // PKCS#11 function, e.g. "C_Login"
	Code uint   // CK_RV return value, e.g. 0xA0 (CKR_PIN_INCORRECT)

	kinds []error
}

// Error implements error.
func (e *CallError) Error() string {
	if e.Op == "" {
		return "hsm: " + e.Call + ": " + CodeName(e.Code)
	}
	return "hsm: " + e.Op + ": " + e.Call + ": " + CodeName(e.Code)
}

// Unwrap returns the sentinel errors e matches.
func (e *CallError) Unwrap() []error { return e.kinds }

// CodeName returns the symbolic name of a PKCS#11 return value, such as
// "CKR_PIN_INCORRECT", or its hexadecimal value when it has no name.
func CodeName(code uint) string {
	if n, ok := ckrNames[code]; ok {
		return n
	}
	return fmt.Sprintf("CKR_0x%X", code)
}

// CK_RV values this package acts on. They are spelled here, not taken from
// miekg/pkcs11, so that the error mapping compiles without cgo.
const (
	ckrGeneralError           = 0x005
	ckrDeviceError            = 0x030
	ckrDeviceRemoved          = 0x032
	ckrEncryptedDataInvalid   = 0x040
	ckrEncryptedDataLenRange  = 0x041
	ckrKeyHandleInvalid       = 0x060
	ckrObjectHandleInvalid    = 0x082
	ckrPINIncorrect           = 0x0A0
	ckrPINInvalid             = 0x0A1
	ckrPINLenRange            = 0x0A2
	ckrSessionClosed          = 0x0B0
	ckrSessionHandleInvalid   = 0x0B3
	ckrTokenNotPresent        = 0x0E0
	ckrTokenNotRecognized     = 0x0E1
	ckrUnwrappingKeyHandleInv = 0x0F0
	ckrUserAlreadyLoggedIn    = 0x100
	ckrUserNotLoggedIn        = 0x101
	ckrWrappedKeyInvalid      = 0x110
	ckrWrappedKeyLenRange     = 0x112
	ckrWrappingKeyHandleInv   = 0x113
	ckrCryptokiNotInitialized = 0x190
	ckrCryptokiAlreadyInitd   = 0x191
	ckrFunctionFailed         = 0x006
	ckrSlotIDInvalid          = 0x003
	ckrAttributeTypeInvalid   = 0x012
)

// faultLevel says how a failed call affects the sessions and handles that the
// HSM holds, and so how much it must rebuild before the next call.
type faultLevel uint8

const (
	faultNone faultLevel = iota // the call failed but the session, login and key handle are fine
	faultSoft                   // a session, the login or the key handle went stale: reopen, log in, find the key again
	faultHard                   // the module or device failed: C_Finalize + C_Initialize, then as faultSoft
)

// faultOf classifies a return value. The "soft" codes include
// CKR_OBJECT_HANDLE_INVALID because that is what SoftHSM2 returns for a
// cached key handle once its token directory has vanished, and the
// (UN)WRAPPING_KEY_HANDLE_INVALID codes, its answer in the same case to
// C_WrapKey and C_UnwrapKey (AES-KWP).
func faultOf(code uint) faultLevel {
	switch code {
	case ckrDeviceError, ckrDeviceRemoved, ckrTokenNotPresent, ckrTokenNotRecognized,
		ckrCryptokiNotInitialized:
		return faultHard
	case ckrSessionHandleInvalid, ckrSessionClosed, ckrUserNotLoggedIn,
		ckrObjectHandleInvalid, ckrKeyHandleInvalid,
		ckrWrappingKeyHandleInv, ckrUnwrappingKeyHandleInv:
		return faultSoft
	}
	return faultNone
}

// newCallError builds the error for a failed call and picks the sentinels it
// matches from the function and the code.
func newCallError(op, call string, code uint) *CallError {
	e := &CallError{Op: op, Call: call, Code: code}
	switch {
	case call == "C_Login" && (code == ckrPINIncorrect || code == ckrPINInvalid || code == ckrPINLenRange):
		e.kinds = append(e.kinds, ErrPINIncorrect)
	case call == "C_Decrypt" && (code == ckrEncryptedDataInvalid || code == ckrEncryptedDataLenRange),
		call == "C_UnwrapKey" && (code == ckrWrappedKeyInvalid || code == ckrWrappedKeyLenRange):
		e.kinds = append(e.kinds, ErrUnwrap)
	case (call == "C_OpenSession" || call == "C_GetTokenInfo") && code == ckrSlotIDInvalid:
		e.kinds = append(e.kinds, ErrTokenNotFound)
	}
	if faultOf(code) != faultNone {
		e.kinds = append(e.kinds, ErrUnavailable)
	}
	return e
}

// markUnavailable makes err also match ErrUnavailable; used for errors that
// happen while recovering from a fault, whatever their code.
func markUnavailable(err error) error {
	var ce *CallError
	if errors.As(err, &ce) {
		if !errors.Is(ce, ErrUnavailable) {
			ce.kinds = append(ce.kinds, ErrUnavailable)
		}
		return err
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrClosed) {
		return err
	}
	return &unavailableError{err: err}
}

type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{e.err, ErrUnavailable} }

// brief describes err without the "hsm: op:" prefix of a *CallError, for
// errors that quote another.
func brief(err error) string {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Call + ": " + CodeName(ce.Code)
	}
	return err.Error()
}

// faultError is an operation that failed with a fault and whose recovery
// failed too. It matches both errors, and ErrUnavailable.
type faultError struct {
	op, recovery error
}

func (e *faultError) Error() string {
	return e.op.Error() + "; recovery failed: " + brief(e.recovery)
}

func (e *faultError) Unwrap() []error { return []error{e.op, e.recovery, ErrUnavailable} }

// stillUnavailableError is an operation refused without probing the token,
// because the last recovery attempt failed moments ago.
type stillUnavailableError struct {
	op   string
	last error
}

func (e *stillUnavailableError) Error() string {
	return "hsm: " + e.op + ": token unavailable; last recovery failed: " + brief(e.last)
}

func (e *stillUnavailableError) Unwrap() []error { return []error{e.last, ErrUnavailable} }
