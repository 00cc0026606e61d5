package kv

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// listPage is how many keys one storage List call returns while a folder
// is listed: a listing of any size holds at most this many storage keys at
// a time besides the names it returns.
const listPage = 1000

// ensureFolders creates the markers of every folder above path that lacks
// one, from the innermost up. A folder that has its marker has its
// ancestors' too (markers are created bottom-up in one transaction and
// removed top-down only when empty), so the walk stops at the first marker
// found: an update of an existing secret costs one Get.
func ensureFolders(w writer, path string) error {
	folder, _ := splitPath(path)
	for folder != "" {
		parent, child := splitPath(strings.TrimSuffix(folder, "/"))
		key := tuple.Pack("m", parent, child+"/")
		_, err := w.Get(key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, seal.ErrNotFound) {
			return err
		}
		if err := w.Set(key, nil); err != nil {
			return err
		}
		folder = parent
	}
	return nil
}

// pruneFolders removes the markers of the folders above path that are now
// empty, from the innermost up, after the entry at path was removed.
func pruneFolders(w writer, path string) error {
	folder, _ := splitPath(path)
	for folder != "" {
		keys, err := w.List(folderPrefix(folder), nil, 1)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			return nil
		}
		parent, child := splitPath(strings.TrimSuffix(folder, "/"))
		if err := w.Delete(tuple.Pack("m", parent, child+"/")); err != nil {
			return err
		}
		folder = parent
	}
	return nil
}

// listFolder calls fn with the names directly in folder ("" or ending with
// "/"), in key order: secret names, and sub-folder names ending with "/".
// It pages through the keys listPage at a time, each page in its own read
// transaction (so a folder of any size stays within the storage's
// transaction time limit), and never loads a value unless fn does with the
// reader it is given, which belongs to the page's transaction.
func listFolder(ctx context.Context, st store, folder string, fn func(r reader, name string) error) error {
	prefix := folderPrefix(folder)
	var after []byte
	for {
		var n int
		err := st.view(ctx, func(r reader) error {
			keys, err := r.List(prefix, after, listPage)
			if err != nil {
				return err
			}
			n = len(keys)
			for _, k := range keys {
				name, err := entryName(prefix, k)
				if err != nil {
					return err
				}
				if err := fn(r, name); err != nil {
					return err
				}
			}
			if n > 0 {
				after = keys[n-1]
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n < listPage {
			return nil
		}
	}
}

// entryName decodes the last element of an entry or marker key.
func entryName(prefix, key []byte) (string, error) {
	if len(key) <= len(prefix) {
		return "", errCorrupt("folder", fmt.Errorf("key %x outside its folder", key))
	}
	elems, err := tuple.Unpack(key[len(prefix):])
	if err != nil {
		return "", errCorrupt("folder", err)
	}
	if len(elems) != 1 {
		return "", errCorrupt("folder", fmt.Errorf("key %x has %d elements after the folder", key, len(elems)))
	}
	name, ok := elems[0].(string)
	if !ok || name == "" {
		return "", errCorrupt("folder", fmt.Errorf("key %x has no name", key))
	}
	return name, nil
}
