package authflow

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// TestSessionEntriesNameTheirProtocol: a level-1 login joins the SSO
// session under its front end's protocol, and the end of the session is
// told to that front end for its own participants only (SAML ones learn
// of it from Single Logout).
func TestSessionEntriesNameTheirProtocol(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	a := b.login(h.A, 1)
	sid, err := h.Flow.SessionOfIndex(a.SessionIndex)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Eph.AddParticipant(ctx, sid, storage.SessionParticipant{SPEntityID: h.B.EntityID, NameID: "_saml"},
		h.Clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	sess, err := h.Eph.GetSession(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range sess.Participants {
		got = append(got, p.Protocol+"|"+p.SPEntityID)
	}
	if !slices.Equal(got, []string{testProto + "|" + h.A.EntityID, "|" + h.B.EntityID}) {
		t.Fatalf("participants %q", got)
	}
	// A second level-1 login reuses the session and joins it once more.
	if o := b.login(h.B, 1); o.SessionIndex == "" {
		t.Fatal("the second login joined no session")
	}
	h.Flow.SessionEnded(ctx, sess)
	h.FE.mu.Lock()
	defer h.FE.mu.Unlock()
	if !slices.Equal(h.FE.ended, []string{sid + "|" + h.A.EntityID}) {
		t.Fatalf("front end told of %q, want its own participant only", h.FE.ended)
	}
}
