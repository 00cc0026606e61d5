package hsm

import (
	"errors"
	"testing"
)

func TestCallError(t *testing.T) {
	for _, tc := range []struct {
		call string
		code uint
		msg  string
		is   []error
		not  []error
	}{
		{"C_Login", ckrPINIncorrect, "hsm: open: C_Login: CKR_PIN_INCORRECT", []error{ErrPINIncorrect}, []error{ErrUnavailable}},
		{"C_EncryptInit", ckrObjectHandleInvalid, "hsm: open: C_EncryptInit: CKR_OBJECT_HANDLE_INVALID", []error{ErrUnavailable}, []error{ErrUnwrap}},
		{"C_Encrypt", ckrDeviceRemoved, "hsm: open: C_Encrypt: CKR_DEVICE_REMOVED", []error{ErrUnavailable}, nil},
		{"C_Decrypt", ckrEncryptedDataInvalid, "hsm: open: C_Decrypt: CKR_ENCRYPTED_DATA_INVALID", []error{ErrUnwrap}, []error{ErrUnavailable}},
		{"C_Decrypt", ckrGeneralError, "hsm: open: C_Decrypt: CKR_GENERAL_ERROR", nil, []error{ErrUnwrap, ErrUnavailable}},
		{"C_UnwrapKey", ckrWrappedKeyInvalid, "hsm: open: C_UnwrapKey: CKR_WRAPPED_KEY_INVALID", []error{ErrUnwrap}, nil},
		{"C_GetTokenInfo", ckrSlotIDInvalid, "hsm: open: C_GetTokenInfo: CKR_SLOT_ID_INVALID", []error{ErrTokenNotFound}, nil},
		{"C_Foo", 0x8000_1234, "hsm: open: C_Foo: CKR_0x80001234", nil, []error{ErrUnavailable}},
	} {
		err := error(newCallError("open", tc.call, tc.code))
		if err.Error() != tc.msg {
			t.Errorf("Error() = %q, want %q", err, tc.msg)
		}
		for _, s := range tc.is {
			if !errors.Is(err, s) {
				t.Errorf("%s: not %v", tc.msg, s)
			}
		}
		for _, s := range tc.not {
			if errors.Is(err, s) {
				t.Errorf("%s: is %v", tc.msg, s)
			}
		}
		var ce *CallError
		if !errors.As(err, &ce) || ce.Code != tc.code || ce.Call != tc.call {
			t.Errorf("errors.As: %+v", ce)
		}
	}
}

func TestFaultError(t *testing.T) {
	op := newCallError("wrap", "C_EncryptInit", ckrObjectHandleInvalid)
	rec := markUnavailable(newCallError("wrap", "C_Initialize", ckrGeneralError))
	err := error(&faultError{op: op, recovery: rec})
	const want = "hsm: wrap: C_EncryptInit: CKR_OBJECT_HANDLE_INVALID; recovery failed: C_Initialize: CKR_GENERAL_ERROR"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err, want)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Fatal("not ErrUnavailable")
	}
	var ce *CallError
	if !errors.As(err, &ce) || ce.Call != "C_EncryptInit" {
		t.Fatalf("errors.As found %v", ce)
	}
}

func TestCodeNames(t *testing.T) {
	for code, name := range map[uint]string{0: "CKR_OK", 0xA0: "CKR_PIN_INCORRECT", 0x5: "CKR_GENERAL_ERROR", 0x191: "CKR_CRYPTOKI_ALREADY_INITIALIZED"} {
		if got := CodeName(code); got != name {
			t.Errorf("CodeName(0x%X) = %q, want %q", code, got, name)
		}
	}
}
