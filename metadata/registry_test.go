package metadata_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/internal/testclock"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
	"github.com/spid-idp/spid-idp/storage"
	"github.com/spid-idp/spid-idp/storage/sqlite"
)

type clock = testclock.Clock

func newRegistry(t *testing.T, opts metadata.RegistryOptions) (*metadata.Registry, storage.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	return metadata.NewRegistry(st, opts), st
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestRegistryLifecycle(t *testing.T) {
	ctx := context.Background()
	r, st := newRegistry(t, metadata.RegistryOptions{})

	if _, err := r.Get(ctx, spID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown SP: %v", err)
	}
	md := build(t, metadatatest.Options{})
	if _, err := r.Add(ctx, md, "cli"); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(ctx, spID)
	if err != nil || got.EntityID != spID || len(got.ACS) != 2 {
		t.Fatalf("get: %+v %v", got, err)
	}
	if again, _ := r.Get(ctx, spID); again != got {
		t.Error("second Get parsed again instead of using the cache")
	}
	rec, err := st.GetServiceProvider(ctx, spID)
	if err != nil || !bytes.Equal(rec.MetadataXML, md) || rec.Source != "cli" || rec.Status != storage.SPActive {
		t.Fatalf("stored %+v %v", rec.Status, err)
	}

	// Invalid metadata is rejected and changes nothing.
	if _, err := r.Add(ctx, build(t, metadatatest.Options{Unsigned: true}), "cli"); err == nil {
		t.Fatal("unsigned metadata added")
	}
	if rec2, _ := st.GetServiceProvider(ctx, spID); !bytes.Equal(rec2.MetadataXML, md) {
		t.Fatal("rejected metadata replaced the stored copy")
	}

	// Replace: the cache must not serve the old ACS list.
	md2 := build(t, metadatatest.Options{ACS: []string{spID + "/acs", spID + "/acs/1", spID + "/acs/2"}})
	if _, err := r.Add(ctx, md2, "cli"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Get(ctx, spID); err != nil || len(got.ACS) != 3 {
		t.Fatalf("after replace: %v, %v", got, err)
	}

	// Disabled SPs are unknown to the protocol, and stay disabled on re-add.
	if err := r.SetStatus(ctx, spID, storage.SPDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, spID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("disabled SP: %v", err)
	}
	if _, err := r.Add(ctx, md, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, spID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("re-added disabled SP: %v", err)
	}
	if err := r.SetStatus(ctx, spID, storage.SPActive); err != nil {
		t.Fatal(err)
	}

	list, err := r.List(ctx)
	if err != nil || len(list) != 1 || list[0].Err != nil || list[0].Metadata.SP.EntityID != spID {
		t.Fatalf("list %+v %v", list, err)
	}

	if err := r.Remove(ctx, spID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, spID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("removed SP: %v", err)
	}
	if err := r.Remove(ctx, spID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
}

func TestRegistryCertificateExpiryBeatsCache(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Now())
	r, _ := newRegistry(t, metadata.RegistryOptions{Parse: metadata.ParseOptions{Now: clk.Now}, CacheTTL: 24 * 400 * time.Hour})
	md, _ := metadatatest.NewSP(t, metadatatest.Options{Now: clk.Now})
	if _, err := r.Add(ctx, md, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, spID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(366 * 24 * time.Hour) // past the certificate's NotAfter
	_, err := r.Get(ctx, spID)
	var ve *metadata.ValidationError
	if !errors.Is(err, storage.ErrNotFound) || !errors.As(err, &ve) || !ve.Has(metadata.CheckCertificate) {
		t.Fatalf("expired SP: %v", err)
	}
	list, _ := r.List(ctx)
	if len(list) != 1 || list[0].Err == nil {
		t.Fatalf("list does not flag the expired SP: %+v", list)
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryLoadDir(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t, metadata.RegistryOptions{})
	dir := t.TempDir()
	a := build(t, metadatatest.Options{})
	b := build(t, metadatatest.Options{EntityID: "https://b.example.it"})
	writeFile(t, filepath.Join(dir, "a.xml"), a)
	writeFile(t, filepath.Join(dir, "b.xml"), b)
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("ignored"))

	res, err := r.LoadDir(ctx, dir)
	if err != nil || len(res.Added) != 2 {
		t.Fatalf("first load %+v %v", res, err)
	}
	res, err = r.LoadDir(ctx, dir)
	if err != nil || len(res.Unchanged) != 2 || len(res.Added)+len(res.Updated) != 0 {
		t.Fatalf("second load %+v %v", res, err)
	}

	// A broken update keeps the last good copy.
	writeFile(t, filepath.Join(dir, "a.xml"), []byte("<broken"))
	os.Remove(filepath.Join(dir, "b.xml"))
	res, err = r.LoadDir(ctx, dir)
	if err == nil || len(res.Failed) != 1 {
		t.Fatalf("broken load %+v %v", res, err)
	}
	if _, err := r.Get(ctx, spID); err != nil {
		t.Fatalf("last good copy lost: %v", err)
	}
	if _, err := r.Get(ctx, "https://b.example.it"); err != nil {
		t.Fatalf("SP removed while another file was broken: %v", err)
	}

	// Fixed: a is updated; b (file gone) stays registered, as the store
	// is the source of truth (TestRegistryLoadDirNeverRemoves).
	a2 := build(t, metadatatest.Options{DisplayName: "Nuovo nome"})
	writeFile(t, filepath.Join(dir, "a.xml"), a2)
	res, err = r.LoadDir(ctx, dir)
	if err != nil || len(res.Updated) != 1 {
		t.Fatalf("fixed load %+v %v", res, err)
	}
	if sp, err := r.Get(ctx, spID); err != nil || sp.DisplayName["it"] != "Nuovo nome" {
		t.Fatalf("updated SP %v %v", sp, err)
	}

	// A directory file cannot take over an SP an operator registered.
	c := build(t, metadatatest.Options{EntityID: "https://c.example.it"})
	if _, err := r.Add(ctx, c, "cli"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "c.xml"), build(t, metadatatest.Options{EntityID: "https://c.example.it", DisplayName: "Altro"}))
	if res, err := r.LoadDir(ctx, dir); err == nil || len(res.Failed) != 1 {
		t.Fatalf("takeover %+v %v", res, err)
	}

	if _, err := r.LoadDir(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory accepted")
	}
}

// Two nodes share the store, each with its own directory: node B starts
// with an empty directory (or its file was deleted) and must not remove
// the SP node A imported. Only an explicit removal removes it.
func TestRegistryLoadDirNeverRemoves(t *testing.T) {
	ctx := context.Background()
	nodeA, st := newRegistry(t, metadata.RegistryOptions{})
	nodeB := metadata.NewRegistry(st, metadata.RegistryOptions{Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	dirA, dirB := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dirA, "sp.xml"), build(t, metadatatest.Options{}))
	if _, err := nodeA.LoadDir(ctx, dirA); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeB.LoadDir(ctx, dirB); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeB.Get(ctx, spID); err != nil {
		t.Fatalf("node B's empty directory removed the SP node A imported: %v", err)
	}
	os.Remove(filepath.Join(dirA, "sp.xml"))
	if _, err := nodeA.LoadDir(ctx, dirA); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetServiceProvider(ctx, spID); err != nil {
		t.Fatalf("a deleted file removed the SP: %v", err)
	}
	if err := nodeA.Remove(ctx, spID); err != nil {
		t.Fatalf("explicit removal: %v", err)
	}
}

// A change made through one node's registry (or straight in the store, as
// the sp command does) reaches the other node's cache within 5 seconds,
// although the cache TTL is an hour.
func TestRegistryWatchRevisionPropagates(t *testing.T) {
	ctx := context.Background()
	nodeA, st := newRegistry(t, metadata.RegistryOptions{CacheTTL: time.Hour})
	nodeB := metadata.NewRegistry(st, metadata.RegistryOptions{CacheTTL: time.Hour, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if _, err := nodeA.Add(ctx, build(t, metadatatest.Options{}), "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeB.Get(ctx, spID); err != nil { // now cached on B
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- nodeB.WatchRevision(wctx, 100*time.Millisecond) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("WatchRevision returned %v", err)
		}
	}()
	waitFor := func(what string, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: not seen by the other node within 5 s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	if err := nodeA.SetStatus(ctx, spID, storage.SPDisabled); err != nil {
		t.Fatal(err)
	}
	d := waitFor("disable", func() bool { _, err := nodeB.Get(ctx, spID); return errors.Is(err, storage.ErrNotFound) })
	t.Logf("disable seen by the other node after %v", d)
	if err := st.UpdateServiceProvider(ctx, spID, func(cur storage.ServiceProvider) (storage.ServiceProvider, error) {
		cur.Status = storage.SPActive
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor("enable", func() bool { _, err := nodeB.Get(ctx, spID); return err == nil })
}

func TestRegistryWatchDir(t *testing.T) {
	r, _ := newRegistry(t, metadata.RegistryOptions{})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.WatchDir(ctx, dir, 10*time.Millisecond) }()

	writeFile(t, filepath.Join(dir, "sp.xml"), build(t, metadatatest.Options{}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := r.Get(context.Background(), spID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("watched file never loaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchDir returned %v", err)
	}
}

func TestRegistryFetchURL(t *testing.T) {
	md := build(t, metadatatest.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("/metadata", func(w http.ResponseWriter, _ *http.Request) { w.Write(md) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), metadata.MaxMetadataSize+1))
	})
	mux.HandleFunc("/missing", http.NotFound)
	plain := httptest.NewServer(mux)
	defer plain.Close()
	tlsMux := http.NewServeMux()
	tlsMux.HandleFunc("/metadata", func(w http.ResponseWriter, _ *http.Request) { w.Write(md) })
	tlsMux.HandleFunc("/downgrade", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, plain.URL+"/metadata", http.StatusFound)
	})
	secure := httptest.NewTLSServer(tlsMux)
	defer secure.Close()

	ctx := context.Background()
	dev, _ := newRegistry(t, metadata.RegistryOptions{})
	prod, _ := newRegistry(t, metadata.RegistryOptions{Parse: metadata.ParseOptions{Production: true}})

	if got, err := dev.FetchURL(ctx, plain.URL+"/metadata", nil); err != nil || !bytes.Equal(got, md) {
		t.Fatalf("dev fetch: %v", err)
	}
	if got, err := prod.FetchURL(ctx, secure.URL+"/metadata", secure.Client()); err != nil || !bytes.Equal(got, md) {
		t.Fatalf("prod https fetch: %v", err)
	}
	for name, c := range map[string]struct {
		r      *metadata.Registry
		url    string
		client *http.Client
	}{
		"prod http":      {prod, plain.URL + "/metadata", nil},
		"prod downgrade": {prod, secure.URL + "/downgrade", secure.Client()},
		"too big":        {dev, plain.URL + "/big", nil},
		"404":            {dev, plain.URL + "/missing", nil},
		"not a URL":      {dev, "file:///etc/passwd", nil},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.r.FetchURL(ctx, c.url, c.client); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// Concurrent readers and writers, for the race detector.
func TestRegistryConcurrent(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t, metadata.RegistryOptions{})
	md := build(t, metadatatest.Options{})
	if _, err := r.Add(ctx, md, "cli"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := r.Get(ctx, spID); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := r.Add(ctx, md, "cli"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
