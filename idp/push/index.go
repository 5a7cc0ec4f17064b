package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// The per-identity index serves both the rate limit and Pending. Values
// keep the expiry they were created with, so one ever-growing index could
// expire under a live challenge. Instead time is cut into buckets one
// Window long: a challenge is listed in the bucket of its creation, and a
// bucket lives until one Window after it ends. Since a challenge lives at
// most one Window, every live challenge is in the current or the previous
// bucket, and those two hold every creation of the last Window, which makes
// the limit a sliding window: at most Limit creations in any Window.

type indexEntry struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

type index struct {
	Entries []indexEntry `json:"entries"`
}

func (s *Service) bucket(t time.Time) int64 {
	return t.Unix() / int64(s.window()/time.Second)
}

func indexKey(identityID string, bucket int64) string {
	return "push-pending:" + identityID + ":" + strconv.FormatInt(bucket, 10)
}

func (s *Service) readIndex(ctx context.Context, identityID string, bucket int64) (index, error) {
	var ix index
	b, _, err := s.Values.GetValue(ctx, indexKey(identityID, bucket))
	if errors.Is(err, storage.ErrNotFound) {
		return ix, nil
	}
	if err != nil {
		return ix, fmt.Errorf("push: read index: %w", err)
	}
	if err := json.Unmarshal(b, &ix); err != nil {
		return ix, fmt.Errorf("push: decode index: %w", err)
	}
	return ix, nil
}

// reserve adds challenge id to the identity's index, or fails with
// ErrTooManyPushes when Limit challenges were created in the last Window.
// The count and the addition happen in one UpdateValue, so concurrent
// logins cannot both take the last slot.
func (s *Service) reserve(ctx context.Context, identityID, id string, now time.Time) error {
	b := s.bucket(now)
	since := now.Add(-s.window())
	prev, err := s.readIndex(ctx, identityID, b-1)
	if err != nil {
		return err
	}
	used := 0
	for _, e := range prev.Entries {
		if e.Created.After(since) {
			used++
		}
	}
	entry := indexEntry{ID: id, Created: now}
	key := indexKey(identityID, b)
	// The bucket lives one Window past its end (see above).
	expires := time.Unix((b+2)*int64(s.window()/time.Second), 0)
	for range 5 {
		err := s.Values.UpdateValue(ctx, key, func(data []byte) ([]byte, error) {
			var ix index
			if err := json.Unmarshal(data, &ix); err != nil {
				return nil, fmt.Errorf("push: decode index: %w", err)
			}
			if used+len(ix.Entries) >= s.limit() {
				return nil, ErrTooManyPushes
			}
			ix.Entries = append(ix.Entries, entry)
			return json.Marshal(ix)
		})
		if !errors.Is(err, storage.ErrNotFound) {
			if err != nil && !errors.Is(err, ErrTooManyPushes) {
				return fmt.Errorf("push: update index: %w", err)
			}
			return err
		}
		if used >= s.limit() {
			return ErrTooManyPushes
		}
		data, err := json.Marshal(index{Entries: []indexEntry{entry}})
		if err != nil {
			return err
		}
		err = s.Values.CreateValue(ctx, key, data, expires)
		if !errors.Is(err, storage.ErrAlreadyExists) {
			if err != nil {
				return fmt.Errorf("push: create index: %w", err)
			}
			return nil
		}
		// Another login created the bucket first: count again through it.
	}
	return errors.New("push: index contention, try again")
}

// recent lists the IDs of the challenges created for the identity in the
// current and the previous bucket.
func (s *Service) recent(ctx context.Context, identityID string, now time.Time) ([]string, error) {
	b := s.bucket(now)
	var ids []string
	for _, bk := range []int64{b - 1, b} {
		ix, err := s.readIndex(ctx, identityID, bk)
		if err != nil {
			return nil, err
		}
		for _, e := range ix.Entries {
			ids = append(ids, e.ID)
		}
	}
	return ids, nil
}
