package audit

import (
	"context"
	"fmt"

	"github.com/spid-idp/spid-idp/storage"
)

// Lister is the part of storage.Store Verify needs.
type Lister interface {
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]storage.AuditEvent, error)
}

// Problem names the first record where the chain breaks.
type Problem struct {
	Seq    int64
	Reason string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("audit record %d: %s", p.Seq, p.Reason)
}

// Result is what Verify found.
type Result struct {
	Records  int64
	LastHash string
	// First is the first broken record, nil when the chain is intact.
	First *Problem
}

// Verify walks the whole log in order and reports the first record that was
// modified (its hash no longer matches its content), removed (a gap in the
// sequence or a previous-hash that points elsewhere) or reordered.
func Verify(ctx context.Context, l Lister, pageSize int) (Result, error) {
	if pageSize <= 0 {
		pageSize = 1000
	}
	var res Result
	var prev *storage.AuditEvent
	after := int64(0)
	for {
		page, err := l.ListAudit(ctx, after, pageSize)
		if err != nil {
			return res, fmt.Errorf("audit: reading records after %d: %w", after, err)
		}
		for i := range page {
			ev := page[i]
			if p := check(prev, ev); p != nil {
				res.First = p
				return res, nil
			}
			res.Records++
			res.LastHash = ev.Hash
			prev = &page[i]
			after = ev.Seq
		}
		if len(page) < pageSize {
			return res, nil
		}
	}
}

func check(prev *storage.AuditEvent, ev storage.AuditEvent) *Problem {
	wantSeq, wantPrev := int64(1), ""
	if prev != nil {
		wantSeq, wantPrev = prev.Seq+1, prev.Hash
	}
	switch {
	case ev.Seq != wantSeq:
		return &Problem{Seq: ev.Seq, Reason: fmt.Sprintf("expected record %d here: a record was removed or reordered", wantSeq)}
	case ev.PrevHash != wantPrev:
		return &Problem{Seq: ev.Seq, Reason: "previous-hash does not match the record before it: records were removed, reordered or rewritten"}
	case storage.AuditHash(ev) != ev.Hash:
		return &Problem{Seq: ev.Seq, Reason: "content does not match its hash: the record was modified"}
	}
	return nil
}
