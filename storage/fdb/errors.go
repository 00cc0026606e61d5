package fdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// CodeError is an error of the FoundationDB client, identified by its
// numeric code (https://apple.github.io/foundationdb/api-error-codes.html).
// The errors of this package wrap one when they come from FoundationDB;
// find it with errors.As.
type CodeError struct {
	Code int
	// Desc is the client library's text for the error, when the adapter
	// had it (the bindings' "FoundationDB error code 1020 (Transaction
	// not committed ...)"): for people, never for matching.
	Desc string
}

// Name returns the code's name in FoundationDB's error table
// (not_committed, commit_unknown_result, ...), or "fdb_error" for a code
// this package does not know.
func (e *CodeError) Name() string {
	if c, ok := codes[e.Code]; ok {
		return c.name
	}
	return "fdb_error"
}

// Error returns the code's name and the client's text, which holds the
// code, or the name and the code.
func (e *CodeError) Error() string {
	if e.Desc != "" {
		return e.Name() + ": " + e.Desc
	}
	return fmt.Sprintf("%s (%d)", e.Name(), e.Code)
}

// ErrCommitUnknown is matched by a commit error after which FoundationDB
// cannot tell whether the transaction was applied: commit_unknown_result
// (1021), commit_unknown_result_fatal (1022), cluster_version_changed
// (1039), and a commit cut short by the transaction's timeout or
// cancellation. It wraps storage.ErrUnavailable and never
// storage.ErrConflict, so storage.Wrap does not run the function again:
// running a non-idempotent transaction twice (an increment, a create that
// refuses an existing key) would be wrong if the first commit was applied.
// The caller sees the error; a client that retries must be ready to find
// its write already there.
var ErrCommitUnknown = fmt.Errorf("fdb: the transaction may or may not have been committed: %w", storage.ErrUnavailable)

// class is how an error code is translated.
type class int

const (
	// classOther: no storage sentinel (a misuse of the client, an internal
	// error); the message keeps the code.
	classOther class = iota
	// classConflict: not_committed, a conflict. storage.ErrConflict.
	classConflict
	// classRetryable: not committed, and worth retrying at once: the
	// cluster is busy or recovering. storage.ErrConflict, so that
	// storage.Wrap retries with backoff, and storage.ErrUnavailable for the
	// caller once the retries are spent.
	classRetryable
	// classTooOld: transaction_too_old, the transaction outlived the 5 s
	// window of its read version. storage.ErrConflict (a fresh attempt
	// gets a new read version) and storage.ErrTimeout.
	classTooOld
	// classMaybeCommitted: the commit's outcome is unknown.
	// ErrCommitUnknown at the commit; elsewhere storage.ErrUnavailable.
	classMaybeCommitted
	// classTimeout: the transaction timed out or was cancelled.
	// storage.ErrTimeout, with the context's error when the context
	// ended, storage.ErrUnavailable otherwise (the cluster did not answer
	// within MaxTxTimeout); ErrCommitUnknown as well at the commit.
	classTimeout
	// classTxTooLarge, classKeyTooLarge, classValueTooLarge: the limits.
	classTxTooLarge
	classKeyTooLarge
	classValueTooLarge
	// classUnavailable: the cluster cannot be reached or used.
	// storage.ErrUnavailable.
	classUnavailable
)

type codeInfo struct {
	name  string
	class class
	hint  string // added to the message, for what an operator can do
}

// codes is the translation table. Codes in 1000-1999 that are not listed
// are failures of the cluster (classUnavailable); other unlisted codes are
// classOther. The retryable classes follow fdb_error_predicate's
// RETRYABLE_NOT_COMMITTED and MAYBE_COMMITTED lists (FoundationDB 7.3).
var codes = map[int]codeInfo{
	1004: {"timed_out", classTimeout, ""},
	1007: {"transaction_too_old", classTooOld, ""},
	1009: {"future_version", classRetryable, ""},
	1020: {"not_committed", classConflict, ""},
	1021: {"commit_unknown_result", classMaybeCommitted, ""},
	1022: {"commit_unknown_result_fatal", classMaybeCommitted, ""},
	1025: {"transaction_cancelled", classTimeout, ""},
	1026: {"connection_failed", classUnavailable, ""},
	1027: {"coordinators_changed", classUnavailable, ""},
	1029: {"watch_cancelled", classUnavailable, ""},
	1031: {"transaction_timed_out", classTimeout, ""},
	1032: {"too_many_watches", classUnavailable, ""},
	1037: {"process_behind", classRetryable, ""},
	1038: {"database_locked", classRetryable, ""},
	1039: {"cluster_version_changed", classMaybeCommitted, ""},
	1042: {"commit_proxy_memory_limit_exceeded", classRetryable, ""},
	1051: {"batch_transaction_throttled", classRetryable, ""},
	1078: {"grv_proxy_memory_limit_exceeded", classRetryable, ""},
	1101: {"operation_cancelled", classOther, ""},
	1213: {"tag_throttled", classRetryable, ""},
	1223: {"proxy_tag_throttled", classRetryable, ""},
	1235: {"transaction_throttled_hot_shard", classRetryable, ""},
	1511: {"file_not_found", classUnavailable, "check cluster_file"},
	1513: {"file_not_readable", classUnavailable, "check cluster_file and its permissions"},
	1514: {"file_not_writable", classUnavailable, "the client rewrites the cluster file when the coordinators change: make it writable"},
	1515: {"no_cluster_file_found", classUnavailable, "set cluster_file"},
	2004: {"key_outside_legal_range", classOther, ""},
	2005: {"inverted_range", classOther, ""},
	2017: {"used_during_commit", classOther, ""},
	2100: {"incompatible_protocol_version", classUnavailable, "the client library does not speak the cluster's version"},
	2101: {"transaction_too_large", classTxTooLarge, ""},
	2102: {"key_too_large", classKeyTooLarge, ""},
	2103: {"value_too_large", classValueTooLarge, ""},
	2104: {"connection_string_invalid", classUnavailable, "check the content of cluster_file"},
	2107: {"tls_error", classUnavailable, ""},
	2125: {"incompatible_client", classUnavailable, "no client library matches the cluster's version"},
	2200: {"api_version_unset", classOther, ""},
	2201: {"api_version_already_set", classOther, "a process selects one API version: every store it opens must use the same api_version"},
	2202: {"api_version_invalid", classOther, ""},
	2203: {"api_version_not_supported", classOther, "the installed libfdb_c does not support this api_version"},
}

func classify(code int) codeInfo {
	if c, ok := codes[code]; ok {
		return c
	}
	if code >= 1000 && code < 2000 {
		return codeInfo{"fdb_error", classUnavailable, ""}
	}
	return codeInfo{"fdb_error", classOther, ""}
}

// opError is a translated FoundationDB error: the operation, the code, and
// the sentinels it matches.
type opError struct {
	op    string
	code  *CodeError
	is    []error
	notes []string
}

func (e *opError) Error() string {
	s := "fdb: " + e.op + ": " + e.code.Error()
	if len(e.notes) > 0 {
		s += " (" + strings.Join(e.notes, "; ") + ")"
	}
	return s
}

func (e *opError) Unwrap() []error {
	return append([]error{e.code}, e.is...)
}

// translate turns an error of the adapter into this package's errors. ctx
// is the transaction's context; op names the operation; atCommit tells
// that err came from the commit. An error that is not a
// *CodeError comes back behind an "fdb: op:" prefix.
func translate(ctx context.Context, op string, err error, atCommit bool) error {
	var ce *CodeError
	if !errors.As(err, &ce) {
		return fmt.Errorf("fdb: %s: %w", op, err)
	}
	info := classify(ce.Code)
	e := &opError{op: op, code: ce}
	if info.hint != "" {
		e.notes = append(e.notes, info.hint)
	}
	switch info.class {
	case classConflict:
		e.is = []error{storage.ErrConflict}
	case classRetryable:
		e.is = []error{storage.ErrConflict, storage.ErrUnavailable}
	case classTooOld:
		e.is = []error{storage.ErrConflict, storage.ErrTimeout}
	case classMaybeCommitted:
		if atCommit {
			e.is = []error{ErrCommitUnknown}
			e.notes = append(e.notes, "the transaction may or may not have been committed; it is not retried")
		} else {
			e.is = []error{storage.ErrUnavailable}
		}
	case classTimeout:
		e.is = []error{storage.ErrTimeout}
		if err := ctxDone(ctx); err != nil {
			e.is = append(e.is, err)
		} else {
			e.is = append(e.is, storage.ErrUnavailable)
			e.notes = append(e.notes, "the cluster did not answer in time")
		}
		if atCommit {
			e.is = append(e.is, ErrCommitUnknown)
			e.notes = append(e.notes, "the commit was cut short and may or may not have been applied; it is not retried")
		}
	case classTxTooLarge:
		e.is = []error{storage.ErrTxTooLarge}
	case classKeyTooLarge:
		e.is = []error{storage.ErrKeyTooLarge}
	case classValueTooLarge:
		e.is = []error{storage.ErrValueTooLarge}
	case classUnavailable:
		e.is = []error{storage.ErrUnavailable}
	}
	return e
}

// deadlineSlack is how close to its context's deadline a transaction that
// timed out must be for the timeout to count as the deadline's: the
// transaction's timeout is the time left before the deadline, rounded up
// to the millisecond, and FoundationDB's timer and the context's fire in
// no fixed order.
const deadlineSlack = 10 * time.Millisecond

// ctxDone returns ctx.Err(), or context.DeadlineExceeded when ctx's
// deadline is at most deadlineSlack away.
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= deadlineSlack {
		return context.DeadlineExceeded
	}
	return nil
}
