package enrolment

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/evidence"
	"github.com/spid-idp/spid-idp/keys/datakey"
	"github.com/spid-idp/spid-idp/storage"
)

// E039: an agent finds a request only with the exact code and the last 4
// characters of the CF; anything else finds nothing, and the lookups are
// audited. E041's other half: a verifier has no agent lookup.
func TestE039AgentLookup(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a, d := mario()
	e := f.submitted(t, PathShop, a, d)
	agent := f.operator(t, "tabacchi", RoleShopAgent)
	got, err := f.svc.FindForAgent(ctx, agent, strings.ToLower(FormatCode(e.Code)), "501u")
	must(t, "FindForAgent", err)
	if got.ID != e.ID {
		t.Errorf("found %s, want %s", got.ID, e.ID)
	}
	other := e.Code[:9] + string("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(strings.IndexByte(crockford, e.Code[9])+1)%32])
	for _, tc := range []struct{ code, suffix string }{
		{e.Code, "501V"}, {e.Code, "H501U"}, {e.Code, ""}, {other, "501U"}, {e.Code[:9], "501U"}, {"", ""},
	} {
		if _, err := f.svc.FindForAgent(ctx, agent, tc.code, tc.suffix); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("lookup %q/%q: %v, want ErrNotFound", tc.code, tc.suffix, err)
		}
	}
	ver := f.operator(t, "ver1", RoleVerifier)
	if _, err := f.svc.FindForAgent(ctx, ver, e.Code, "501U"); !errors.Is(err, ErrForbidden) {
		t.Errorf("verifier lookup: %v", err)
	}
	n := 0
	for _, a := range f.auditActions(t) {
		if strings.HasPrefix(a, "enrolment.agent_lookup:") {
			n++
		}
	}
	if n != 8 {
		t.Errorf("%d lookups audited, want 8", n)
	}
	// Once recognised, the request is no longer found.
	_, err = f.svc.Recognise(ctx, e.ID, agent, map[string]bool{"document_checked": true})
	must(t, "Recognise", err)
	if _, err := f.svc.FindForAgent(ctx, agent, e.Code, "501U"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("recognised request still found: %v", err)
	}
	_, r, _ := f.svc.Get(ctx, e.ID)
	if r.Recognition.ShopID != "shop-1" || r.Recognition.Method != MethodOperator {
		t.Errorf("recognition %+v", r.Recognition)
	}
}

// E048 (console side): the queue orders by deadline and classifies
// on_time / at_risk / late; paused requests come last.
func TestE048QueueStatus(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	first := f.queued(t) // Fri 20 Nov 10:00 → Tue 24 Nov 10:00
	f.clk.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, rome()))
	luisa := mustApplicant(t, "Luisa", "Bianchi", "1985-07-12", "F", "luisa@example.it", "+393401112222")
	_, d := mario()
	second := f.submitted(t, PathShop, luisa, d)
	agent := f.operator(t, "agent", RoleShopAgent)
	_, err := f.svc.Recognise(ctx, second.ID, agent, map[string]bool{"document_checked": true})
	must(t, "Recognise", err)
	paola := mustApplicant(t, "Paola", "Gialli", "1970-03-03", "F", "paola@example.it", "+393405556666")
	third := f.submitted(t, PathShop, paola, d)
	_, err = f.svc.Recognise(ctx, third.ID, agent, map[string]bool{"document_checked": true})
	must(t, "Recognise", err)
	ver := f.operator(t, "ver", RoleVerifier)
	must(t, "AskDocuments", f.svc.AskDocuments(ctx, third.ID, ver, []string{"tessera sanitaria"}))

	status := func() map[string]string {
		q, err := f.svc.Queue(ctx)
		must(t, "Queue", err)
		m := map[string]string{}
		var order []string
		for _, it := range q {
			m[it.Enrolment.ID] = it.Status
			order = append(order, it.Enrolment.ID)
		}
		if !slices.Equal(order, []string{first.ID, second.ID, third.ID}) {
			t.Errorf("queue order %v", order)
		}
		return m
	}
	// Monday 10:00: first has 24 of 48 h left (on time); at 22:00 only 12 (at risk).
	if s := status(); s[first.ID] != "on_time" || s[second.ID] != "on_time" || s[third.ID] != "paused" {
		t.Errorf("Monday 10:00: %v", s)
	}
	f.clk.Set(time.Date(2026, 11, 23, 22, 0, 0, 0, rome()))
	if s := status(); s[first.ID] != "at_risk" || s[second.ID] != "on_time" {
		t.Errorf("Monday 22:00: %v", s)
	}
	f.clk.Set(time.Date(2026, 11, 24, 10, 0, 1, 0, rome()))
	if s := status(); s[first.ID] != "late" {
		t.Errorf("Tuesday 10:00:01: %v", s)
	}
}

func pngBytes(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	must(t, "png", png.Encode(&b, img))
	return b.Bytes()
}

// E020 at the request: an upload of the wrong type or too large is refused
// and nothing is stored; an upload to a decided request leaves no blob.
func TestE020UploadRefusedStoresNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	blobs := f.withEvidence(t)
	a, d := mario()
	e := f.draft(t, PathShop, a, d)
	if _, err := f.svc.Upload(ctx, e.ID, "document_front", "image/png", "applicant", strings.NewReader("MZ\x90\x00 not an image"), 0); err == nil {
		t.Error("executable accepted as a document image")
	}
	big := append(pngBytes(t), make([]byte, 2048)...)
	if _, err := f.svc.Upload(ctx, e.ID, "document_front", "image/png", "applicant", bytes.NewReader(big), 1024); err == nil {
		t.Error("upload over the limit accepted")
	}
	if blobs() != 0 {
		t.Errorf("%d blobs kept after refused uploads", blobs())
	}
	item, err := f.svc.Upload(ctx, e.ID, "document_front", "", "applicant", bytes.NewReader(pngBytes(t)), 0)
	must(t, "Upload", err)
	_, r, _ := f.svc.Get(ctx, e.ID)
	if len(r.Evidence) != 1 || r.Evidence[0].ID != item.ID || r.Evidence[0].MediaType != "image/png" || r.Evidence[0].UploadedBy != "applicant" {
		t.Errorf("evidence %+v", r.Evidence)
	}
	if blobs() != 1 {
		t.Errorf("%d blobs, want 1", blobs())
	}
	must(t, "Cancel", f.svc.Cancel(ctx, e.ID, false))
	if _, err := f.svc.Upload(ctx, e.ID, "document_back", "", "applicant", bytes.NewReader(pngBytes(t)), 0); !errors.Is(err, ErrTransition) {
		t.Errorf("upload to a cancelled request: %v", err)
	}
	if blobs() != 1 {
		t.Errorf("blob of a refused upload kept: %d", blobs())
	}
}

// Refused input is audited by field, never by value; the request is unchanged.
func TestRefusedInputAuditedWithoutValues(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	e, err := f.svc.Start(ctx, TypePersonal, PathVideo, "")
	must(t, "Start", err)
	a, d := mario()
	a.FiscalNumber = "RSSMRA80A01H501V"
	if err := f.svc.SetApplicant(ctx, e.ID, a, d, nil); err == nil {
		t.Fatal("bad CF accepted")
	}
	evs, _ := f.st.ListAudit(ctx, 0, 100)
	last := evs[len(evs)-1]
	if last.Action != "enrolment.applicant" || last.Outcome != "failure" || !strings.Contains(last.Details["error"], "fiscalNumber") {
		t.Errorf("audit %+v", last)
	}
	if strings.Contains(last.Details["error"], "RSSMRA") {
		t.Errorf("audit carries the CF: %q", last.Details["error"])
	}
}

// withEvidence gives the fixture a real encrypted evidence store and
// returns a counter of the blob files in it.
func (f *fixture) withEvidence(t *testing.T) func() int {
	t.Helper()
	key, err := datakey.GenerateKey()
	must(t, "GenerateKey", err)
	sealer, err := datakey.New(key)
	must(t, "datakey.New", err)
	dir := t.TempDir()
	f.svc.Evidence = &evidence.Store{Dir: dir, Sealer: sealer, Now: f.clk.Now}
	return func() int {
		n := 0
		filepath.WalkDir(dir, func(_ string, de os.DirEntry, _ error) error {
			if de != nil && !de.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
}

// E096 for requests without an identity: evidence of a cancelled draft is
// deleted 30 days later, of a closed request 24 months after closing; an
// item on legal hold stays; each deletion is audited.
func TestE096EvidenceRetention(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	blobs := f.withEvidence(t)
	a, d := mario()
	e := f.draft(t, PathShop, a, d)
	_, err := f.svc.Upload(ctx, e.ID, "document_front", "", "applicant", bytes.NewReader(pngBytes(t)), 0)
	must(t, "Upload", err)
	held, err := f.svc.Upload(ctx, e.ID, "document_back", "", "applicant", bytes.NewReader(pngBytes(t)), 0)
	must(t, "Upload", err)
	must(t, "legal hold", f.st.UpdateEnrolment(ctx, e.ID, func(x storage.Enrolment) (storage.Enrolment, error) {
		r, _ := Decode(x.Data)
		for i := range r.Evidence {
			r.Evidence[i].LegalHold = r.Evidence[i].ID == held.ID
		}
		x.Data = r.encode()
		return x, nil
	}))
	must(t, "Cancel", f.svc.Cancel(ctx, e.ID, false))
	_, r, _ := f.svc.Get(ctx, e.ID)
	for _, it := range r.Evidence {
		if it.RetentionClass != evidence.ClassDrafts || !it.RetainUntil.Equal(t0.AddDate(0, 0, 30)) {
			t.Errorf("item %s: class %s until %v", it.Kind, it.RetentionClass, it.RetainUntil)
		}
	}
	f.clk.Advance(29 * 24 * time.Hour)
	if n, err := f.svc.SweepEvidence(ctx); n != 0 || err != nil {
		t.Fatalf("swept %d early (%v)", n, err)
	}
	f.clk.Set(t0.AddDate(0, 0, 30))
	n, err := f.svc.SweepEvidence(ctx)
	must(t, "SweepEvidence", err)
	if n != 1 || blobs() != 1 {
		t.Errorf("deleted %d, %d blobs left; want 1 and 1 (legal hold)", n, blobs())
	}
	_, r, _ = f.svc.Get(ctx, e.ID)
	if len(r.Evidence) != 1 || r.Evidence[0].ID != held.ID {
		t.Errorf("references left %+v", r.Evidence)
	}
	if !slices.Contains(f.auditActions(t), "evidence.delete:success") {
		t.Error("deletion not audited")
	}
	if n, _ := f.svc.SweepEvidence(ctx); n != 0 {
		t.Errorf("second sweep deleted %d", n)
	}
}
