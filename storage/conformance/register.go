package conformance

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// registerTests are part of RunStore.
var registerTests = []struct {
	name string
	run  func(t *testing.T, s storage.Store)
}{
	{"RegisterAppendSearch", storeTestRegisterAppendSearch},
	{"RegisterWithAudit", storeTestRegisterWithAudit},
	{"RegisterConcurrentAppend", storeTestRegisterConcurrentAppend},
	{"RegisterRetention", storeTestRegisterRetention},
}

func registerRecord(n int, at time.Time) storage.RegisterRecord {
	return storage.RegisterRecord{
		Time: at, Kind: "Response", Direction: "sent", Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
		SPEntityID: fmt.Sprintf("https://sp%d.example.it", n%2), SPIDCode: fmt.Sprintf("TEST%010d", n%3),
		RequestID: fmt.Sprintf("_req%d", n), MessageID: fmt.Sprintf("_resp%d", n), ClientIP: "192.0.2.7",
		// Bytes that are not valid UTF-8 and carry a NUL: sealed data is binary.
		Sealed: []byte{0, 1, 0xff, byte(n), '\r', '\n'},
	}
}

// registerVerify recomputes every hash and link of a contiguous run.
func registerVerify(t *testing.T, recs []storage.RegisterRecord) {
	t.Helper()
	for i, r := range recs {
		if got := storage.RegisterHash(r); got != r.Hash {
			t.Fatalf("record %d: stored hash %s, recomputed %s", r.Seq, r.Hash, got)
		}
		if i > 0 && (r.PrevHash != recs[i-1].Hash || r.Seq != recs[i-1].Seq+1) {
			t.Fatalf("record %d does not follow record %d", r.Seq, recs[i-1].Seq)
		}
	}
}

func storeTestRegisterAppendSearch(t *testing.T, s storage.Store) {
	ctx := t.Context()
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC)
	var in []storage.RegisterRecord
	for i := range 6 {
		in = append(in, registerRecord(i, t0.Add(time.Duration(i)*time.Minute)))
	}
	in[0].Kind, in[0].Direction, in[0].SPIDCode = "AuthnRequest", "received", ""
	out, err := s.AppendRegister(ctx, in[:4], nil)
	storeMust(t, "AppendRegister", err)
	if len(out) != 4 || out[0].Seq != 1 || out[0].PrevHash != "" || out[3].Seq != 4 {
		t.Fatalf("AppendRegister returned %+v", out)
	}
	more, err := s.AppendRegister(ctx, in[4:], nil)
	storeMust(t, "AppendRegister again", err)
	if more[0].PrevHash != out[3].Hash {
		t.Errorf("second batch does not follow the first")
	}
	all, err := s.ListRegister(ctx, 0, 100)
	storeMust(t, "ListRegister", err)
	if len(all) != 6 {
		t.Fatalf("ListRegister = %d records, want 6", len(all))
	}
	registerVerify(t, all)
	for i, r := range all {
		want := in[i]
		if r.Kind != want.Kind || r.SPIDCode != want.SPIDCode || r.RequestID != want.RequestID || r.ClientIP != want.ClientIP ||
			!bytes.Equal(r.Sealed, want.Sealed) {
			t.Errorf("record %d = %+v, want %+v", r.Seq, r, want)
		}
		storeSameTime(t, "Time", r.Time, want.Time)
	}
	page, err := s.ListRegister(ctx, 4, 1)
	storeMust(t, "ListRegister page", err)
	if len(page) != 1 || page[0].Seq != 5 {
		t.Errorf("ListRegister(4, 1) = %+v", page)
	}

	seqs := func(q storage.RegisterQuery) []int64 {
		t.Helper()
		got, err := s.SearchRegister(ctx, q)
		storeMust(t, "SearchRegister", err)
		var out []int64
		for _, r := range got {
			out = append(out, r.Seq)
		}
		return out
	}
	for name, tc := range map[string]struct {
		q    storage.RegisterQuery
		want []int64
	}{
		"spidCode":      {storage.RegisterQuery{SPIDCodes: []string{"TEST0000000001"}}, []int64{2, 5}},
		"two spidCodes": {storage.RegisterQuery{SPIDCodes: []string{"TEST0000000001", "TEST0000000002"}}, []int64{2, 3, 5, 6}},
		"request":       {storage.RegisterQuery{RequestID: "_req3"}, []int64{4}},
		"sp":            {storage.RegisterQuery{SPEntityID: "https://sp0.example.it"}, []int64{1, 3, 5}},
		"time range":    {storage.RegisterQuery{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, []int64{2, 3}},
		"sp and range":  {storage.RegisterQuery{SPEntityID: "https://sp1.example.it", From: t0.Add(2 * time.Minute)}, []int64{4, 6}},
		"limit":         {storage.RegisterQuery{Limit: 2}, []int64{1, 2}},
		"nothing":       {storage.RegisterQuery{SPIDCodes: []string{"NOPE"}}, nil},
		"odd text":      {storage.RegisterQuery{RequestID: "bad\x00\xff"}, nil},
	} {
		if got := seqs(tc.q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: seqs %v, want %v", name, got, tc.want)
		}
	}
}

// storeTestRegisterWithAudit: a Response's record and its audit event go in
// one transaction; an attacker's odd request ID is stored, not refused.
func storeTestRegisterWithAudit(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := registerRecord(1, time.Now())
	r.RequestID = "_odd\x00\xff"
	ev := storeAuditEvent(1)
	out, err := s.AppendRegister(ctx, []storage.RegisterRecord{r}, &ev)
	storeMust(t, "AppendRegister with audit", err)
	evs, err := s.ListAudit(ctx, 0, 10)
	storeMust(t, "ListAudit", err)
	if len(evs) != 1 || evs[0].Target != ev.Target {
		t.Fatalf("audit after AppendRegister: %+v", evs)
	}
	got, err := s.ListRegister(ctx, 0, 10)
	storeMust(t, "ListRegister", err)
	if len(got) != 1 || got[0].Hash != out[0].Hash {
		t.Fatalf("register after AppendRegister: %+v", got)
	}
	registerVerify(t, got)
}

func storeTestRegisterConcurrentAppend(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := s.AppendRegister(ctx, []storage.RegisterRecord{registerRecord(i, time.Now()), registerRecord(i+n, time.Now())}, nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("AppendRegister: %v", err)
		}
	}
	all, err := s.ListRegister(ctx, 0, 10*n)
	storeMust(t, "ListRegister", err)
	if len(all) != 2*n {
		t.Fatalf("%d records after %d appends of 2", len(all), n)
	}
	registerVerify(t, all)
}

// storeTestRegisterRetention: records of three months; deleting before a
// cutoff inside the second month removes the first month and the older
// part of the second, the chain goes on after the deletion.
func storeTestRegisterRetention(t *testing.T, s storage.Store) {
	ctx := t.Context()
	base := time.Date(2024, 10, 15, 12, 0, 0, 0, time.UTC)
	var in []storage.RegisterRecord
	for i, at := range []time.Time{base, base.AddDate(0, 0, 10), base.AddDate(0, 1, -5), base.AddDate(0, 1, 5), base.AddDate(0, 2, 0)} {
		in = append(in, registerRecord(i, at))
	}
	_, err := s.AppendRegister(ctx, in, nil)
	storeMust(t, "AppendRegister", err)
	cutoff := time.Date(2024, 11, 15, 0, 0, 0, 0, time.UTC)
	n, err := s.DeleteRegisterBefore(ctx, cutoff)
	storeMust(t, "DeleteRegisterBefore", err)
	if n != 3 {
		t.Errorf("DeleteRegisterBefore deleted %d, want 3", n)
	}
	left, err := s.ListRegister(ctx, 0, 10)
	storeMust(t, "ListRegister", err)
	if len(left) != 2 || left[0].Seq != 4 {
		t.Fatalf("left %d records starting at %d, want 4 and 5", len(left), left[0].Seq)
	}
	registerVerify(t, left)
	// A record of the month whose partition went can be stored again, and
	// the chain continues from the head, not from what is left.
	out, err := s.AppendRegister(ctx, []storage.RegisterRecord{registerRecord(9, base)}, nil)
	storeMust(t, "AppendRegister after retention", err)
	if out[0].Seq != 6 || out[0].PrevHash != left[1].Hash {
		t.Errorf("chain after retention: %+v", out[0])
	}
}
