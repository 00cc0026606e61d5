//go:build fdb

package fdb

// The one file that imports the FoundationDB bindings: connect, and the
// bindings' database, transaction and future behind the interfaces of
// adapter.go, one call each. It needs cgo and the FoundationDB C client
// (libfdb_c, fdb_c.h), 7.3 or later.

import (
	"errors"

	fdbgo "github.com/apple/foundationdb/bindings/go/src/fdb"
)

// OpenRaw connects to the FoundationDB cluster of cfg (defaults applied)
// and returns it as a raw store; see Open.
func OpenRaw(cfg Config) (*DB, error) {
	return openRaw(cfg, connect, defaultTuning)
}

// connect selects the API version (once per process: a second call with
// another version fails with api_version_already_set) and opens the
// database of clusterFile ("" for the default cluster file). The bindings
// start the client's network thread with the first database.
func connect(clusterFile string, apiVersion int) (database, error) {
	if err := fdbgo.APIVersion(apiVersion); err != nil {
		return nil, codeOf(err)
	}
	db, err := fdbgo.OpenDatabase(clusterFile)
	if err != nil {
		return nil, codeOf(err)
	}
	return cgoDatabase{db}, nil
}

// codeOf turns the bindings' fdb.Error into a *CodeError.
func codeOf(err error) error {
	var fe fdbgo.Error
	if errors.As(err, &fe) {
		return &CodeError{Code: fe.Code, Desc: fe.Error()}
	}
	return err
}

type cgoDatabase struct{ db fdbgo.Database }

func (d cgoDatabase) createTransaction() (transaction, error) {
	tr, err := d.db.CreateTransaction()
	if err != nil {
		return nil, codeOf(err)
	}
	return cgoTransaction{tr}, nil
}

type cgoTransaction struct{ tr fdbgo.Transaction }

func (t cgoTransaction) setTimeout(ms int64) error { return codeOf(t.tr.Options().SetTimeout(ms)) }

func (t cgoTransaction) get(key []byte) ([]byte, error) {
	v, err := t.tr.Get(fdbgo.Key(key)).Get()
	if err != nil {
		return nil, codeOf(err)
	}
	return v, nil
}

// getRange reads one batch. With a limit, GetSliceWithError reads in
// StreamingModeExact (the mode for "exactly this many rows, in one
// batch"); WantAll is what it would use without one.
func (t cgoTransaction) getRange(begin, end []byte, limit int, reverse bool) ([]keyValue, error) {
	kvs, err := t.tr.GetRange(
		fdbgo.KeyRange{Begin: fdbgo.Key(begin), End: fdbgo.Key(end)},
		fdbgo.RangeOptions{Limit: limit, Reverse: reverse, Mode: fdbgo.StreamingModeWantAll},
	).GetSliceWithError()
	if err != nil {
		return nil, codeOf(err)
	}
	out := make([]keyValue, len(kvs))
	for i, kv := range kvs {
		out[i] = keyValue{key: kv.Key, value: kv.Value}
	}
	return out, nil
}

func (t cgoTransaction) set(key, value []byte) { t.tr.Set(fdbgo.Key(key), value) }

func (t cgoTransaction) clear(key []byte) { t.tr.Clear(fdbgo.Key(key)) }

func (t cgoTransaction) clearRange(begin, end []byte) {
	t.tr.ClearRange(fdbgo.KeyRange{Begin: fdbgo.Key(begin), End: fdbgo.Key(end)})
}

func (t cgoTransaction) watch(key []byte) future { return cgoFuture{t.tr.Watch(fdbgo.Key(key))} }

func (t cgoTransaction) commit() error { return codeOf(t.tr.Commit().Get()) }

func (t cgoTransaction) cancel() { t.tr.Cancel() }

type cgoFuture struct{ f fdbgo.FutureNil }

func (f cgoFuture) get() error { return codeOf(f.f.Get()) }

func (f cgoFuture) cancel() { f.f.Cancel() }
