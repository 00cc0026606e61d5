//go:build cgo && !nopkcs11

package hsm

import (
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
)

// TestReturnValueConstants checks the CK_RV values this package spells out
// (so that its errors work without cgo) against miekg/pkcs11's, and the
// generated name table against miekg's messages.
func TestReturnValueConstants(t *testing.T) {
	for name, pair := range map[string][2]uint{
		"CKR_GENERAL_ERROR":                 {ckrGeneralError, pkcs11.CKR_GENERAL_ERROR},
		"CKR_DEVICE_ERROR":                  {ckrDeviceError, pkcs11.CKR_DEVICE_ERROR},
		"CKR_DEVICE_REMOVED":                {ckrDeviceRemoved, pkcs11.CKR_DEVICE_REMOVED},
		"CKR_ENCRYPTED_DATA_INVALID":        {ckrEncryptedDataInvalid, pkcs11.CKR_ENCRYPTED_DATA_INVALID},
		"CKR_ENCRYPTED_DATA_LEN_RANGE":      {ckrEncryptedDataLenRange, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE},
		"CKR_KEY_HANDLE_INVALID":            {ckrKeyHandleInvalid, pkcs11.CKR_KEY_HANDLE_INVALID},
		"CKR_OBJECT_HANDLE_INVALID":         {ckrObjectHandleInvalid, pkcs11.CKR_OBJECT_HANDLE_INVALID},
		"CKR_PIN_INCORRECT":                 {ckrPINIncorrect, pkcs11.CKR_PIN_INCORRECT},
		"CKR_PIN_INVALID":                   {ckrPINInvalid, pkcs11.CKR_PIN_INVALID},
		"CKR_PIN_LEN_RANGE":                 {ckrPINLenRange, pkcs11.CKR_PIN_LEN_RANGE},
		"CKR_SESSION_CLOSED":                {ckrSessionClosed, pkcs11.CKR_SESSION_CLOSED},
		"CKR_SESSION_HANDLE_INVALID":        {ckrSessionHandleInvalid, pkcs11.CKR_SESSION_HANDLE_INVALID},
		"CKR_TOKEN_NOT_PRESENT":             {ckrTokenNotPresent, pkcs11.CKR_TOKEN_NOT_PRESENT},
		"CKR_TOKEN_NOT_RECOGNIZED":          {ckrTokenNotRecognized, pkcs11.CKR_TOKEN_NOT_RECOGNIZED},
		"CKR_USER_ALREADY_LOGGED_IN":        {ckrUserAlreadyLoggedIn, pkcs11.CKR_USER_ALREADY_LOGGED_IN},
		"CKR_USER_NOT_LOGGED_IN":            {ckrUserNotLoggedIn, pkcs11.CKR_USER_NOT_LOGGED_IN},
		"CKR_WRAPPED_KEY_INVALID":           {ckrWrappedKeyInvalid, pkcs11.CKR_WRAPPED_KEY_INVALID},
		"CKR_WRAPPED_KEY_LEN_RANGE":         {ckrWrappedKeyLenRange, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE},
		"CKR_CRYPTOKI_NOT_INITIALIZED":      {ckrCryptokiNotInitialized, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED},
		"CKR_CRYPTOKI_ALREADY_INITIALIZED":  {ckrCryptokiAlreadyInitd, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED},
		"CKR_FUNCTION_FAILED":               {ckrFunctionFailed, pkcs11.CKR_FUNCTION_FAILED},
		"CKR_SLOT_ID_INVALID":               {ckrSlotIDInvalid, pkcs11.CKR_SLOT_ID_INVALID},
		"CKR_WRAPPING_KEY_HANDLE_INVALID":   {ckrWrappingKeyHandleInv, pkcs11.CKR_WRAPPING_KEY_HANDLE_INVALID},
		"CKR_UNWRAPPING_KEY_HANDLE_INVALID": {ckrUnwrappingKeyHandleInv, pkcs11.CKR_UNWRAPPING_KEY_HANDLE_INVALID},
		"CKR_ATTRIBUTE_TYPE_INVALID":        {ckrAttributeTypeInvalid, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: package has 0x%X, miekg/pkcs11 0x%X", name, pair[0], pair[1])
		}
		if got := CodeName(pair[0]); got != name {
			t.Errorf("CodeName(0x%X) = %q, want %q", pair[0], got, name)
		}
	}
	for code, name := range ckrNames {
		want := pkcs11.Error(code).Error()
		if strings.HasSuffix(want, ": ") {
			continue // miekg's table predates PKCS#11 v2.40
		}
		if want != "pkcs11: 0x"+hexUpper(code)+": "+name {
			t.Errorf("ckrNames[0x%X] = %q; miekg says %q", code, name, want)
		}
	}
}

func hexUpper(v uint) string {
	const digits = "0123456789ABCDEF"
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v >>= 4 {
		b = append([]byte{digits[v&0xF]}, b...)
	}
	return string(b)
}
