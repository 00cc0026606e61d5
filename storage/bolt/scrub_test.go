package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/storage"
)

// TestScrubRemovesDeletedValues writes distinctive values, deletes or
// overwrites them, and checks that they are in the raw file before Scrub
// (bbolt keeps them in free pages) and gone after it, while live values
// stay readable.
func TestScrubRemovesDeletedValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	secret := func() []byte {
		b := make([]byte, 64)
		rand.Read(b)
		return b
	}
	deleted, overwritten, live := secret(), secret(), secret()
	big := bytes.Repeat(secret(), 4000) // 256 KB: chunked, on overflow pages
	for k, v := range map[string][]byte{"deleted": deleted, "overwritten": overwritten, "live": live, "big": big} {
		if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte(k), v) }); err != nil {
			t.Fatal(err)
		}
	}
	st.Update(ctx, func(tx storage.Tx) error { return tx.Delete([]byte("deleted")) })
	st.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("overwritten"), []byte("new")) })
	st.Update(ctx, func(tx storage.Tx) error { return tx.Delete([]byte("big")) })
	raw, _ := os.ReadFile(path)
	// The premise: bbolt left the deleted values in its free pages.
	if !bytes.Contains(raw, big[:64]) {
		t.Fatal("the deleted 256 KB value is not in the file before Scrub: the test shows nothing")
	}
	if err := storage.Scrub(ctx, st); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(path)
	for name, v := range map[string][]byte{"deleted": deleted, "overwritten": overwritten, "big": big[:64]} {
		if bytes.Contains(raw, v) {
			t.Errorf("the %s value is still in the file after Scrub", name)
		}
	}
	if !bytes.Contains(raw, live) {
		t.Fatal("Scrub removed a live value from the file")
	}
	var got []byte
	if err := st.View(ctx, func(tx storage.ReadTx) error { var err error; got, err = tx.Get([]byte("live")); return err }); err != nil || !bytes.Equal(got, live) {
		t.Fatalf("live value after Scrub: %v", err)
	}
	st.Close()
	// The file still opens and passes bbolt's consistency check.
	db, err := OpenRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("consistency check after Scrub: %v", err)
	}
}

// TestScrubConcurrent runs Scrub while readers and writers work; nothing
// they read may be corrupt.
func TestScrubConcurrent(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	val := bytes.Repeat([]byte("v"), 3000)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := []byte{byte(w), byte(i % 50)}
				if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(k, val) }); err != nil {
					errs <- err
					return
				}
				err := st.View(ctx, func(tx storage.ReadTx) error {
					got, err := tx.Get(k)
					if err == nil && !bytes.Equal(got, val) {
						t.Errorf("corrupt read during Scrub")
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				if i%7 == 0 {
					st.Update(ctx, func(tx storage.Tx) error { return tx.Delete(k) })
				}
			}
		}()
	}
	for range 20 {
		if err := storage.Scrub(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
