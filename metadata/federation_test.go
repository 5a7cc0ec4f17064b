package metadata_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/metadata"
	"github.com/spid-idp/spid-idp/metadata/metadatatest"
	"github.com/spid-idp/spid-idp/storage"
)

func fedSP(t *testing.T, n string, mutate func(*etree.Element)) []byte {
	return build(t, metadatatest.Options{EntityID: "https://" + n + ".example.it", Mutate: mutate})
}

// TestFederationSync: a signed aggregate with good entities and a bad one
// registers the good ones (the bad one is reported, blocking nothing); a
// later aggregate updates, withdraws and brings back; an SP registered by
// hand is never taken over.
func TestFederationSync(t *testing.T) {
	ctx := context.Background()
	r, st := newRegistry(t, metadata.RegistryOptions{})
	fed := metadatatest.NewPair(t, "https://federation.example.it")
	a := fedSP(t, "a", nil)
	// The AgID test tool's shape: an extra ACS with the Redirect binding.
	b := fedSP(t, "b", func(r *etree.Element) {
		r.FindElement("./md:SPSSODescriptor/md:AssertionConsumerService[@index='1']").CreateAttr("Binding", spid.BindingRedirect)
	})
	bad := fedSP(t, "bad", func(r *etree.Element) {
		r.FindElement("./md:SPSSODescriptor").CreateAttr("AuthnRequestsSigned", "false")
	})
	unsigned := build(t, metadatatest.Options{EntityID: "https://unsigned.example.it", Unsigned: true})
	agg := metadatatest.Aggregate(t, fed, time.Now().Add(24*time.Hour), a, bad, b, unsigned)

	parsed, err := metadata.ParseAggregate(agg, []*x509.Certificate{fed.Cert}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Sync(ctx, "https://federation.example.it/sp.xml", parsed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Added, []string{"https://a.example.it", "https://b.example.it"}) {
		t.Errorf("added %v (failed %v)", res.Added, res.Failed)
	}
	if got := res.FailedIDs(); !slices.Equal(got, []string{"https://bad.example.it", "https://unsigned.example.it"}) {
		t.Errorf("failed %v", got)
	}
	if w := strings.Join(res.Warnings["https://b.example.it"], "\n"); !strings.Contains(w, "HTTP-Redirect") {
		t.Errorf("no Redirect ACS warning for b: %q", w)
	}
	for _, id := range res.Added {
		sp, err := r.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		rec, _ := st.GetServiceProvider(ctx, id)
		if rec.Source != metadata.SourceFederationPrefix+"https://federation.example.it/sp.xml" || sp.EntityID != id {
			t.Errorf("%s stored with source %q", id, rec.Source)
		}
	}

	// An SP registered by hand with the same entityID as a listed one.
	c := fedSP(t, "c", nil)
	if _, err := r.Add(ctx, c, "cli"); err != nil {
		t.Fatal(err)
	}
	// Next round: a renewed (re-signed) b, a gone, c listed.
	b2 := fedSP(t, "b", nil)
	parsed, err = metadata.ParseAggregate(metadatatest.Aggregate(t, fed, time.Time{}, b2, c), []*x509.Certificate{fed.Cert}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err = r.Sync(ctx, "https://federation.example.it/sp.xml", parsed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Updated, []string{"https://b.example.it"}) || !slices.Equal(res.Withdrawn, []string{"https://a.example.it"}) ||
		len(res.Added) != 0 || res.Failed["https://c.example.it"] == nil {
		t.Errorf("second round: %+v", res)
	}
	if _, err := r.Get(ctx, "https://a.example.it"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("withdrawn SP still served: %v", err)
	}
	if rec, _ := st.GetServiceProvider(ctx, "https://c.example.it"); rec.Source != "cli" || !bytes.Equal(rec.MetadataXML, c) {
		t.Errorf("hand-registered SP taken over: %q", rec.Source)
	}
	// a comes back; an operator's disable is kept.
	if err := r.SetStatus(ctx, "https://b.example.it", storage.SPDisabled); err != nil {
		t.Fatal(err)
	}
	parsed, _ = metadata.ParseAggregate(metadatatest.Aggregate(t, fed, time.Time{}, a, b2), []*x509.Certificate{fed.Cert}, time.Now())
	res, err = r.Sync(ctx, "https://federation.example.it/sp.xml", parsed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Reactivated, []string{"https://a.example.it"}) || !slices.Equal(res.Unchanged, []string{"https://b.example.it"}) {
		t.Errorf("third round: %+v", res)
	}
	if _, err := r.Get(ctx, "https://a.example.it"); err != nil {
		t.Errorf("reactivated SP: %v", err)
	}
	if rec, _ := st.GetServiceProvider(ctx, "https://b.example.it"); rec.Status != storage.SPDisabled {
		t.Errorf("operator's disable undone: %s", rec.Status)
	}
}

// TestParseAggregateRefuses: a tampered aggregate, one signed by another
// key, an expired one and an unsigned one change nothing.
func TestParseAggregateRefuses(t *testing.T) {
	fed := metadatatest.NewPair(t, "https://federation.example.it")
	other := metadatatest.NewPair(t, "https://evil.example.it")
	a := fedSP(t, "a", nil)
	good := metadatatest.Aggregate(t, fed, time.Time{}, a)
	if _, err := metadata.ParseAggregate(good, []*x509.Certificate{fed.Cert}, time.Now()); err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(good, []byte("Servizio di prova"), []byte("Servizio di pr0va"), 1)
	if bytes.Equal(tampered, good) {
		t.Fatal("nothing tampered")
	}
	unsigned := etree.NewDocument()
	_ = unsigned.ReadFromBytes(good)
	unsigned.Root().RemoveChild(unsigned.Root().FindElement("./ds:Signature"))
	unsignedXML, _ := unsigned.WriteToBytes()
	for name, tc := range map[string]struct {
		data []byte
		now  time.Time
		want string
	}{
		"tampered":       {tampered, time.Now(), "signature"},
		"other signer":   {metadatatest.Aggregate(t, other, time.Time{}, a), time.Now(), "signature"},
		"expired":        {metadatatest.Aggregate(t, fed, time.Now().Add(time.Hour), a), time.Now().Add(2 * time.Hour), "expired"},
		"unsigned":       {unsignedXML, time.Now(), "signature"},
		"single entity":  {a, time.Now(), "EntitiesDescriptor"},
		"doctype inside": {append([]byte("<!DOCTYPE x>"), good...), time.Now(), "DOCTYPE"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := metadata.ParseAggregate(tc.data, []*x509.Certificate{fed.Cert}, tc.now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestSyncSourceFile: a file source with a bad signature changes nothing.
func TestSyncSourceFile(t *testing.T) {
	ctx := context.Background()
	r, st := newRegistry(t, metadata.RegistryOptions{})
	fed := metadatatest.NewPair(t, "https://federation.example.it")
	other := metadatatest.NewPair(t, "https://evil.example.it")
	path := filepath.Join(t.TempDir(), "fed.xml")
	if err := os.WriteFile(path, metadatatest.Aggregate(t, other, time.Time{}, fedSP(t, "a", nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	src := metadata.FederationSource{Location: path, Certs: []*x509.Certificate{fed.Cert}}
	if _, err := r.SyncSource(ctx, src); err == nil {
		t.Fatal("aggregate signed by another key accepted")
	}
	if list, _ := st.ListServiceProviders(ctx); len(list) != 0 {
		t.Fatalf("%d SPs stored from a refused aggregate", len(list))
	}
	if err := os.WriteFile(path, metadatatest.Aggregate(t, fed, time.Time{}, fedSP(t, "a", nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := r.SyncSource(ctx, src)
	if err != nil || len(res.Added) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
}
