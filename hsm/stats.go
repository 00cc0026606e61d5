package hsm

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the PKCS#11 activity of one HSM, for metrics and
// for tests that pin how many calls an operation costs.
//
// Calls counts each PKCS#11 function the package invoked, keyed by its name
// ("C_Decrypt"); Errors counts those that returned other than CKR_OK (an
// accepted CKR_USER_ALREADY_LOGGED_IN counts as an error of C_Login).
// miekg/pkcs11 issues C_Encrypt, C_Decrypt, C_WrapKey and
// C_GetAttributeValue twice under the hood (a length query, then the
// call); they count once here. Functions
// never called are absent from the maps.
type Stats struct {
	Calls    map[string]uint64
	Errors   map[string]uint64
	CallTime time.Duration // total time spent inside PKCS#11 calls

	// Recoveries counts recovery attempts after a fault, successful or not:
	// stale sessions dropped, the login session replaced if needed, the key
	// looked up again, the module re-initialized if needed.
	Recoveries uint64
	// Reinitializations counts successful C_Finalize + C_Initialize cycles
	// made by recoveries of this HSM.
	Reinitializations uint64
	// PoolSize is the maximum number of operation sessions.
	PoolSize int
}

// Total returns the number of PKCS#11 calls in s.
func (s Stats) Total() uint64 {
	var n uint64
	for _, c := range s.Calls {
		n += c
	}
	return n
}

// fn identifies a PKCS#11 function in the counters.
type fn uint8

const (
	fnInitialize fn = iota
	fnFinalize
	fnGetSlotList
	fnGetTokenInfo
	fnOpenSession
	fnCloseSession
	fnCloseAllSessions
	fnGetSessionInfo
	fnLogin
	fnFindObjectsInit
	fnFindObjects
	fnFindObjectsFinal
	fnGetAttributeValue
	fnGenerateKey
	fnCreateObject
	fnDestroyObject
	fnEncryptInit
	fnEncrypt
	fnDecryptInit
	fnDecrypt
	fnWrapKey
	fnUnwrapKey
	numFn
)

var fnNames = [numFn]string{
	fnInitialize:        "C_Initialize",
	fnFinalize:          "C_Finalize",
	fnGetSlotList:       "C_GetSlotList",
	fnGetTokenInfo:      "C_GetTokenInfo",
	fnOpenSession:       "C_OpenSession",
	fnCloseSession:      "C_CloseSession",
	fnCloseAllSessions:  "C_CloseAllSessions",
	fnGetSessionInfo:    "C_GetSessionInfo",
	fnLogin:             "C_Login",
	fnFindObjectsInit:   "C_FindObjectsInit",
	fnFindObjects:       "C_FindObjects",
	fnFindObjectsFinal:  "C_FindObjectsFinal",
	fnGetAttributeValue: "C_GetAttributeValue",
	fnGenerateKey:       "C_GenerateKey",
	fnCreateObject:      "C_CreateObject",
	fnDestroyObject:     "C_DestroyObject",
	fnEncryptInit:       "C_EncryptInit",
	fnEncrypt:           "C_Encrypt",
	fnDecryptInit:       "C_DecryptInit",
	fnDecrypt:           "C_Decrypt",
	fnWrapKey:           "C_WrapKey",
	fnUnwrapKey:         "C_UnwrapKey",
}

func (f fn) String() string { return fnNames[f] }

// counters are the atomic counters behind Stats.
type counters struct {
	calls      [numFn]atomic.Uint64
	errors     [numFn]atomic.Uint64
	nanos      atomic.Int64
	recoveries atomic.Uint64
	reinits    atomic.Uint64
}

func (c *counters) record(f fn, d time.Duration, failed bool) {
	c.calls[f].Add(1)
	if failed {
		c.errors[f].Add(1)
	}
	c.nanos.Add(int64(d))
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Calls:             make(map[string]uint64),
		Errors:            make(map[string]uint64),
		CallTime:          time.Duration(c.nanos.Load()),
		Recoveries:        c.recoveries.Load(),
		Reinitializations: c.reinits.Load(),
	}
	for i := range numFn {
		if n := c.calls[i].Load(); n > 0 {
			s.Calls[fnNames[i]] = n
		}
		if n := c.errors[i].Load(); n > 0 {
			s.Errors[fnNames[i]] = n
		}
	}
	return s
}
