// Package outbox writes one message per file into a directory, the way the
// demo mail and SMS outboxes deliver: readable only by the service user, and
// never visible half-written.
package outbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Write stores data as a new file in dir (created 0700 if missing), mode
// 0600, named after t then a random part and ending in ext, and returns its
// path. The file is written under a hidden temporary name, flushed, then
// renamed, so a reader listing *ext never sees half a message.
func Write(dir, ext string, t time.Time, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	// Time first so names sort in sending order; the random part keeps two
	// messages of the same nanosecond apart.
	name := t.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(rnd[:])
	final := filepath.Join(dir, name+ext)
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := writeNew(tmp, data); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return final, nil
}

// writeNew creates path (which must not exist), writes data and flushes it
// to disk before the caller renames it into place.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// Newest lists the paths of the delivered files (ending in ext) in dir,
// newest first, as Write names them. A missing dir holds no messages.
// Files still being written are not listed.
func Newest(dir, ext string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ext) {
			names = append(names, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	return paths, nil
}
