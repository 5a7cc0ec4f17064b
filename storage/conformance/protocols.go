package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// EphemeralSessionProtocols: an OpenID Connect relying party joins a
// session beside the SAML SPs and comes back with its protocol; an RP
// whose client_id equals an SP's entityID is a participant of its own, on
// both write paths. Each backend's TestConformance runs it beside
// RunEphemeral.
func EphemeralSessionProtocols(t *testing.T, e storage.Ephemeral) {
	ctx := t.Context()
	s := ephSession("sess-protocols")
	sp := s.Participants[0].SPEntityID
	s.Participants = append(s.Participants, storage.SessionParticipant{SPEntityID: "https://rp0.example.it", NameID: "sub-0",
		IssuedAt: time.Now().Round(0).UTC(), Protocol: storage.ProtocolOIDC})
	if err := e.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	rp := storage.SessionParticipant{SPEntityID: sp, NameID: "sub-1", IssuedAt: time.Now().Round(0).UTC(), Protocol: storage.ProtocolOIDC}
	if err := e.AddParticipant(ctx, s.ID, rp, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("AddParticipant: %v", err)
	}
	got, err := e.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range got.Participants {
		keys = append(keys, fmt.Sprintf("%s|%s|%s", p.Protocol, p.SPEntityID, p.NameID))
	}
	want := []string{"oidc|https://rp0.example.it|sub-0", "|" + sp + "|" + s.Participants[0].NameID, "oidc|" + sp + "|sub-1"}
	if strings.Join(keys, " ") != strings.Join(sortedKeys(want), " ") {
		t.Fatalf("participants = %q, want %q", keys, sortedKeys(want))
	}
}

// sortedKeys orders protocol|id|nameID triples as SortParticipants does.
func sortedKeys(ks []string) []string {
	out := append([]string(nil), ks...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			a, b := strings.SplitN(out[i], "|", 3), strings.SplitN(out[j], "|", 3)
			if a[1] > b[1] || (a[1] == b[1] && a[0] > b[0]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
