package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// dbChunk is how many sealed bytes go in one database row: large enough
// that a 10 MiB document is ten rows, small enough that no statement
// carries much.
const dbChunk = 1 << 20

// backend is where the sealed bytes of a blob go: files under Dir, or a
// BlobStore.
type backend interface {
	// create starts blob id; nothing is visible until commit.
	create(ctx context.Context, id string) (blobWriter, error)
	// open reads a committed blob; ErrNotFound (wrapped) when absent.
	open(ctx context.Context, id string) (io.ReadCloser, error)
	remove(ctx context.Context, id string) error
	cleanTemp(ctx context.Context, before time.Time) (int, error)
}

type blobWriter interface {
	io.Writer
	commit() error
	abort()
}

func (s *Store) backend() backend {
	switch {
	case s.Blobs != nil && s.Dir != "":
		return upgradeBackend{db: dbBackend{s.Blobs}, files: fileBackend{s.Dir}}
	case s.Blobs != nil:
		return dbBackend{s.Blobs}
	}
	return fileBackend{s.Dir}
}

// upgradeBackend writes to the database and still reads, deletes and
// sweeps the files that versions before the database backend left under
// Dir, so items stored then keep opening until their retention ends.
type upgradeBackend struct {
	db    dbBackend
	files fileBackend
}

func (b upgradeBackend) create(ctx context.Context, id string) (blobWriter, error) {
	return b.db.create(ctx, id)
}

func (b upgradeBackend) open(ctx context.Context, id string) (io.ReadCloser, error) {
	rc, err := b.db.open(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return b.files.open(ctx, id)
	}
	return rc, err
}

func (b upgradeBackend) remove(ctx context.Context, id string) error {
	return errors.Join(b.db.remove(ctx, id), b.files.remove(ctx, id))
}

func (b upgradeBackend) cleanTemp(ctx context.Context, before time.Time) (int, error) {
	n, err := b.db.cleanTemp(ctx, before)
	m, ferr := b.files.cleanTemp(ctx, before)
	return n + m, errors.Join(err, ferr)
}

// --- files under Dir: <Dir>/<first 2 hex of ID>/<ID> ---

type fileBackend struct{ dir string }

func (b fileBackend) path(id string) string { return filepath.Join(b.dir, id[:2], id) }

type fileWriter struct {
	f          *os.File
	tmp, final string
	shard      string
}

func (b fileBackend) create(_ context.Context, id string) (blobWriter, error) {
	shard := filepath.Join(b.dir, id[:2])
	if err := os.MkdirAll(shard, 0o700); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	tmp := filepath.Join(shard, "."+id+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return &fileWriter{f: f, tmp: tmp, final: b.path(id), shard: shard}, nil
}

func (w *fileWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *fileWriter) commit() error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("evidence: write: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("evidence: write: %w", err)
	}
	if err := os.Rename(w.tmp, w.final); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("evidence: %w", err)
	}
	syncDir(w.shard)
	return nil
}

func (w *fileWriter) abort() {
	w.f.Close()
	os.Remove(w.tmp)
}

func (b fileBackend) open(_ context.Context, id string) (io.ReadCloser, error) {
	f, err := os.Open(b.path(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return f, nil
}

func (b fileBackend) remove(_ context.Context, id string) error {
	if err := os.Remove(b.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("evidence: delete %s: %w", id, err)
	}
	syncDir(filepath.Join(b.dir, id[:2]))
	return nil
}

func (b fileBackend) cleanTemp(ctx context.Context, before time.Time) (int, error) {
	shards, err := os.ReadDir(b.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("evidence: %w", err)
	}
	removed := 0
	var errs []error
	for _, sh := range shards {
		if !sh.IsDir() || len(sh.Name()) != 2 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("evidence: clean: %w", err)
		}
		dir := filepath.Join(b.dir, sh.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("evidence: clean: %w", err))
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tmp") {
				continue
			}
			info, err := e.Info()
			if err != nil || !info.ModTime().Before(before) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("evidence: clean: %w", err))
				continue
			}
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

// --- a BlobStore: chunks of dbChunk sealed bytes, committed at the end ---

type dbBackend struct{ bs storage.Blobs }

type dbWriter struct {
	ctx context.Context
	bs  storage.Blobs
	id  string
	buf []byte
	n   int // chunks stored
}

func (b dbBackend) create(ctx context.Context, id string) (blobWriter, error) {
	return &dbWriter{ctx: ctx, bs: b.bs, id: id, buf: make([]byte, 0, dbChunk)}, nil
}

func (w *dbWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), dbChunk-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, written = p[k:], written+k
		if len(w.buf) == dbChunk {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (w *dbWriter) flush() error {
	if err := w.bs.PutBlobChunk(w.ctx, w.id, w.n, w.buf); err != nil {
		return fmt.Errorf("evidence: store chunk %d: %w", w.n, err)
	}
	w.n++
	w.buf = w.buf[:0]
	return nil
}

func (w *dbWriter) commit() error {
	if len(w.buf) > 0 || w.n == 0 {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if err := w.bs.CommitBlob(w.ctx, w.id, w.n); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	return nil
}

// abort removes what was stored, even when the upload was cancelled; what
// it cannot remove is swept by CleanTemp.
func (w *dbWriter) abort() {
	if w.n > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 10*time.Second)
		defer cancel()
		_ = w.bs.DeleteBlob(ctx, w.id)
	}
}

func (b dbBackend) open(ctx context.Context, id string) (io.ReadCloser, error) {
	n, err := b.bs.BlobChunks(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return &dbReader{ctx: ctx, bs: b.bs, id: id, chunks: n}, nil
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

type dbReader struct {
	ctx    context.Context
	bs     storage.Blobs
	id     string
	chunks int
	next   int
	cur    []byte
}

func (r *dbReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.next == r.chunks {
			return 0, io.EOF
		}
		data, err := r.bs.GetBlobChunk(r.ctx, r.id, r.next)
		if err != nil {
			if isNotFound(err) {
				return 0, fmt.Errorf("%w: chunk %d of %s missing", ErrIntegrity, r.next, r.id)
			}
			return 0, fmt.Errorf("evidence: read: %w", err)
		}
		r.cur, r.next = data, r.next+1
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *dbReader) Close() error { return nil }

func (b dbBackend) remove(ctx context.Context, id string) error {
	if err := b.bs.DeleteBlob(ctx, id); err != nil {
		return fmt.Errorf("evidence: delete %s: %w", id, err)
	}
	return nil
}

func (b dbBackend) cleanTemp(ctx context.Context, before time.Time) (int, error) {
	n, err := b.bs.DeleteUncommittedBlobs(ctx, before)
	if err != nil {
		return n, fmt.Errorf("evidence: clean: %w", err)
	}
	return n, nil
}
