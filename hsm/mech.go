//go:build cgo && !nopkcs11

package hsm

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/miekg/pkcs11"
)

// masterKeyTemplate is the template of a generated master key, and of a
// named key (see GenerateNamedKey). Every usage attribute is explicit,
// because SoftHSM2 (and others) default unset ones to true.
func masterKeyTemplate(label string, id []byte) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
}

// transientKeyTemplate describes the short-lived session object that carries
// key material through C_WrapKey and C_UnwrapKey (AES-KWP): a generic
// secret that never reaches the token's storage, extractable so that it
// can be wrapped or read back, and with no usage of its own. value is nil
// for an unwrap template (CKA_VALUE and CKA_VALUE_LEN come from the blob);
// an unwrapped object must be readable, so it is not sensitive.
func transientKeyTemplate(value []byte) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, value != nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
	if value != nil {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_VALUE, value))
	}
	return t
}

// attrUint decodes a CK_ULONG attribute value (native byte order and size).
func attrUint(a *pkcs11.Attribute) uint {
	switch len(a.Value) {
	case 8:
		return uint(binary.NativeEndian.Uint64(a.Value))
	case 4:
		return uint(binary.NativeEndian.Uint32(a.Value))
	}
	return pkcs11.CK_UNAVAILABLE_INFORMATION
}

// wrapGCM encrypts plaintext under key, a handle of generation gen, with
// CKM_AES_GCM: C_EncryptInit + C_Encrypt.
// SoftHSM2 never generates a GCM IV (given none, it silently uses an empty
// one, and every ciphertext of the same plaintext repeats), so the IV is
// drawn here. A module that writes its own IV back into the parameters
// (some network HSMs do) is honoured: the IV stored is the one read back.
func (h *HSM) wrapGCM(op string, s pkcs11.SessionHandle, gen uint64, key pkcs11.ObjectHandle, plaintext, aad []byte) ([]byte, error) {
	iv := make([]byte, gcmIVLen)
	if _, err := io.ReadFull(h.random, iv); err != nil {
		return nil, fmt.Errorf("hsm: %s: random IV: %w", op, err)
	}
	params := pkcs11.NewGCMParams(iv, gcmAAD(aad), gcmTagBits)
	defer params.Free()
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}
	if err := h.mod.call(&h.stats, op, fnEncryptInit, gen, func() error {
		return h.mod.ctx.EncryptInit(s, mech, key)
	}); err != nil {
		return nil, err
	}
	var ct []byte
	if err := h.mod.call(&h.stats, op, fnEncrypt, gen, func() (err error) {
		ct, err = h.mod.ctx.Encrypt(s, plaintext)
		return err
	}); err != nil {
		return nil, err
	}
	if len(ct) != len(plaintext)+gcmTagLen {
		return nil, fmt.Errorf("hsm: %s: C_Encrypt returned %d bytes for %d", op, len(ct), len(plaintext))
	}
	if got := params.IV(); len(got) == gcmIVLen {
		iv = got
	}
	out := make([]byte, 0, headerLen+gcmIVLen+len(ct))
	out = append(out, header(MechanismAESGCM)...)
	out = append(out, iv...)
	return append(out, ct...), nil
}

// unwrapGCM decrypts b under key with CKM_AES_GCM: C_DecryptInit + C_Decrypt.
func (h *HSM) unwrapGCM(op string, s pkcs11.SessionHandle, gen uint64, key pkcs11.ObjectHandle, b blob, aad []byte) ([]byte, error) {
	params := pkcs11.NewGCMParams(b.iv, gcmAAD(aad), gcmTagBits)
	defer params.Free()
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}
	if err := h.mod.call(&h.stats, op, fnDecryptInit, gen, func() error {
		return h.mod.ctx.DecryptInit(s, mech, key)
	}); err != nil {
		return nil, err
	}
	var pt []byte
	if err := h.mod.call(&h.stats, op, fnDecrypt, gen, func() (err error) {
		pt, err = h.mod.ctx.Decrypt(s, b.body)
		return err
	}); err != nil {
		return nil, err
	}
	if !validKeyLen(len(pt)) {
		clear(pt)
		return nil, fmt.Errorf("hsm: %s: C_Decrypt returned %d bytes: %w", op, len(pt), ErrUnwrap)
	}
	return pt, nil
}

// wrapKWP wraps plaintext under key with CKM_AES_KEY_WRAP_PAD. SoftHSM2 offers that
// mechanism for C_WrapKey only (C_EncryptInit answers
// CKR_MECHANISM_INVALID), so the plaintext becomes a transient session
// object (C_CreateObject), is wrapped (C_WrapKey) and destroyed
// (C_DestroyObject). If anything fails the session is discarded, which
// destroys the object too.
func (h *HSM) wrapKWP(op string, s pkcs11.SessionHandle, gen uint64, key pkcs11.ObjectHandle, plaintext []byte) ([]byte, error) {
	var obj pkcs11.ObjectHandle
	if err := h.mod.call(&h.stats, op, fnCreateObject, gen, func() (err error) {
		obj, err = h.mod.ctx.CreateObject(s, transientKeyTemplate(plaintext))
		return err
	}); err != nil {
		return nil, err
	}
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}
	var wrapped []byte
	wrapErr := h.mod.call(&h.stats, op, fnWrapKey, gen, func() (err error) {
		wrapped, err = h.mod.ctx.WrapKey(s, mech, key, obj)
		return err
	})
	if err := h.destroy(op, s, gen, obj); err != nil && wrapErr == nil {
		wrapErr = err
	}
	if wrapErr != nil {
		return nil, wrapErr
	}
	if len(wrapped) != len(plaintext)+kwpOverhead {
		return nil, fmt.Errorf("hsm: %s: C_WrapKey returned %d bytes for %d", op, len(wrapped), len(plaintext))
	}
	out := make([]byte, 0, headerLen+len(wrapped))
	out = append(out, header(MechanismKWP)...)
	return append(out, wrapped...), nil
}

// unwrapKWP unwraps b under key with CKM_AES_KEY_WRAP_PAD into a transient session
// object (C_UnwrapKey), reads its value (C_GetAttributeValue) and destroys
// it (C_DestroyObject).
func (h *HSM) unwrapKWP(op string, s pkcs11.SessionHandle, gen uint64, key pkcs11.ObjectHandle, b blob) ([]byte, error) {
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}
	var obj pkcs11.ObjectHandle
	if err := h.mod.call(&h.stats, op, fnUnwrapKey, gen, func() (err error) {
		obj, err = h.mod.ctx.UnwrapKey(s, mech, key, b.body, transientKeyTemplate(nil))
		return err
	}); err != nil {
		return nil, err
	}
	var attrs []*pkcs11.Attribute
	readErr := h.mod.call(&h.stats, op, fnGetAttributeValue, gen, func() (err error) {
		attrs, err = h.mod.ctx.GetAttributeValue(s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		return err
	})
	if err := h.destroy(op, s, gen, obj); err != nil && readErr == nil {
		readErr = err
	}
	if readErr != nil {
		if attrs != nil {
			clear(attrs[0].Value)
		}
		return nil, readErr
	}
	pt := attrs[0].Value
	if len(pt) != len(b.body)-kwpOverhead {
		clear(pt)
		return nil, fmt.Errorf("hsm: %s: C_UnwrapKey gave a %d-byte key for a %d-byte blob: %w", op, len(pt), len(b.body), ErrUnwrap)
	}
	return pt, nil
}

// destroy destroys an object: a transient session object, or a named key.
func (h *HSM) destroy(op string, s pkcs11.SessionHandle, gen uint64, obj pkcs11.ObjectHandle) error {
	return h.mod.call(&h.stats, op, fnDestroyObject, gen, func() error {
		return h.mod.ctx.DestroyObject(s, obj)
	})
}
