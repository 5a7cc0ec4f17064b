package metadata

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/spid-idp/spid-idp/idp/spid"
	"github.com/spid-idp/spid-idp/storage"
)

// MaxAggregateSize bounds a federation's aggregated metadata: thousands of
// SPs of a few tens of KiB each, with room to grow.
const MaxAggregateSize = 256 << 20

// SourceFederationPrefix starts storage.ServiceProvider.Source for SPs
// registered by a federation sync; the rest names the source (URL or file).
const SourceFederationPrefix = "federation:"

// Aggregate is a federation's signed EntitiesDescriptor, verified.
type Aggregate struct {
	// Entities are the EntityDescriptors, each serialised as a standalone
	// document (namespaces of the aggregate copied in) so it can be checked
	// and stored like metadata that came on its own.
	Entities [][]byte
	// ValidUntil is EntitiesDescriptor/@validUntil; zero when absent.
	ValidUntil time.Time
}

// LoadCertificates reads PEM certificates from a file (the federation
// operator's signing certificate, possibly with its successor).
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("metadata: federation certificate: %w", err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("metadata: federation certificate %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("metadata: federation certificate %s holds no PEM CERTIFICATE", path)
	}
	return out, nil
}

// ParseAggregate verifies the aggregate's own enveloped signature against
// the federation operator's certificates (never against a certificate the
// document carries) and splits it into entities, read only from the signed
// content. The entities themselves are not checked here.
func ParseAggregate(data []byte, certs []*x509.Certificate, now time.Time) (*Aggregate, error) {
	if len(data) > MaxAggregateSize {
		return nil, fmt.Errorf("metadata: aggregate of %d bytes exceeds %d", len(data), MaxAggregateSize)
	}
	if err := scanXML(data); err != nil {
		return nil, fmt.Errorf("metadata: aggregate: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("metadata: aggregate not well-formed: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "EntitiesDescriptor" || root.NamespaceURI() != spid.NSMetadata {
		return nil, errors.New("metadata: aggregate root must be md:EntitiesDescriptor")
	}
	signed, err := verifyEnveloped(root, certs, now)
	if err != nil {
		return nil, fmt.Errorf("metadata: aggregate signature: %w", err)
	}
	agg := &Aggregate{}
	if v, ok := attr(signed, "validUntil"); ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		switch {
		case err != nil:
			return nil, fmt.Errorf("metadata: aggregate validUntil %q is not an xs:dateTime", v)
		case !t.After(now):
			// A stale copy replayed by whoever serves the file.
			return nil, fmt.Errorf("metadata: aggregate expired at %s", t.UTC().Format(time.RFC3339))
		}
		agg.ValidUntil = t
	}
	if err := collectEntities(signed, agg); err != nil {
		return nil, err
	}
	return agg, nil
}

// collectEntities walks nested EntitiesDescriptors too (SAML allows them).
func collectEntities(el *etree.Element, agg *Aggregate) error {
	for _, c := range el.ChildElements() {
		if c.NamespaceURI() != spid.NSMetadata {
			continue
		}
		switch c.Tag {
		case "EntitiesDescriptor":
			if err := collectEntities(c, agg); err != nil {
				return err
			}
		case "EntityDescriptor":
			b, err := standalone(c)
			if err != nil {
				return fmt.Errorf("metadata: aggregate entity: %w", err)
			}
			agg.Entities = append(agg.Entities, b)
		}
	}
	return nil
}

// standalone serialises el as its own document, declaring on it every
// namespace it inherits. Exclusive and inclusive canonicalisation give the
// same bytes for the entity either way, so its own signature still holds.
func standalone(el *etree.Element) ([]byte, error) {
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range cp.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			declared[a.FullKey()] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if (a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")) && !declared[a.FullKey()] {
				declared[a.FullKey()] = true
				cp.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(cp)
	return doc.WriteToBytes()
}

// SyncResult reports what a federation sync did, by entityID.
type SyncResult struct {
	Added, Updated, Unchanged, Withdrawn, Reactivated []string
	// Failed holds the entities that were not taken, with why: a bad entity
	// keeps its last good copy and never blocks the others. The key is the
	// entityID, or "entity #n" when the document has none.
	Failed map[string]error
	// Warnings are the accepted entities' SHOULD-level findings.
	Warnings map[string][]string
}

// Sync loads a verified aggregate into the registry under source: every
// entity that passes the checks of §2.2 (its own signature included) is
// added or updated; SPs that came from this source and are no longer
// listed are withdrawn (disabled until they come back); SPs registered
// another way are never taken over. All changes are written in one
// transaction.
func (r *Registry) Sync(ctx context.Context, source string, agg *Aggregate) (SyncResult, error) {
	res := SyncResult{Failed: map[string]error{}, Warnings: map[string][]string{}}
	src := SourceFederationPrefix + source
	good := map[string][]byte{}
	listed := map[string]bool{} // also the entities that failed: they keep their copy
	for i, data := range agg.Entities {
		md, err := ParseSPMetadata(data, r.opts.Parse)
		if err != nil {
			key := fmt.Sprintf("entity #%d", i+1)
			var ve *ValidationError
			if errors.As(err, &ve) && ve.EntityID != "" {
				key = ve.EntityID
				listed[key] = true
			}
			res.Failed[key] = err
			continue
		}
		id := md.SP.EntityID
		if listed[id] {
			res.Failed[id] = errors.New("entityID listed more than once in the aggregate")
			delete(good, id)
			continue
		}
		listed[id] = true
		good[id] = data
		if len(md.Warnings) > 0 {
			res.Warnings[id] = md.Warnings
		}
	}
	now := r.now().UTC()
	var touched []string
	err := r.store.SyncServiceProviders(ctx, func(cur []storage.ServiceProvider) ([]storage.ServiceProvider, error) {
		res.Added, res.Updated, res.Unchanged, res.Withdrawn, res.Reactivated = nil, nil, nil, nil, nil
		touched = touched[:0]
		var out []storage.ServiceProvider
		seen := map[string]bool{}
		for _, sp := range cur {
			seen[sp.EntityID] = true
			data, ok := good[sp.EntityID]
			switch {
			case ok && sp.Source != src:
				if _, failed := res.Failed[sp.EntityID]; !failed {
					res.Failed[sp.EntityID] = fmt.Errorf("registered from %q, not taken over by the federation", sp.Source)
				}
			case ok:
				changed := !bytes.Equal(sp.MetadataXML, data)
				back := sp.Status == storage.SPWithdrawn
				if !changed && !back {
					res.Unchanged = append(res.Unchanged, sp.EntityID)
					continue
				}
				sp.MetadataXML, sp.UpdatedAt = data, now
				if back {
					sp.Status = storage.SPActive
					res.Reactivated = append(res.Reactivated, sp.EntityID)
				} else {
					res.Updated = append(res.Updated, sp.EntityID)
				}
				out = append(out, sp)
			case sp.Source == src && !listed[sp.EntityID] && sp.Status == storage.SPActive:
				sp.Status, sp.UpdatedAt = storage.SPWithdrawn, now
				res.Withdrawn = append(res.Withdrawn, sp.EntityID)
				out = append(out, sp)
			}
		}
		ids := make([]string, 0, len(good))
		for id := range good {
			if !seen[id] {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			out = append(out, storage.ServiceProvider{EntityID: id, MetadataXML: good[id], Status: storage.SPActive,
				Source: src, CreatedAt: now, UpdatedAt: now})
			res.Added = append(res.Added, id)
		}
		for _, sp := range out {
			touched = append(touched, sp.EntityID)
		}
		return out, nil
	})
	if err != nil {
		return res, fmt.Errorf("metadata: sync %s: %w", source, err)
	}
	for _, id := range touched {
		r.invalidate(id)
	}
	return res, nil
}

// Summary is one line for logs and the command line.
func (s SyncResult) Summary() string {
	return fmt.Sprintf("%d added, %d updated, %d unchanged, %d withdrawn, %d reactivated, %d rejected",
		len(s.Added), len(s.Updated), len(s.Unchanged), len(s.Withdrawn), len(s.Reactivated), len(s.Failed))
}

// FailedIDs lists the rejected entities in order.
func (s SyncResult) FailedIDs() []string {
	ids := make([]string, 0, len(s.Failed))
	for id := range s.Failed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// FederationSource is one configured federation list: where the
// aggregate comes from and whose signature it must carry.
type FederationSource struct {
	Location string              // http(s) URL or file path
	Certs    []*x509.Certificate // the federation operator's signing certificate(s)
	Client   *http.Client        // for URLs; nil means a 30-second client
}

// SyncSource reads the aggregate (URL or file), verifies it and syncs it.
// A read or signature failure changes nothing.
func (r *Registry) SyncSource(ctx context.Context, s FederationSource) (SyncResult, error) {
	var data []byte
	var err error
	if strings.Contains(s.Location, "://") {
		data, err = r.fetch(ctx, s.Location, s.Client, MaxAggregateSize)
	} else {
		data, err = readFileLimited(s.Location, MaxAggregateSize)
		if err != nil {
			err = fmt.Errorf("metadata: %w", err)
		}
	}
	if err != nil {
		return SyncResult{}, err
	}
	agg, err := ParseAggregate(data, s.Certs, r.now())
	if err != nil {
		return SyncResult{}, err
	}
	return r.Sync(ctx, s.Location, agg)
}

// WatchFederation syncs s now and then every interval until ctx ends,
// handing each outcome to report (logging and auditing are the caller's).
// A failed round keeps every SP as it was.
func (r *Registry) WatchFederation(ctx context.Context, s FederationSource, interval time.Duration, report func(SyncResult, error)) error {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		res, err := r.SyncSource(ctx, s)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		report(res, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
