//go:build cgo && !nopkcs11

package hsm

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
)

// A PKCS#11 module is process-global: loading the same library twice gives
// the same state, C_Initialize reads its configuration once (SoftHSM2 reads
// SOFTHSM2_CONF there), and C_Finalize ends every session of every user. So
// the package keeps one module per library path and counts the HSMs that use
// it: the first Open initializes it and the last Close finalizes it. The
// library itself stays loaded (dlclose of some modules, SoftHSM2 with
// OpenSSL among them, is known to crash at exit), so the next Open only
// calls C_Initialize again, which reads the configuration anew.
//
// Every PKCS#11 call holds mu for reading; C_Initialize and C_Finalize hold
// it for writing, because C_Finalize while another thread is inside the
// module crashes some modules. gen counts successful C_Initialize calls:
// session and object handles are only valid in the generation that made
// them, and after a re-initialization the module hands out the same small
// numbers again, so a handle from an older generation is never passed to
// the module (it would name someone else's session).
type module struct {
	path string
	ctx  *pkcs11.Ctx

	mu          sync.RWMutex
	initialized atomic.Bool   // written with mu held for writing
	gen         atomic.Uint64 // written with mu held for writing

	// objects keeps searches (held for reading from C_FindObjectsInit to
	// C_FindObjectsFinal) and the creation of token objects (C_GenerateKey,
	// held for writing) apart. SoftHSM2 up to 2.6.1 creates the object's
	// file before it records it, so a search running meanwhile in another
	// thread indexes the empty file as a second object, and C_GenerateKey
	// then fails with CKR_GENERAL_ERROR (upstream issue #573, fixed after
	// 2.6.1 and unreleased). It is taken before mu, never inside a call.
	objects sync.RWMutex

	refs int // guarded by registry.mu
}

var registry struct {
	mu   sync.Mutex
	mods map[string]*module
}

// acquireModule loads lib if needed, initializes it if no HSM uses it yet,
// and counts one more user.
func acquireModule(c *counters, op, lib string) (*module, error) {
	key, err := filepath.Abs(lib)
	if err != nil {
		return nil, fmt.Errorf("hsm: %s: module path %q: %w", op, lib, ErrLibrary)
	}
	if p, err := filepath.EvalSymlinks(key); err == nil {
		key = p
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m := registry.mods[key]
	if m == nil {
		ctx := pkcs11.New(key)
		if ctx == nil {
			return nil, fmt.Errorf("hsm: %s: cannot load PKCS#11 module %q: %w", op, lib, ErrLibrary)
		}
		m = &module{path: key, ctx: ctx}
		if registry.mods == nil {
			registry.mods = make(map[string]*module)
		}
		registry.mods[key] = m
	}
	if !m.initialized.Load() {
		m.mu.Lock()
		err := m.initializeLocked(c, op)
		m.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	m.refs++
	return m, nil
}

// release counts one user less and finalizes the module after the last.
func (m *module) release(c *counters, op string) error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m.refs--
	if m.refs > 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.finalizeLocked(c, op)
}

// status returns the current generation and whether the module is
// initialized.
func (m *module) status() (gen uint64, initialized bool) {
	return m.gen.Load(), m.initialized.Load()
}

// initializeLocked calls C_Initialize. CKR_CRYPTOKI_ALREADY_INITIALIZED is
// accepted: it means another component of the process initialized the
// module, which this package does not expect but can live with.
func (m *module) initializeLocked(c *counters, op string) error {
	start := time.Now()
	err := m.ctx.Initialize()
	code := codeOf(err)
	c.record(fnInitialize, time.Since(start), err != nil)
	if err != nil && code != ckrCryptokiAlreadyInitd {
		return newCallError(op, fnInitialize.String(), code)
	}
	m.gen.Add(1)
	m.initialized.Store(true)
	return nil
}

// finalizeLocked calls C_Finalize if the module is initialized.
func (m *module) finalizeLocked(c *counters, op string) error {
	if !m.initialized.Load() {
		return nil
	}
	m.initialized.Store(false)
	start := time.Now()
	err := m.ctx.Finalize()
	c.record(fnFinalize, time.Since(start), err != nil)
	if err != nil && codeOf(err) != ckrCryptokiNotInitialized {
		return newCallError(op, fnFinalize.String(), codeOf(err))
	}
	return nil
}

// reinit finalizes and initializes the module again, unless someone else
// has already done so since generation seen. It reports whether it called
// C_Initialize successfully itself.
func (m *module) reinit(c *counters, op string, seen uint64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.initialized.Load() && m.gen.Load() != seen {
		return false, nil
	}
	// The result of C_Finalize does not matter: a broken module may refuse
	// it, and C_Initialize below says whether the module works again.
	_ = m.finalizeLocked(c, op)
	if err := m.initializeLocked(c, op); err != nil {
		return false, err
	}
	return true, nil
}

// call runs one PKCS#11 function f through body, under the read lock, and
// turns its result into a *CallError. Handles are valid only in generation
// gen: if the module is not initialized, or has been initialized again
// since, body is not run and the error is CKR_CRYPTOKI_NOT_INITIALIZED or
// CKR_SESSION_HANDLE_INVALID, as the module itself would say. Such refused
// calls are not counted as calls.
func (m *module) call(c *counters, op string, f fn, gen uint64, body func() error) error {
	m.mu.RLock()
	if !m.initialized.Load() {
		m.mu.RUnlock()
		return newCallError(op, f.String(), ckrCryptokiNotInitialized)
	}
	if m.gen.Load() != gen {
		m.mu.RUnlock()
		return newCallError(op, f.String(), ckrSessionHandleInvalid)
	}
	start := time.Now()
	err := body()
	m.mu.RUnlock()
	c.record(f, time.Since(start), err != nil)
	if err != nil {
		return newCallError(op, f.String(), codeOf(err))
	}
	return nil
}

// codeOf extracts the CK_RV from an error of miekg/pkcs11. It returns
// CKR_FUNCTION_FAILED for any other error, which that package does not
// produce today.
func codeOf(err error) uint {
	if err == nil {
		return 0
	}
	var pe pkcs11.Error
	if errors.As(err, &pe) {
		return uint(pe)
	}
	return ckrFunctionFailed
}
