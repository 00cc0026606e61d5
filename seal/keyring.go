package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awnumar/memguard"
)

// Term describes one key of a keyring. Terms count from 1; the newest term
// encrypts, every term still held decrypts.
type Term struct {
	Term      uint32
	Installed time.Time
}

// keyring is the key material of one unsealed tenant: its root key, the
// keyring terms that encrypt its records, and the key of its keyed hashes
// (token and accessor hashes). All of it lives in memguard buffers and is
// wiped by destroy.
type keyring struct {
	mu        sync.RWMutex
	destroyed bool
	root      *memguard.LockedBuffer // the tenant root key; encrypts the keyring record
	buf       *memguard.LockedBuffer // macKey ‖ key(terms[0]) ‖ key(terms[1]) ‖ ...
	terms     []Term

	// encryptions counts records encrypted under the active term since the
	// keyring was loaded (sys/key-status).
	encryptions atomic.Uint64
}

// serialized keyring: version ‖ count ‖ macKey ‖ count × (term ‖ installed ‖ key)
const (
	keyringVersion   = 1
	keyringHeader    = 1 + 4 + keySize
	keyringEntrySize = 4 + 8 + keySize
	// maxTerms bounds a parsed keyring, so corrupt input cannot ask for a
	// huge allocation.
	maxTerms = 1 << 16
)

// newKeyring makes a keyring with term 1 and fresh random keys. It takes
// ownership of root.
func newKeyring(root *memguard.LockedBuffer, now time.Time) *keyring {
	buf := memguard.NewBufferRandom(2 * keySize)
	buf.Freeze()
	return &keyring{root: root, buf: buf, terms: []Term{{Term: 1, Installed: now.UTC()}}}
}

// parseKeyring reads a serialized keyring and wipes pt. It takes ownership of root.
func parseKeyring(root *memguard.LockedBuffer, pt []byte) (*keyring, error) {
	defer clear(pt)
	if len(pt) < keyringHeader || pt[0] != keyringVersion {
		return nil, ErrCorrupt
	}
	n := int(binary.BigEndian.Uint32(pt[1:5]))
	if n < 1 || n > maxTerms || len(pt) != keyringHeader+n*keyringEntrySize {
		return nil, ErrCorrupt
	}
	buf := memguard.NewBuffer(keySize * (n + 1))
	buf.Copy(pt[5:keyringHeader])
	terms := make([]Term, n)
	for i := range n {
		e := pt[keyringHeader+i*keyringEntrySize:]
		terms[i] = Term{
			Term:      binary.BigEndian.Uint32(e[0:4]),
			Installed: time.Unix(int64(binary.BigEndian.Uint64(e[4:12])), 0).UTC(),
		}
		if terms[i].Term == 0 || (i > 0 && terms[i].Term <= terms[i-1].Term) {
			buf.Destroy()
			return nil, ErrCorrupt
		}
		buf.CopyAt(keySize*(i+1), e[12:12+keySize])
	}
	buf.Freeze()
	return &keyring{root: root, buf: buf, terms: terms}, nil
}

// marshal serializes the keyring into a memguard buffer the caller destroys.
func (k *keyring) marshal() (*memguard.LockedBuffer, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.destroyed {
		return nil, ErrSealed
	}
	n := len(k.terms)
	out := memguard.NewBuffer(keyringHeader + n*keyringEntrySize)
	b := out.Bytes()
	b[0] = keyringVersion
	binary.BigEndian.PutUint32(b[1:5], uint32(n))
	keys := k.buf.Bytes()
	copy(b[5:keyringHeader], keys[:keySize])
	for i, t := range k.terms {
		e := b[keyringHeader+i*keyringEntrySize:]
		binary.BigEndian.PutUint32(e[0:4], t.Term)
		binary.BigEndian.PutUint64(e[4:12], uint64(t.Installed.Unix()))
		copy(e[12:12+keySize], keys[keySize*(i+1):keySize*(i+2)])
	}
	return out, nil
}

// activeTerm returns the newest term, the one that encrypts.
func (k *keyring) activeTerm() uint32 { return k.terms[len(k.terms)-1].Term }

// keyFor returns the key bytes of term, inside the memguard buffer. The
// caller holds k.mu.
func (k *keyring) keyFor(term uint32) ([]byte, bool) {
	for i, t := range k.terms {
		if t.Term == term {
			return k.buf.Bytes()[keySize*(i+1) : keySize*(i+2)], true
		}
	}
	return nil, false
}

func (k *keyring) encrypt(ad, pt []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.destroyed {
		return nil, ErrSealed
	}
	term := k.activeTerm()
	key, _ := k.keyFor(term)
	k.encryptions.Add(1)
	return sealRecord(key, term, ad, pt)
}

func (k *keyring) decrypt(ad, rec []byte) ([]byte, error) {
	term, err := recordTerm(rec)
	if err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.destroyed {
		return nil, ErrSealed
	}
	key, ok := k.keyFor(term)
	if !ok {
		if term > k.activeTerm() {
			return nil, errNewerTerm
		}
		return nil, ErrDecrypt
	}
	return openRecord(key, ad, rec)
}

// errNewerTerm: a record is encrypted under a term newer than this
// keyring's: another node rotated the keyring. The barrier reloads the
// keyring and tries again; it never reaches a caller.
var errNewerTerm = errors.New("seal: record of a newer keyring term")

// reopen parses a stored keyring record with k's root key into a new
// keyring (k is left untouched).
func (k *keyring) reopen(ad, record []byte) (*keyring, error) {
	var next *keyring
	err := k.withRoot(func(root []byte) error {
		plain, err := openRecord(root, ad, record)
		if err != nil {
			return ErrCorrupt
		}
		r := memguard.NewBuffer(keySize)
		r.Copy(root)
		r.Freeze()
		next, err = parseKeyring(r, plain)
		if err != nil {
			r.Destroy()
		}
		return err
	})
	return next, err
}

// mac returns HMAC-SHA256 of data under the tenant's hash key.
func (k *keyring) mac(data []byte) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.destroyed {
		return nil, ErrSealed
	}
	h := hmac.New(sha256.New, k.buf.Bytes()[:keySize])
	h.Write(data)
	return h.Sum(nil), nil
}

// withRoot runs fn with the root key bytes, under the read lock.
func (k *keyring) withRoot(fn func(root []byte) error) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.destroyed {
		return ErrSealed
	}
	return fn(k.root.Bytes())
}

// rotated returns a new keyring holding every term of k plus a new random
// term. k is left untouched; the caller installs the result once it is stored.
func (k *keyring) rotated(now time.Time) (*keyring, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.destroyed {
		return nil, ErrSealed
	}
	n := len(k.terms)
	buf := memguard.NewBuffer(keySize * (n + 2))
	buf.Copy(k.buf.Bytes())
	fresh := memguard.NewBufferRandom(keySize)
	buf.CopyAt(keySize*(n+1), fresh.Bytes())
	fresh.Destroy()
	buf.Freeze()
	terms := append(append([]Term(nil), k.terms...), Term{Term: k.activeTerm() + 1, Installed: now.UTC()})
	root := memguard.NewBuffer(keySize)
	root.Copy(k.root.Bytes())
	root.Freeze()
	return &keyring{root: root, buf: buf, terms: terms}, nil
}

// destroy wipes every key. It waits for operations in flight to finish.
func (k *keyring) destroy() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return
	}
	k.destroyed = true
	k.root.Destroy()
	k.buf.Destroy()
}

// String never prints key material.
func (k *keyring) String() string {
	return fmt.Sprintf("keyring(%d terms)", len(k.terms))
}
