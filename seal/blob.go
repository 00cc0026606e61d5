package seal

import "errors"

// blobKey is the name a blob of purpose is bound to (its associated
// data): under the seal's own records, so that it is no storage record's
// key, and per purpose, so that a blob made for one use opens for no other.
func (b *Barrier) blobKey(purpose string) []byte { return b.sealKey("blob/" + purpose) }

// SealBlob encrypts pt with the tenant's keyring, bound to the tenant and
// to purpose, for a value the tenant hands out instead of storing (a batch
// token). Like a record, it opens after keyring rotations, for as long as
// its keyring term is kept, and only in this tenant.
func (t *ReadTx) SealBlob(purpose string, pt []byte) ([]byte, error) {
	var out []byte
	err := t.withKeys(func(kr *keyring) error {
		var err error
		out, err = kr.encrypt(t.b.ad(t.b.blobKey(purpose)), pt)
		return err
	})
	return out, err
}

// OpenBlob decrypts a blob SealBlob made for purpose in this tenant.
// Anything else (another tenant's or purpose's blob, a modified one,
// garbage) is ErrDecrypt or ErrCorrupt.
//
// Unlike a record's, a blob naming a keyring term newer than this node's
// does not make the node reload its keyring: blobs come from outside, and
// a forged one would make every request cost a reload. The node learns of
// a rotation through the keyring epoch (seal.WatchEpochs) within the
// coherence window; until then such a blob is ErrDecrypt here.
func (t *ReadTx) OpenBlob(purpose string, blob []byte) ([]byte, error) {
	var pt []byte
	err := t.withKeys(func(kr *keyring) error {
		var err error
		pt, err = kr.decrypt(t.b.ad(t.b.blobKey(purpose)), blob)
		return err
	})
	if errors.Is(err, errNewerTerm) {
		err = ErrDecrypt
	}
	return pt, err
}
