package evidence

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/spid-idp/spid-idp/keys/datakey"
)

var testNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newSealer(t testing.TB, previous ...[]byte) (*datakey.Sealer, []byte) {
	t.Helper()
	k, err := datakey.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := datakey.New(k, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func newStore(t testing.TB) *Store {
	t.Helper()
	s, _ := newSealer(t)
	return &Store{Dir: t.TempDir(), Sealer: s, Now: func() time.Time { return testNow }}
}

// Sample contents. marker is distinctive text that must never appear in a
// blob file (E093).
const marker = "CODICE-FISCALE-RSSMRA80A01H501U"

func jpeg(n int) []byte { return pad([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"+marker), n) }
func png(n int) []byte  { return pad([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"+marker), n) }
func pdf(n int) []byte  { return pad([]byte("%PDF-1.7\n%"+marker+"\n"), n) }

// pad extends b to n bytes with a varying pattern, so chunks differ.
func pad(b []byte, n int) []byte {
	for i := len(b); i < n; i++ {
		b = append(b, byte(i*7+i/251))
	}
	return b
}

// signedP7M is a real CAdES-style attached signature over content, made
// with a throw-away certificate.
func signedP7M(t testing.TB, content []byte) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "ROSSI MARIO", SerialNumber: "TINIT-RSSMRA80A01H501U"},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(time.Hour),
		KeyUsage:     x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	p7m, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return p7m
}

func readAll(t *testing.T, s *Store, it Item) ([]byte, error) {
	t.Helper()
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestRoundTrip(t *testing.T) {
	s := newStore(t)
	p7m := signedP7M(t, pdf(3000))
	tests := []struct {
		name, kind string
		content    []byte
		wantType   string
	}{
		{"jpeg front", KindDocumentFront, jpeg(200_000), TypeJPEG},
		{"png back", KindDocumentBack, png(5000), TypePNG},
		{"pdf one byte over a chunk", KindVisuraCamerale, pdf(chunkSize + 1), TypePDF},
		{"pdf exactly one chunk", KindTaxcodeFront, pdf(chunkSize), TypePDF},
		{"pdf exactly three chunks", KindTaxcodeBack, pdf(3 * chunkSize), TypePDF},
		{"tiny pdf", KindPoliceReport, []byte("%PDF-"), TypePDF},
		{"signed form p7m", KindAdhesionFormSigned, p7m, TypeP7M},
		{"pdf as a signature report", KindSignatureReport, pdf(1000), TypePDF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := s.Put(context.Background(), tc.kind, "application/octet-stream", bytes.NewReader(tc.content), 0)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			sum := sha256.Sum256(tc.content)
			if it.SHA256 != hex.EncodeToString(sum[:]) || it.Size != int64(len(tc.content)) {
				t.Errorf("recorded SHA-256 %s size %d, want %x %d", it.SHA256, it.Size, sum, len(tc.content))
			}
			if it.MediaType != tc.wantType || it.Kind != tc.kind || !it.CreatedAt.Equal(testNow) {
				t.Errorf("item = %+v", it)
			}
			if it.RetentionClass != ClassAdhesion || !it.RetainUntil.IsZero() || it.LegalHold {
				t.Errorf("retention: class %q until %v hold %v", it.RetentionClass, it.RetainUntil, it.LegalHold)
			}
			if !validID(it.ID) {
				t.Errorf("ID %q", it.ID)
			}
			path := filepath.Join(s.Dir, it.ID[:2], it.ID)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("blob not at <dir>/<2 hex>/<id>: %v", err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("blob mode %v, want 0600", fi.Mode().Perm())
			}
			if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
				t.Errorf("shard mode %v, want 0700", di.Mode().Perm())
			}
			raw, _ := os.ReadFile(path)
			if bytes.Contains(raw, []byte(marker)) || bytes.Contains(raw, tc.content[:min(len(tc.content), 64)]) {
				t.Error("blob file holds plaintext")
			}
			got, err := readAll(t, s, it)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.content) {
				t.Errorf("read back %d bytes, differ from the %d stored", len(got), len(tc.content))
			}
			if err := s.Verify(context.Background(), it); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestRecordKinds(t *testing.T) {
	s := newStore(t)
	tests := []struct {
		name, kind, declared, content, want string
	}{
		{"checklist json", KindVideoChecklist, "application/json", `{"document_shown":true}`, "application/json"},
		{"chain pem", KindClientCertificateChain, "application/pem-certificate-chain", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "application/pem-certificate-chain"},
		{"log with parameters", KindCNSTransactionLog, "application/json; charset=utf-8", `{"serial":"01"}`, "application/json"},
		{"undeclared text", KindAgentChecklist, "", "ok", "text/plain"},
		{"unlisted declaration", KindAuthoritativeCheck, "image/svg+xml", "ok", "text/plain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := s.Put(context.Background(), tc.kind, tc.declared, strings.NewReader(tc.content), 0)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if it.MediaType != tc.want {
				t.Errorf("media type %q, want %q", it.MediaType, tc.want)
			}
			if got, err := readAll(t, s, it); err != nil || string(got) != tc.content {
				t.Errorf("read back %q, %v", got, err)
			}
		})
	}
}

// countingReader yields a PDF header then endless bytes, counting reads.
type countingReader struct {
	head []byte
	read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n := 0
	if len(c.head) > 0 {
		n = copy(p, c.head)
		c.head = c.head[n:]
	}
	for i := n; i < len(p); i++ {
		p[i] = byte(i)
	}
	c.read += int64(len(p))
	return len(p), nil
}

func TestOversized(t *testing.T) {
	s := newStore(t)
	t.Run("explicit limit", func(t *testing.T) {
		if _, err := s.Put(context.Background(), KindDocumentFront, "", bytes.NewReader(jpeg(1001)), 1000); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("1001 bytes with limit 1000: %v, want ErrTooLarge", err)
		}
		if _, err := s.Put(context.Background(), KindDocumentFront, "", bytes.NewReader(jpeg(1000)), 1000); err != nil {
			t.Fatalf("exactly the limit: %v", err)
		}
	})
	t.Run("default limit on an endless stream", func(t *testing.T) {
		r := &countingReader{head: pdf(100)}
		_, err := s.Put(context.Background(), KindDocumentFront, "", r, 0)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("endless upload: %v, want ErrTooLarge", err)
		}
		// Read stops just past the limit (plus one read buffer).
		if r.read > DefaultMaxBytes+64<<10 {
			t.Errorf("read %d bytes of an endless upload; limit %d", r.read, DefaultMaxBytes)
		}
	})
	t.Run("video has its own larger default", func(t *testing.T) {
		webm := pad([]byte("\x1a\x45\xdf\xa3"), DefaultMaxBytes+1)
		it, err := s.Put(context.Background(), KindVideoRecording, "video/webm", bytes.NewReader(webm), 0)
		if err != nil {
			t.Fatalf("11 MiB recording: %v", err)
		}
		if it.MediaType != "video/webm" || it.RetentionClass != ClassVideo {
			t.Errorf("item = %+v", it)
		}
		if err := s.Verify(context.Background(), it); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})
	assertOnlyItems(t, s, 2)
}

// assertOnlyItems checks the store holds exactly n blobs and no leftovers
// (refused uploads leave nothing, E020).
func assertOnlyItems(t *testing.T, s *Store, n int) {
	t.Helper()
	var files []string
	filepath.WalkDir(s.Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != n {
		t.Errorf("store holds %d files, want %d: %v", len(files), n, files)
	}
}

func TestWrongType(t *testing.T) {
	s := newStore(t)
	exe := pad([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00This program cannot be run in DOS mode.PE\x00\x00"), 4096)
	html := []byte("<!DOCTYPE html><html><head><title>Carta d'identità</title></head><body><script>alert(1)</script></body></html>")
	zip := pad([]byte("PK\x03\x04\x14\x00"), 300)
	tests := []struct {
		name, kind, declared string
		content              []byte
		want                 error
	}{
		{"exe as a document", KindDocumentFront, "image/jpeg", exe, ErrMediaType},
		{"html as a document", KindDocumentBack, "application/pdf", html, ErrMediaType},
		{"zip as a signed form", KindAdhesionFormSigned, "application/pkcs7-mime", zip, ErrMediaType},
		{"text as a document", KindTaxcodeFront, "", []byte("just text"), ErrMediaType},
		{"html as a record", KindVideoChecklist, "application/json", html, ErrMediaType},
		{"exe as a record", KindCNSTransactionLog, "application/json", exe, ErrMediaType},
		{"empty", KindDocumentFront, "image/png", nil, ErrEmpty},
		{"unknown kind", "selfie", "image/jpeg", jpeg(100), ErrUnknownKind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Put(context.Background(), tc.kind, tc.declared, bytes.NewReader(tc.content), 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Put = %v, want %v", err, tc.want)
			}
		})
	}
	assertOnlyItems(t, s, 0)
}

func TestSniff(t *testing.T) {
	oid := "\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"
	tests := []struct {
		name, head, want string
	}{
		{"p7m definite long form", "\x30\x82\x10\x00" + oid + "\xa0\x80", TypeP7M},
		{"p7m indefinite (BER)", "\x30\x80" + oid + "\xa0\x80", TypeP7M},
		{"p7m short form", "\x30\x20" + oid, TypeP7M},
		{"enveloped data is not a signature", "\x30\x82\x10\x00\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03", "application/octet-stream"},
		{"certificate", "\x30\x82\x03\x00\x30\x82\x02\x00\xa0\x03", "application/octet-stream"},
		{"truncated", "\x30\x82\x10", "application/octet-stream"},
		{"bad length", "\x30\x85\x00\x00\x00\x00\x10" + oid, "application/octet-stream"},
		{"pdf", "%PDF-1.4", "application/pdf"},
		{"p7m as base64", base64.StdEncoding.EncodeToString([]byte("\x30\x82\x10\x00" + oid + "\xa0\x80\x30\x80\x02\x01")), TypeP7M},
		{"p7m as PEM", "-----BEGIN PKCS7-----\r\n" + base64.StdEncoding.EncodeToString([]byte("\x30\x80"+oid+"\xa0\x80\x30\x80\x02\x01\x01\x31")) + "\r\n", TypeP7M},
		{"base64 of a certificate", base64.StdEncoding.EncodeToString([]byte("\x30\x82\x03\x00\x30\x82\x02\x00\xa0\x03\x02\x01\x02\x02\x01")), "text/plain; charset=utf-8"},
		{"plain text", "Buongiorno, allego il modulo.", "text/plain; charset=utf-8"},
	}
	for _, tc := range tests {
		if got := Sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("%s: Sniff = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// put stores a multi-chunk PDF and returns the item and its blob path.
func put(t *testing.T, s *Store, n int) (Item, string) {
	t.Helper()
	it, err := s.Put(context.Background(), KindDocumentFront, "", bytes.NewReader(pdf(n)), 0)
	if err != nil {
		t.Fatal(err)
	}
	return it, filepath.Join(s.Dir, it.ID[:2], it.ID)
}

func TestTampered(t *testing.T) {
	s := newStore(t)
	header := len(magic) + 3 + wrappedKeyLen
	size := 2*chunkSize + 100
	tests := []struct {
		name   string
		mutate func(t *testing.T, it *Item, path string)
	}{
		{"magic", flip(0)},
		{"version", flip(len(magic))},
		{"wrapped key", flip(len(magic) + 3 + 20)},
		{"first chunk", flip(header + 10)},
		{"last chunk tag", flip(-1)},
		{"last chunk dropped", func(t *testing.T, _ *Item, path string) {
			os.Truncate(path, int64(header+2*(chunkSize+tagSize)))
		}},
		{"cut inside a chunk", func(t *testing.T, _ *Item, path string) {
			os.Truncate(path, int64(header+chunkSize))
		}},
		{"bytes appended", func(t *testing.T, _ *Item, path string) {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.Write(make([]byte, tagSize+1))
			f.Close()
		}},
		{"chunks swapped", func(t *testing.T, _ *Item, path string) {
			raw, _ := os.ReadFile(path)
			c0 := append([]byte(nil), raw[header:header+chunkSize+tagSize]...)
			copy(raw[header:], raw[header+chunkSize+tagSize:header+2*(chunkSize+tagSize)])
			copy(raw[header+chunkSize+tagSize:], c0)
			os.WriteFile(path, raw, 0o600)
		}},
		{"blob of another item", func(t *testing.T, _ *Item, path string) {
			_, other := put(t, s, size)
			raw, _ := os.ReadFile(other)
			os.WriteFile(path, raw, 0o600)
		}},
		{"recorded hash altered", func(t *testing.T, it *Item, _ string) {
			it.SHA256 = strings.Repeat("0", 64)
		}},
		{"recorded size altered", func(t *testing.T, it *Item, _ string) { it.Size-- }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, path := put(t, s, size)
			tc.mutate(t, &it, path)
			err := s.Verify(context.Background(), it)
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("Verify = %v, want ErrIntegrity", err)
			}
		})
	}
}

// flip returns a mutation inverting one byte of the blob at off (negative:
// from the end).
func flip(off int) func(*testing.T, *Item, string) {
	return func(t *testing.T, _ *Item, path string) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if off < 0 {
			off += len(raw)
		}
		raw[off] ^= 0xff
		os.WriteFile(path, raw, 0o600)
	}
}

func TestTamperedNoPlaintextBeforeError(t *testing.T) {
	// The chunk that was altered is never handed out: only earlier, intact
	// chunks are.
	s := newStore(t)
	it, path := put(t, s, 3*chunkSize)
	flip(len(magic)+3+wrappedKeyLen+(chunkSize+tagSize)+5)(t, &it, path)
	rc, err := s.Open(context.Background(), it)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("read = %v, want ErrIntegrity", err)
	}
	if len(got) != chunkSize || !bytes.Equal(got, pdf(3 * chunkSize)[:chunkSize]) {
		t.Errorf("got %d bytes before the error, want the first intact chunk only", len(got))
	}
}

func TestMasterKeys(t *testing.T) {
	oldSealer, oldKey := newSealer(t)
	s := &Store{Dir: t.TempDir(), Sealer: oldSealer}
	it, _ := put(t, s, 1000)

	other, _ := newSealer(t)
	wrong := &Store{Dir: s.Dir, Sealer: other}
	if _, err := wrong.Open(context.Background(), it); !errors.Is(err, datakey.ErrUnknownKey) {
		t.Fatalf("Open with another master key = %v, want datakey.ErrUnknownKey", err)
	}

	// Rotation: the old key listed as previous still opens old items,
	// while new items are wrapped with the new key.
	rotated, _ := newSealer(t, oldKey)
	r := &Store{Dir: s.Dir, Sealer: rotated}
	if err := r.Verify(context.Background(), it); err != nil {
		t.Fatalf("rotated store cannot open an old item: %v", err)
	}
	newIt, _ := put(t, r, 1000)
	if _, err := s.Open(context.Background(), newIt); !errors.Is(err, datakey.ErrUnknownKey) {
		t.Errorf("old store opened an item wrapped with the new key: %v", err)
	}
}

func TestDeleteAndNotFound(t *testing.T) {
	s := newStore(t)
	it, path := put(t, s, 100)
	held := it
	held.LegalHold = true
	if err := s.Delete(context.Background(), held); !errors.Is(err, ErrLegalHold) {
		t.Fatalf("Delete under legal hold = %v, want ErrLegalHold", err)
	}
	if err := s.Delete(context.Background(), it); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("blob still there: %v", err)
	}
	if err := s.Delete(context.Background(), it); err != nil {
		t.Errorf("second Delete = %v, want nil (idempotent)", err)
	}
	if _, err := s.Open(context.Background(), it); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open after Delete = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"", "../../etc/passwd", strings.Repeat("A", 32), strings.Repeat("0", 31) + "/"} {
		bad := it
		bad.ID = id
		if _, err := s.Open(context.Background(), bad); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Open(ID %q) = %v, want an invalid-ID error", id, err)
		}
		if err := s.Delete(context.Background(), bad); err == nil {
			t.Errorf("Delete(ID %q) succeeded", id)
		}
	}
	badSum := it
	badSum.SHA256 = "xyz"
	if _, err := s.Open(context.Background(), badSum); err == nil {
		t.Error("Open with a malformed recorded hash succeeded")
	}
}

func TestMisconfigured(t *testing.T) {
	sealer, _ := newSealer(t)
	for name, s := range map[string]*Store{"no dir": {Sealer: sealer}, "no sealer": {Dir: t.TempDir()}, "nil": nil} {
		if _, err := s.Put(context.Background(), KindDocumentFront, "", bytes.NewReader(jpeg(10)), 0); err == nil {
			t.Errorf("%s: Put succeeded", name)
		}
		if _, err := s.Sweep(context.Background(), nil, testNow); err == nil {
			t.Errorf("%s: Sweep succeeded", name)
		}
	}
}

// cancelAfter cancels the context once n bytes have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestPutCancelled(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{r: bytes.NewReader(pdf(1 << 20)), n: 100 << 10, cancel: cancel}
	if _, err := s.Put(ctx, KindDocumentFront, "", r, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	assertOnlyItems(t, s, 0)
}

func FuzzOpen(f *testing.F) {
	s := newStore(f)
	it, err := s.Put(context.Background(), KindDocumentFront, "", bytes.NewReader(pdf(chunkSize+10)), 0)
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(s.Dir, it.ID[:2], it.ID)
	good, _ := os.ReadFile(path)
	f.Add(good)
	f.Add(good[:len(magic)+3+wrappedKeyLen])
	f.Add([]byte("SPIDEVB\x01\x00\x41"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		if err := os.WriteFile(path, blob, 0o600); err != nil {
			t.Fatal(err)
		}
		err := s.Verify(context.Background(), it)
		if err == nil && !bytes.Equal(blob, good) {
			t.Fatal("a different blob verified")
		}
	})
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte("\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"))
	f.Add([]byte("\x30\x84\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, head []byte) { Sniff(head) })
}

func BenchmarkPutOpen(b *testing.B) {
	s := newStore(b)
	content := pdf(10 << 20)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		it, err := s.Put(context.Background(), KindDocumentFront, "", bytes.NewReader(content), 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Verify(context.Background(), it); err != nil {
			b.Fatal(err)
		}
		s.Delete(context.Background(), it)
	}
}

func TestCleanTemp(t *testing.T) {
	s := newStore(t)
	it, path := put(t, s, 100)
	shard := filepath.Dir(path)
	old := filepath.Join(shard, ".0123456789abcdef0123456789abcdef.tmp")
	fresh := filepath.Join(shard, ".fedcba9876543210fedcba9876543210.tmp")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	os.Chtimes(old, time.Now().Add(-2*day), time.Now().Add(-2*day))
	os.Chtimes(path, time.Now().Add(-2*day), time.Now().Add(-2*day))
	n, err := s.CleanTemp(context.Background(), time.Now().Add(-day))
	if err != nil || n != 1 {
		t.Fatalf("CleanTemp = %d, %v; want 1 removed", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale partial file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("an upload in progress was removed")
	}
	if err := s.Verify(context.Background(), it); err != nil {
		t.Errorf("a stored item was touched: %v", err)
	}
	empty := &Store{Dir: filepath.Join(t.TempDir(), "none"), Sealer: s.Sealer}
	if n, err := empty.CleanTemp(context.Background(), time.Now()); n != 0 || err != nil {
		t.Errorf("missing dir: %d, %v", n, err)
	}
}
