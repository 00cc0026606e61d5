package bolt

import (
	"context"
	"fmt"
	"os"

	"github.com/strongroom/strongroom/storage"
)

var _ storage.Scrubber = (*DB)(nil)

// Scrub overwrites with zeros every page of the file that holds no live
// data. bbolt is copy-on-write: a deleted or overwritten value stays in the
// file's free pages until bbolt reuses them, so without Scrub a destroyed
// secret (even encrypted under a key that still exists) could be read back
// from the raw file.
//
// Scrub waits for the read transactions in flight and blocks new ones, then
// takes bbolt's writer lock. With no reader open, bbolt's first write
// transaction releases every pending page to the free list, so each page
// the free list names is referenced by no transaction and by neither meta
// page's tree; Scrub writes zeros over them through its own file descriptor
// and syncs. Pages freed this way were about to be reused by bbolt anyway,
// so Scrub never touches a page a crash recovery could still need.
func (d *DB) Scrub(ctx context.Context) error {
	if err := storage.ContextErr(ctx); err != nil {
		return err
	}
	d.readers.Lock()
	defer d.readers.Unlock()
	btx, err := d.db.Begin(true)
	if err != nil {
		return translate(err)
	}
	defer btx.Rollback()
	f, err := os.OpenFile(d.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("bolt: scrub: %w", err)
	}
	defer f.Close()
	pageSize := d.db.Info().PageSize
	zeros := make([]byte, pageSize)
	scrubbed := 0
	for id := 2; ; id++ {
		info, err := btx.Page(id)
		if err != nil {
			return fmt.Errorf("bolt: scrub: %w", translate(err))
		}
		if info == nil {
			break // past the high-water mark
		}
		if info.Type != "free" {
			continue
		}
		if _, err := f.WriteAt(zeros, int64(id)*int64(pageSize)); err != nil {
			return fmt.Errorf("bolt: scrub: %w", err)
		}
		scrubbed++
	}
	if scrubbed > 0 {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("bolt: scrub: %w", err)
		}
	}
	d.stats.scrubbed.Add(uint64(scrubbed))
	return nil
}

// Check runs bbolt's consistency check over the whole file.
func (d *DB) Check() error {
	d.readers.RLock()
	defer d.readers.RUnlock()
	tx, err := d.db.Begin(false)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	for err := range tx.Check() {
		return fmt.Errorf("bolt: check: %w", err)
	}
	return nil
}
