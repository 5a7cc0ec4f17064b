// Package memory is the in-process storage.Ephemeral: SSO sessions, the
// request-ID replay cache, rate-limit counters and shared values kept in maps. It is the
// default for a single IdP node; several nodes must share Redis instead,
// because a replay cache that each node keeps for itself lets a request
// replayed against another node through.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// DefaultSweepInterval is how often the janitor drops expired entries.
// Reads never depend on it: expiry is checked on every read.
const DefaultSweepInterval = time.Minute

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, so tests can move time without sleeping.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithSweepInterval sets how often expired entries are removed from memory;
// zero or less disables the janitor (expired entries stay invisible but
// occupy memory until overwritten).
func WithSweepInterval(d time.Duration) Option {
	return func(s *Store) { s.sweepEvery = d }
}

// Store implements storage.Ephemeral in process memory. It is safe for
// concurrent use. Values are copied on the way in and out, so callers never
// share memory with the store.
type Store struct {
	now        func() time.Time
	sweepEvery time.Duration

	mu         sync.RWMutex
	sessions   map[string]*memSession
	requestIDs map[string]time.Time // key -> expiry
	counters   map[string]counter
	values     map[string]entry

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

type counter struct {
	n       int64
	expires time.Time
}

// entry is a stored value and its expiry.
type entry struct {
	data    []byte
	expires time.Time
}

var (
	_ storage.Ephemeral = (*Store)(nil)
	_ storage.Values    = (*Store)(nil)
)

// New returns an empty store and starts its janitor; Close stops it.
func New(opts ...Option) *Store {
	s := &Store{
		now:        time.Now,
		sweepEvery: DefaultSweepInterval,
		sessions:   make(map[string]*memSession),
		requestIDs: make(map[string]time.Time),
		counters:   make(map[string]counter),
		values:     make(map[string]entry),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if s.sweepEvery > 0 {
		go s.janitor()
	} else {
		close(s.done)
	}
	return s
}

func (s *Store) janitor() {
	defer close(s.done)
	t := time.NewTicker(s.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep deletes every entry whose expiry has passed.
func (s *Store) sweep() {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.sessions {
		if expired(sess.meta.ExpiresAt, now) {
			delete(s.sessions, id)
		}
	}
	for k, exp := range s.requestIDs {
		if expired(exp, now) {
			delete(s.requestIDs, k)
		}
	}
	for k, c := range s.counters {
		if expired(c.expires, now) {
			delete(s.counters, k)
		}
	}
	for k, e := range s.values {
		if expired(e.expires, now) {
			delete(s.values, k)
		}
	}
}

// expired reports whether an entry valid until exp is gone at now: the
// expiry instant itself already counts as expired.
func expired(exp, now time.Time) bool { return !now.Before(exp) }

// memSession is a stored session: its fixed part, and its participants
// keyed by SP, so a join replaces one entry in place instead of copying the
// whole session (the memory counterpart of the Redis hash).
type memSession struct {
	meta  storage.Session // Participants always nil
	parts map[string]storage.SessionParticipant
}

func utcParticipant(p storage.SessionParticipant) storage.SessionParticipant {
	p.IssuedAt = p.IssuedAt.UTC()
	return p
}

// newMemSession copies s with every time in UTC, so the store never aliases
// a caller's Participants slice and times read back the same way from every
// backend.
func newMemSession(s storage.Session) *memSession {
	m := &memSession{parts: make(map[string]storage.SessionParticipant, len(s.Participants))}
	for _, p := range s.Participants {
		m.parts[p.Key()] = utcParticipant(p)
	}
	s.AuthnInstant = s.AuthnInstant.UTC()
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	s.Participants = nil
	m.meta = s
	return m
}

// session returns a copy of m, participants ordered by SP.
func (m *memSession) session() storage.Session {
	s := m.meta
	if len(m.parts) == 0 {
		return s
	}
	s.Participants = make([]storage.SessionParticipant, 0, len(m.parts))
	for _, p := range m.parts {
		s.Participants = append(s.Participants, p)
	}
	storage.SortParticipants(s.Participants)
	return s
}

// CreateSession implements storage.Ephemeral.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if sess.ID == "" {
		return errors.New("memory: create session: empty ID")
	}
	if err := storage.CheckParticipants(sess.Participants); err != nil {
		return fmt.Errorf("memory: create session: %w", err)
	}
	now := s.now()
	if expired(sess.ExpiresAt, now) {
		return fmt.Errorf("memory: create session: expiry %s is not in the future", sess.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sessions[sess.ID]; ok && !expired(old.meta.ExpiresAt, now) {
		return fmt.Errorf("memory: create session: %w", storage.ErrAlreadyExists)
	}
	s.sessions[sess.ID] = newMemSession(sess)
	return nil
}

// GetSession implements storage.Ephemeral.
func (s *Store) GetSession(ctx context.Context, id string) (storage.Session, error) {
	if err := ctx.Err(); err != nil {
		return storage.Session{}, err
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[id]
	if !ok || expired(sess.meta.ExpiresAt, now) {
		return storage.Session{}, fmt.Errorf("memory: get session: %w", storage.ErrNotFound)
	}
	return sess.session(), nil
}

// UpdateSession implements storage.Ephemeral. fn runs under the store's lock,
// which makes the read-modify-write atomic; fn must therefore not call the
// store. Setting ExpiresAt moves the session's expiry; a past ExpiresAt ends
// the session.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(storage.Session) (storage.Session, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok || expired(sess.meta.ExpiresAt, s.now()) {
		return fmt.Errorf("memory: update session: %w", storage.ErrNotFound)
	}
	updated, err := fn(sess.session())
	if err != nil {
		return err
	}
	if updated.ID != id {
		return errors.New("memory: update session: the update changed the session ID")
	}
	if err := storage.CheckParticipants(updated.Participants); err != nil {
		return fmt.Errorf("memory: update session: %w", err)
	}
	s.sessions[id] = newMemSession(updated)
	return nil
}

// AddParticipant implements storage.Ephemeral: one map entry and the expiry
// change, whatever the session's size.
func (s *Store) AddParticipant(ctx context.Context, id string, p storage.SessionParticipant, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.SPEntityID == "" {
		return errors.New("memory: add participant: empty SP entityID")
	}
	now := s.now()
	if expired(expiresAt, now) {
		return fmt.Errorf("memory: add participant: expiry %s is not in the future", expiresAt.UTC().Format(time.RFC3339Nano))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok || expired(sess.meta.ExpiresAt, now) {
		return fmt.Errorf("memory: add participant: %w", storage.ErrNotFound)
	}
	if _, known := sess.parts[p.Key()]; !known && len(sess.parts) >= storage.MaxSessionParticipants {
		return fmt.Errorf("memory: add participant: %w", storage.ErrSessionFull)
	}
	sess.parts[p.Key()] = utcParticipant(p)
	sess.meta.ExpiresAt = expiresAt.UTC()
	return nil
}

// DeleteSession implements storage.Ephemeral; ErrNotFound if there is no
// live session with that ID.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return fmt.Errorf("memory: delete session: %w", storage.ErrNotFound)
	}
	delete(s.sessions, id)
	if expired(sess.meta.ExpiresAt, now) {
		return fmt.Errorf("memory: delete session: %w", storage.ErrNotFound)
	}
	return nil
}

// InsertRequestID implements storage.Ephemeral. An expiry that is not in the
// future is refused: remembering a key for no time would let every replay
// through.
func (s *Store) InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return errors.New("memory: insert request ID: empty key")
	}
	now := s.now()
	if expired(expiresAt, now) {
		return fmt.Errorf("memory: insert request ID: expiry %s is not in the future", expiresAt.UTC().Format(time.RFC3339Nano))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.requestIDs[key]; ok && !expired(exp, now) {
		return fmt.Errorf("memory: insert request ID: %w", storage.ErrAlreadyExists)
	}
	s.requestIDs[key] = expiresAt
	return nil
}

// Incr implements storage.Ephemeral with a fixed window: the window starts
// at the first increment and later increments do not extend it.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if key == "" {
		return 0, errors.New("memory: incr: empty key")
	}
	if window <= 0 {
		return 0, fmt.Errorf("memory: incr: window %s is not positive", window)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.counters[key]
	if !ok || expired(c.expires, now) {
		c = counter{expires: now.Add(window)}
	}
	c.n++
	s.counters[key] = c
	return c.n, nil
}

// ResetCounter implements storage.Ephemeral.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.counters, key)
	s.mu.Unlock()
	return nil
}

// CreateValue implements storage.Values. An expiry that is not in the future
// is refused: the value would never be readable.
func (s *Store) CreateValue(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storage.CheckValue(key, value); err != nil {
		return fmt.Errorf("memory: create value: %w", err)
	}
	now := s.now()
	if expired(expiresAt, now) {
		return fmt.Errorf("memory: create value: expiry %s is not in the future", expiresAt.UTC().Format(time.RFC3339Nano))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.values[key]; ok && !expired(old.expires, now) {
		return fmt.Errorf("memory: create value: %w", storage.ErrAlreadyExists)
	}
	s.values[key] = entry{data: bytes.Clone(value), expires: expiresAt.UTC()}
	return nil
}

// GetValue implements storage.Values; the bytes returned are the caller's.
func (s *Store) GetValue(ctx context.Context, key string) ([]byte, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return nil, time.Time{}, err
	}
	now := s.now()
	s.mu.RLock()
	e, ok := s.values[key]
	s.mu.RUnlock()
	if !ok || expired(e.expires, now) {
		return nil, time.Time{}, fmt.Errorf("memory: get value: %w", storage.ErrNotFound)
	}
	// Stored data is never modified in place (updates replace it), so copying
	// outside the lock is safe.
	return cloneNonNil(e.data), e.expires, nil
}

// UpdateValue implements storage.Values. fn runs under the store's lock, so
// it runs once and must not call the store; the expiry is kept.
func (s *Store) UpdateValue(ctx context.Context, key string, fn func([]byte) ([]byte, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.values[key]
	if !ok || expired(e.expires, s.now()) {
		return fmt.Errorf("memory: update value: %w", storage.ErrNotFound)
	}
	updated, err := fn(cloneNonNil(e.data))
	if err != nil {
		return err
	}
	if err := storage.CheckValue(key, updated); err != nil {
		return fmt.Errorf("memory: update value: %w", err)
	}
	s.values[key] = entry{data: bytes.Clone(updated), expires: e.expires}
	return nil
}

// DeleteValue implements storage.Values; ErrNotFound if there is no live
// value under key.
func (s *Store) DeleteValue(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.values[key]
	delete(s.values, key)
	if !ok || expired(e.expires, now) {
		return fmt.Errorf("memory: delete value: %w", storage.ErrNotFound)
	}
	return nil
}

// cloneNonNil copies b, giving an empty value as a non-nil empty slice as
// Redis does, so callers see the same thing from every backend.
func cloneNonNil(b []byte) []byte {
	return append([]byte{}, b...)
}

// Ping implements storage.Ephemeral; an in-process store is always reachable.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close stops the janitor and waits for it. It is safe to call more than
// once; the store keeps answering afterwards, it just no longer sweeps.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}
