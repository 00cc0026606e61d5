package transit

import (
	"sync"

	"github.com/awnumar/memguard"
)

// arena holds raw key bytes in memguard locked buffers: memory that is
// mlocked (kept out of swap and core dumps), between guard pages, and wiped
// when freed.
//
// One LockedBuffer costs at least three pages and one mlocked page, and
// mlock is limited (RLIMIT_MEMLOCK, 8 MiB by default for a non-root
// process). So the arena packs secrets into slabs: a slab is one 64 KiB
// LockedBuffer cut into slots of one size class (64 to 4096 bytes); a
// secret larger than 4096 bytes gets a buffer of its own. 10,000 AES-256
// keys (32-byte key and 32-byte HMAC key each) fit in 10 slabs, 640 KiB of
// locked memory.
//
// The arena is safe for concurrent use. A slice returned by alloc stays
// valid until free; using it afterwards reads wiped (and possibly unmapped)
// memory, which the keyring's reference count prevents.
type arena struct {
	mu      sync.Mutex
	classes [len(slotSizes)][]*slab
	large   map[*slab]struct{}
}

// slotSizes are the size classes, in bytes.
var slotSizes = [...]int{64, 128, 256, 512, 1024, 2048, 4096}

const slabSize = 64 << 10

type slab struct {
	buf   *memguard.LockedBuffer
	data  []byte
	slot  int
	free  []int32 // free slot indexes
	used  int
	class int // index into slotSizes, or -1 for a large secret
}

// secret is a handle to bytes held in the arena.
type secret struct {
	s   *slab
	idx int32
	n   int32
}

// bytes returns the secret's bytes. The slice aliases locked memory.
func (s secret) bytes() []byte {
	if s.s == nil {
		return nil
	}
	off := int(s.idx) * s.s.slot
	return s.s.data[off : off+int(s.n) : off+int(s.n)]
}

func newArena() *arena { return &arena{large: map[*slab]struct{}{}} }

// alloc copies src into the arena and returns its handle. An empty src
// gives the zero secret.
func (a *arena) alloc(src []byte) secret {
	if len(src) == 0 {
		return secret{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	class := -1
	for i, sz := range slotSizes {
		if len(src) <= sz {
			class = i
			break
		}
	}
	var s *slab
	if class < 0 {
		s = newSlab(len(src), len(src), -1)
		a.large[s] = struct{}{}
	} else {
		for _, c := range a.classes[class] {
			if len(c.free) > 0 {
				s = c
				break
			}
		}
		if s == nil {
			s = newSlab(slabSize, slotSizes[class], class)
			a.classes[class] = append(a.classes[class], s)
		}
	}
	idx := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	s.used++
	sec := secret{s: s, idx: idx, n: int32(len(src))}
	copy(sec.bytes(), src)
	return sec
}

func newSlab(size, slot, class int) *slab {
	buf := memguard.NewBuffer(size)
	n := size / slot
	s := &slab{buf: buf, data: buf.Bytes(), slot: slot, class: class, free: make([]int32, n)}
	for i := range s.free {
		s.free[i] = int32(n - 1 - i)
	}
	return s
}

// free wipes the secret and returns its slot. A slab left empty is
// destroyed unless it is the last of its class.
func (a *arena) free(sec secret) {
	if sec.s == nil {
		return
	}
	clear(sec.bytes())
	a.mu.Lock()
	defer a.mu.Unlock()
	s := sec.s
	s.free = append(s.free, sec.idx)
	s.used--
	if s.used > 0 {
		return
	}
	if s.class < 0 {
		delete(a.large, s)
		s.buf.Destroy()
		return
	}
	list := a.classes[s.class]
	if len(list) == 1 {
		return
	}
	for i, c := range list {
		if c == s {
			a.classes[s.class] = append(list[:i], list[i+1:]...)
			break
		}
	}
	s.buf.Destroy()
}

// stats reports the slabs and the bytes of locked buffers in use.
func (a *arena) stats() (slabs, bytes int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, list := range a.classes {
		slabs += len(list)
		bytes += len(list) * slabSize
	}
	for s := range a.large {
		slabs++
		bytes += len(s.data)
	}
	return slabs, bytes
}

// trim destroys every empty slab. Purge calls it once the cache is dropped.
func (a *arena) trim() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, list := range a.classes {
		kept := list[:0]
		for _, s := range list {
			if s.used == 0 {
				s.buf.Destroy()
				continue
			}
			kept = append(kept, s)
		}
		clear(list[len(kept):])
		a.classes[i] = kept
	}
}
