package evidence

import (
	"bufio"
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/spid-idp/spid-idp/keys/datakey"
)

// Blob layout:
//
//	magic "SPIDEVB" | version 1 (1 byte) | wrapped-key length (uint16 BE) |
//	wrapped item key (datakey, AD = keyAD(ID)) | chunk…
//
// Each chunk is at most chunkSize plaintext bytes sealed with AES-256-GCM
// under the item key (tag 16 bytes); the nonce is an 11-byte big-endian
// chunk counter followed by 1 for the last chunk and 0 otherwise, so
// chunks cannot be reordered, dropped from the end, or appended. The
// nonce never repeats because every item has its own key. Every chunk but
// the last is full; the last is non-empty unless the whole plaintext is.
const (
	chunkSize = 64 << 10
	tagSize   = 16
	version1  = 1
)

var magic = []byte("SPIDEVB")

// wrappedKeyLen is what datakey makes of a 32-byte key.
const wrappedKeyLen = 32 + datakey.Overhead

func writeHeader(w io.Writer, wrapped []byte) error {
	h := make([]byte, 0, len(magic)+3+len(wrapped))
	h = append(h, magic...)
	h = append(h, version1)
	h = binary.BigEndian.AppendUint16(h, uint16(len(wrapped)))
	h = append(h, wrapped...)
	_, err := w.Write(h)
	return err
}

func readHeader(r io.Reader) ([]byte, error) {
	h := make([]byte, len(magic)+3)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, fmt.Errorf("%w: short header", ErrIntegrity)
	}
	if string(h[:len(magic)]) != string(magic) {
		return nil, fmt.Errorf("%w: not an evidence blob", ErrIntegrity)
	}
	if v := h[len(magic)]; v != version1 {
		return nil, fmt.Errorf("%w: unknown blob version %d", ErrIntegrity, v)
	}
	if n := binary.BigEndian.Uint16(h[len(magic)+1:]); n != wrappedKeyLen {
		return nil, fmt.Errorf("%w: wrapped key of %d bytes", ErrIntegrity, n)
	}
	wrapped := make([]byte, wrappedKeyLen)
	if _, err := io.ReadFull(r, wrapped); err != nil {
		return nil, fmt.Errorf("%w: short header", ErrIntegrity)
	}
	return wrapped, nil
}

func chunkNonce(counter uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[3:11], counter)
	if last {
		n[11] = 1
	}
	return n
}

// sealWriter seals what is written to it chunk by chunk. It holds back a
// full chunk until more data arrives, because only Close knows which chunk
// is the last.
type sealWriter struct {
	w       io.Writer
	aead    cipher.AEAD
	buf     []byte
	out     []byte
	counter uint64
}

func newSealWriter(w io.Writer, aead cipher.AEAD) *sealWriter {
	return &sealWriter{w: w, aead: aead, buf: make([]byte, 0, chunkSize), out: make([]byte, 0, chunkSize+tagSize)}
}

func (s *sealWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if len(s.buf) == chunkSize {
			if err := s.flush(false); err != nil {
				return total - len(p), err
			}
		}
		n := copy(s.buf[len(s.buf):chunkSize], p)
		s.buf = s.buf[:len(s.buf)+n]
		p = p[n:]
	}
	return total, nil
}

func (s *sealWriter) flush(last bool) error {
	s.out = s.aead.Seal(s.out[:0], chunkNonce(s.counter, last), s.buf, magic)
	s.counter++
	s.buf = s.buf[:0]
	_, err := s.w.Write(s.out)
	return err
}

// Close seals the last chunk; it does not close the underlying writer.
func (s *sealWriter) Close() error { return s.flush(true) }

// openReader authenticates and decrypts chunk by chunk, hashing the
// plaintext; at the end it checks the recorded size and SHA-256.
type openReader struct {
	ctx     context.Context
	f       io.ReadCloser
	r       *bufio.Reader
	aead    cipher.AEAD
	in      []byte
	plain   []byte // decrypted, not yet returned
	counter uint64
	last    bool // the last chunk has been decrypted
	err     error
	sum     hash.Hash
	wantSum []byte
	want    int64
	got     int64
}

func newOpenReader(ctx context.Context, f io.ReadCloser, aead cipher.AEAD, sum []byte, size int64) *openReader {
	return &openReader{
		ctx: ctx, f: f, r: bufio.NewReaderSize(f, chunkSize+tagSize+1), aead: aead,
		in: make([]byte, chunkSize+tagSize), sum: sha256.New(), wantSum: sum, want: size,
	}
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.last {
			o.err = o.finish()
			continue
		}
		if err := o.ctx.Err(); err != nil {
			o.err = err
			continue
		}
		o.err = o.next()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// next decrypts one chunk into o.plain.
func (o *openReader) next() error {
	n, err := io.ReadFull(o.r, o.in)
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: blob truncated", ErrIntegrity)
	case errors.Is(err, io.ErrUnexpectedEOF):
		o.last = true
	case err != nil:
		return fmt.Errorf("evidence: read: %w", err)
	default:
		if _, err := o.r.Peek(1); errors.Is(err, io.EOF) {
			o.last = true
		} else if err != nil {
			return fmt.Errorf("evidence: read: %w", err)
		}
	}
	plain, err := o.aead.Open(o.in[:0], chunkNonce(o.counter, o.last), o.in[:n], magic)
	if err != nil {
		return fmt.Errorf("%w: chunk %d does not authenticate", ErrIntegrity, o.counter)
	}
	if o.last && len(plain) == 0 && o.counter > 0 {
		return fmt.Errorf("%w: empty last chunk", ErrIntegrity)
	}
	o.counter++
	o.got += int64(len(plain))
	o.sum.Write(plain)
	o.plain = plain
	return nil
}

// finish compares what was read with the item's record.
func (o *openReader) finish() error {
	if o.got != o.want {
		return fmt.Errorf("%w: %d bytes, recorded %d", ErrIntegrity, o.got, o.want)
	}
	if subtle.ConstantTimeCompare(o.sum.Sum(nil), o.wantSum) != 1 {
		return fmt.Errorf("%w: content does not match the recorded SHA-256", ErrIntegrity)
	}
	return io.EOF
}

func (o *openReader) Close() error { return o.f.Close() }
