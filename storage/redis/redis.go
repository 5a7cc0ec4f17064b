// Package redis is the storage.Ephemeral that several IdP nodes share: SSO
// sessions, the request-ID replay cache, rate-limit counters and shared
// values kept in Redis, every key under one prefix and every key with an
// expiry.
//
// Expiries are sent to Redis as relative TTLs (PX) computed on this node's
// clock, never as absolute times (PXAT): a Redis server whose clock runs
// ahead would otherwise forget request IDs early and shorten the replay
// window. Reads also check ExpiresAt, so a session is never returned past
// its expiry even if Redis has not dropped it yet.
package redis

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/spid-idp/spid-idp/storage"
)

// Options says where Redis is and how to reach it: one server (Addr), or
// the Sentinels that know the current primary of MasterName.
type Options struct {
	Addr string // host:port; unused with SentinelAddrs
	// SentinelAddrs (host:port each) and MasterName select Redis Sentinel:
	// the client asks the Sentinels for the primary and follows failovers.
	SentinelAddrs    []string
	MasterName       string
	SentinelPassword string // for the Sentinels' own AUTH, if they require one
	Username         string // ACL user; empty for the default user
	Password         string
	DB               int
	// KeyPrefix is put before every key, e.g. "spid-idp:", so the IdP can
	// share a Redis with other applications.
	KeyPrefix string
	TLS       bool // connect with TLS 1.2 or later, verifying the server's certificate
	PoolSize  int  // 0 means the go-redis default (10 per CPU)
	// Timeout bounds each command, retries and dialling included
	// (DefaultTimeout when 0): a Redis that stops answering fails the
	// command within it, and the IdP answers 503, instead of hanging.
	Timeout time.Duration
}

// DefaultTimeout is Options.Timeout when unset.
const DefaultTimeout = time.Second

// String describes the options without the password, so they can be logged.
func (o Options) String() string {
	pw := "unset"
	if o.Password != "" {
		pw = "set"
	}
	where := "addr=" + o.Addr
	if len(o.SentinelAddrs) > 0 {
		where = fmt.Sprintf("sentinels=%v master=%q", o.SentinelAddrs, o.MasterName)
	}
	return fmt.Sprintf("redis{%s user=%q password=%s db=%d prefix=%q tls=%t pool=%d}",
		where, o.Username, pw, o.DB, o.KeyPrefix, o.TLS, o.PoolSize)
}

// GoString keeps %#v from printing the password either.
func (o Options) GoString() string { return o.String() }

// Store implements storage.Ephemeral on Redis. It is safe for concurrent use.
type Store struct {
	client *goredis.Client
	prefix string
	now    func() time.Time

	closeOnce sync.Once
	closeErr  error
}

var (
	_ storage.Ephemeral = (*Store)(nil)
	_ storage.Values    = (*Store)(nil)
)

// maxUpdateAttempts bounds the optimistic retries of UpdateSession and
// UpdateValue. Each
// conflict means another writer committed, so the loop always makes
// progress overall; the bound only stops a caller starved for too long.
const maxUpdateAttempts = 500

// Open connects to Redis and pings it, so a wrong address or password fails
// at start-up rather than on the first login.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if len(opts.SentinelAddrs) > 0 {
		return openSentinel(ctx, opts)
	}
	if opts.Addr == "" {
		return nil, errors.New("redis: open: empty address")
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("redis: open: address %q is not host:port: %w", opts.Addr, err)
	}
	if err := checkOptions(opts); err != nil {
		return nil, fmt.Errorf("redis: open %s: %w", opts.Addr, err)
	}
	t := timeout(opts)
	ro := &goredis.Options{
		Addr:     opts.Addr,
		Username: opts.Username,
		Password: opts.Password,
		DB:       opts.DB,
		PoolSize: opts.PoolSize,
		// One retry (a pooled connection that died with a restart), no
		// dial retries: the command's deadline (see bound) covers it all.
		MaxRetries: 1, DialerRetries: 1,
		DialTimeout: t, ReadTimeout: t, WriteTimeout: t, PoolTimeout: t,
		ContextTimeoutEnabled: true,
	}
	if opts.TLS {
		ro.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	// go-redis errors carry the address and the server's reply, never the
	// password; the message is built here so that stays true.
	return connect(ctx, goredis.NewClient(ro), fmt.Sprintf("%s (db %d, tls %t)", opts.Addr, opts.DB, opts.TLS), opts)
}

// openSentinel connects through Redis Sentinel: the failover client asks
// the Sentinels for MasterName's primary, and when they promote a replica
// it drops its connections and follows the new primary.
func openSentinel(ctx context.Context, opts Options) (*Store, error) {
	if opts.MasterName == "" {
		return nil, errors.New("redis: open: Sentinel addresses without a master name")
	}
	for _, a := range opts.SentinelAddrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("redis: open: Sentinel address %q is not host:port: %w", a, err)
		}
	}
	if err := checkOptions(opts); err != nil {
		return nil, fmt.Errorf("redis: open master %q: %w", opts.MasterName, err)
	}
	fo := &goredis.FailoverOptions{
		MasterName:       opts.MasterName,
		SentinelAddrs:    opts.SentinelAddrs,
		SentinelPassword: opts.SentinelPassword,
		Username:         opts.Username,
		Password:         opts.Password,
		DB:               opts.DB,
		PoolSize:         opts.PoolSize,
		MaxRetries:       1, DialerRetries: 1,
		DialTimeout: timeout(opts), ReadTimeout: timeout(opts), WriteTimeout: timeout(opts), PoolTimeout: timeout(opts),
		ContextTimeoutEnabled: true,
	}
	if opts.TLS {
		// The primary's name changes with each failover: go-redis checks
		// the certificate against the host it dials.
		fo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	where := fmt.Sprintf("master %q via Sentinels %v (db %d, tls %t)", opts.MasterName, opts.SentinelAddrs, opts.DB, opts.TLS)
	return connect(ctx, goredis.NewFailoverClient(fo), where, opts)
}

func timeout(opts Options) time.Duration {
	if opts.Timeout > 0 {
		return opts.Timeout
	}
	return DefaultTimeout
}

// bound gives every command (and pipeline, and transaction) a deadline of
// d unless the caller's is sooner: with ContextTimeoutEnabled, go-redis
// then stops waiting, retrying and dialling when it passes.
type bound struct{ d time.Duration }

func (b bound) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (b bound) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		ctx, cancel := context.WithTimeout(ctx, b.d)
		defer cancel()
		return next(ctx, cmd)
	}
}

func (b bound) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		ctx, cancel := context.WithTimeout(ctx, b.d)
		defer cancel()
		return next(ctx, cmds)
	}
}

func checkOptions(opts Options) error {
	if opts.DB < 0 {
		return fmt.Errorf("negative DB %d", opts.DB)
	}
	if opts.PoolSize < 0 {
		return fmt.Errorf("negative pool size %d", opts.PoolSize)
	}
	return nil
}

// connect pings through client, so a wrong address or password fails at
// start-up rather than on the first login.
func connect(ctx context.Context, client *goredis.Client, where string, opts Options) (*Store, error) {
	client.AddHook(bound{d: timeout(opts)})
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis: connect to %s: %w", where, err)
	}
	return &Store{client: client, prefix: opts.KeyPrefix, now: time.Now}, nil
}

// sessionKey hashes the session ID: the ID is the bearer secret in the
// citizen's cookie, and whoever can list keys (MONITOR, SCAN, a backup)
// must not learn it. "sso:" rather than the "session:" of the single-JSON
// encoding before it: such an old key reads as no session (the citizen logs
// in again) instead of a type error, and expires on its own.
func (s *Store) sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return s.prefix + "sso:" + hex.EncodeToString(sum[:])
}

func (s *Store) requestIDKey(key string) string { return s.prefix + "reqid:" + key }
func (s *Store) counterKey(key string) string   { return s.prefix + "counter:" + key }

// valueKey keeps the caller's key readable (operators can see what a value
// is for), so callers put no secret in a value's key.
func (s *Store) valueKey(key string) string { return s.prefix + "value:" + key }

// A session is a Redis hash, so that a Response to one more SP writes one
// field instead of re-encoding the whole session (issue 14: a session that
// grew with every Response made each read and write cost more):
//
//	m        the fixed part, JSON (sessionRecord)
//	x        the expiry, Unix microseconds, so the scripts can compare it
//	p:<SP>   one field per participant, JSON (participantRecord); <SP> is
//	         SessionParticipant.Key (an OIDC RP: "oidc " + client_id)
//
// Field names are the stored contract: a Go rename cannot orphan sessions.
const (
	fieldMeta    = "m"
	fieldExpiry  = "x"
	fieldPartPfx = "p:"
	// sessionFixedFields counts the fields that are not participants.
	sessionFixedFields = 2
)

// sessionRecord is the fixed part of a session. It leaves out the ID, which
// the key already (hashed) identifies, and the expiry (field x).
type sessionRecord struct {
	IdentityID   string    `json:"identity_id"`
	Level        int       `json:"level"`
	AuthnInstant time.Time `json:"authn_instant"`
	CreatedAt    time.Time `json:"created_at"`
	Epoch        int64     `json:"epoch,omitempty"`
}

// participantRecord is one participant; its SP is in the field name.
type participantRecord struct {
	NameID       string    `json:"name_id"`
	SessionIndex string    `json:"session_index,omitempty"`
	IssuedAt     time.Time `json:"issued_at"`
	Protocol     string    `json:"protocol,omitempty"`
}

func encodeParticipant(p storage.SessionParticipant) (string, error) {
	b, err := json.Marshal(participantRecord{NameID: p.NameID, SessionIndex: p.SessionIndex, IssuedAt: p.IssuedAt.UTC(), Protocol: p.Protocol})
	return string(b), err
}

// encodeSession returns the hash fields of s as field, value pairs.
func encodeSession(s storage.Session) ([]any, error) {
	meta, err := json.Marshal(sessionRecord{
		IdentityID:   s.IdentityID,
		Level:        s.Level,
		AuthnInstant: s.AuthnInstant.UTC(),
		CreatedAt:    s.CreatedAt.UTC(),
		Epoch:        s.Epoch,
	})
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, 2*(sessionFixedFields+len(s.Participants)))
	out = append(out, fieldMeta, string(meta), fieldExpiry, strconv.FormatInt(s.ExpiresAt.UnixMicro(), 10))
	for _, p := range s.Participants {
		v, err := encodeParticipant(p)
		if err != nil {
			return nil, err
		}
		out = append(out, fieldPartPfx+p.Key(), v)
	}
	return out, nil
}

// decodeSession reads the hash fields of a stored session.
func decodeSession(id string, fields map[string]string) (storage.Session, error) {
	var r sessionRecord
	if err := json.Unmarshal([]byte(fields[fieldMeta]), &r); err != nil {
		return storage.Session{}, fmt.Errorf("field %s: %w", fieldMeta, err)
	}
	x, err := strconv.ParseInt(fields[fieldExpiry], 10, 64)
	if err != nil {
		return storage.Session{}, fmt.Errorf("field %s: %w", fieldExpiry, err)
	}
	s := storage.Session{
		ID:           id,
		IdentityID:   r.IdentityID,
		Level:        r.Level,
		AuthnInstant: r.AuthnInstant.UTC(),
		CreatedAt:    r.CreatedAt.UTC(),
		ExpiresAt:    time.UnixMicro(x).UTC(),
		Epoch:        r.Epoch,
	}
	for f, v := range fields {
		sp, ok := strings.CutPrefix(f, fieldPartPfx)
		if !ok {
			continue
		}
		var p participantRecord
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			return storage.Session{}, fmt.Errorf("participant field: %w", err)
		}
		if p.Protocol != storage.ProtocolSAML {
			sp = strings.TrimPrefix(sp, p.Protocol+" ")
		}
		s.Participants = append(s.Participants, storage.SessionParticipant{
			SPEntityID: sp, NameID: p.NameID, SessionIndex: p.SessionIndex, IssuedAt: p.IssuedAt.UTC(), Protocol: p.Protocol,
		})
	}
	storage.SortParticipants(s.Participants)
	return s, nil
}

// ttlUntil is the time left until exp, rounded up to whole milliseconds
// (Redis' precision) so an entry never expires before exp; zero or less
// when exp has passed.
func (s *Store) ttlUntil(exp time.Time) time.Duration {
	d := exp.Sub(s.now())
	if d <= 0 {
		return d
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// createSessionScript writes a new session hash unless the key exists, in
// one atomic step (the hash counterpart of SET NX PX).
var createSessionScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// CreateSession implements storage.Ephemeral.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	if sess.ID == "" {
		return errors.New("redis: create session: empty ID")
	}
	if err := storage.CheckParticipants(sess.Participants); err != nil {
		return fmt.Errorf("redis: create session: %w", err)
	}
	ttl := s.ttlUntil(sess.ExpiresAt)
	if ttl <= 0 {
		return fmt.Errorf("redis: create session: expiry %s is not in the future", sess.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	fields, err := encodeSession(sess)
	if err != nil {
		return fmt.Errorf("redis: create session: encode: %w", err)
	}
	args := append([]any{ttl.Milliseconds()}, fields...)
	ok, err := createSessionScript.Run(ctx, s.client, []string{s.sessionKey(sess.ID)}, args...).Int()
	if err != nil {
		return fmt.Errorf("redis: create session: %w", err)
	}
	if ok == 0 {
		return fmt.Errorf("redis: create session: %w", storage.ErrAlreadyExists)
	}
	return nil
}

// getSession reads and decodes a live session through c (the client or a
// transaction watching the key). Errors name no session ID: it is a secret.
func (s *Store) getSession(ctx context.Context, c goredis.Cmdable, id string) (storage.Session, error) {
	fields, err := c.HGetAll(ctx, s.sessionKey(id)).Result()
	if err != nil {
		return storage.Session{}, err
	}
	if len(fields) == 0 {
		return storage.Session{}, storage.ErrNotFound
	}
	sess, err := decodeSession(id, fields)
	if err != nil {
		return storage.Session{}, fmt.Errorf("stored session is corrupt: %w", err)
	}
	if !s.now().Before(sess.ExpiresAt) {
		return storage.Session{}, storage.ErrNotFound
	}
	return sess, nil
}

// GetSession implements storage.Ephemeral.
func (s *Store) GetSession(ctx context.Context, id string) (storage.Session, error) {
	sess, err := s.getSession(ctx, s.client, id)
	if err != nil {
		return storage.Session{}, fmt.Errorf("redis: get session: %w", err)
	}
	return sess, nil
}

// errRetry marks a transaction that lost an optimistic race.
var errRetry = errors.New("retry")

// watched runs txn, which reads under WATCH key and writes with MULTI/EXEC,
// until it commits without another writer getting in between: then EXEC
// fails and txn runs again from its read, so whatever fn txn calls may run
// more than once.
func (s *Store) watched(ctx context.Context, key string, txn func(tx *goredis.Tx) error) error {
	for attempt := range maxUpdateAttempts {
		err := s.client.Watch(ctx, func(tx *goredis.Tx) error {
			err := txn(tx)
			if errors.Is(err, goredis.TxFailedErr) {
				return errRetry
			}
			return err
		}, key)
		if !errors.Is(err, errRetry) {
			return err
		}
		// Jittered pause so the losers of a race do not collide again in
		// lockstep; it grows a little with each lost round.
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) * int64(1+min(attempt, 9))))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("still conflicting after %d attempts", maxUpdateAttempts)
}

// updateOutcome is the result of a watched update of a what: fnErr, the
// caller's own error, comes back as is (per the contract); any other failure
// is wrapped.
func updateOutcome(what string, err, fnErr error) error {
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	default:
		return fmt.Errorf("redis: update %s: %w", what, err)
	}
}

// UpdateSession implements storage.Ephemeral with an optimistic transaction
// (see watched), so fn may be called more than once. The key's TTL follows
// the ExpiresAt fn returns (unchanged ExpiresAt keeps the remaining
// lifetime); a past ExpiresAt ends the session.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(storage.Session) (storage.Session, error)) error {
	key := s.sessionKey(id)
	var fnErr error
	err := s.watched(ctx, key, func(tx *goredis.Tx) error {
		fnErr = nil
		cur, err := s.getSession(ctx, tx, id)
		if err != nil {
			return err
		}
		updated, err := fn(cur)
		if err != nil {
			fnErr = err
			return err
		}
		if updated.ID != id {
			return errors.New("the update changed the session ID")
		}
		if err := storage.CheckParticipants(updated.Participants); err != nil {
			return err
		}
		fields, err := encodeSession(updated)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		ttl := s.ttlUntil(updated.ExpiresAt)
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, key)
			if ttl > 0 {
				p.HSet(ctx, key, fields...)
				p.PExpire(ctx, key, ttl)
			}
			return nil
		})
		return err
	})
	return updateOutcome("session", err, fnErr)
}

// addParticipantScript sets one participant field and the expiry of a live
// session in one atomic step: -1 when the session is gone or past its
// expiry, -2 when a new SP would exceed the cap.
var addParticipantScript = goredis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'x')
if not x or tonumber(x) <= tonumber(ARGV[1]) then return -1 end
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 and redis.call('HLEN', KEYS[1]) - tonumber(ARGV[3]) >= tonumber(ARGV[4]) then return -2 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[5], 'x', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1
`)

// AddParticipant implements storage.Ephemeral with one script: one field
// and the expiry are written, in one round trip, whatever the session's
// size.
func (s *Store) AddParticipant(ctx context.Context, id string, p storage.SessionParticipant, expiresAt time.Time) error {
	if p.SPEntityID == "" {
		return errors.New("redis: add participant: empty SP entityID")
	}
	ttl := s.ttlUntil(expiresAt)
	if ttl <= 0 {
		return fmt.Errorf("redis: add participant: expiry %s is not in the future", expiresAt.UTC().Format(time.RFC3339Nano))
	}
	v, err := encodeParticipant(p)
	if err != nil {
		return fmt.Errorf("redis: add participant: encode: %w", err)
	}
	n, err := addParticipantScript.Run(ctx, s.client, []string{s.sessionKey(id)},
		s.now().UnixMicro(), fieldPartPfx+p.Key(), sessionFixedFields, storage.MaxSessionParticipants,
		v, expiresAt.UnixMicro(), ttl.Milliseconds()).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redis: add participant: %w", err)
	case n == -1:
		return fmt.Errorf("redis: add participant: %w", storage.ErrNotFound)
	case n == -2:
		return fmt.Errorf("redis: add participant: %w", storage.ErrSessionFull)
	}
	return nil
}

// DeleteSession implements storage.Ephemeral; ErrNotFound if Redis holds no
// such session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.deleteOne(ctx, s.sessionKey(id), "session")
}

// InsertRequestID implements storage.Ephemeral with SET NX: Redis runs
// commands one at a time, so exactly one of concurrent callers sets the key.
// An expiry that is not in the future is refused, as remembering a key for
// no time would let every replay through.
func (s *Store) InsertRequestID(ctx context.Context, key string, expiresAt time.Time) error {
	if key == "" {
		return errors.New("redis: insert request ID: empty key")
	}
	ttl := s.ttlUntil(expiresAt)
	if ttl <= 0 {
		return fmt.Errorf("redis: insert request ID: expiry %s is not in the future", expiresAt.UTC().Format(time.RFC3339Nano))
	}
	ok, err := s.client.SetNX(ctx, s.requestIDKey(key), "1", ttl).Result()
	if err != nil {
		return fmt.Errorf("redis: insert request ID: %w", err)
	}
	if !ok {
		return fmt.Errorf("redis: insert request ID: %w", storage.ErrAlreadyExists)
	}
	return nil
}

// incrScript increments and, for a new key, sets the window, in one atomic
// step: a crash between INCR and PEXPIRE cannot leave a counter that never
// expires (which would lock a user out for good). A key found without a TTL
// (written by something else) gets one too.
var incrScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// Incr implements storage.Ephemeral with a fixed window that starts at the
// first increment; later increments do not extend it.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	if key == "" {
		return 0, errors.New("redis: incr: empty key")
	}
	if window <= 0 {
		return 0, fmt.Errorf("redis: incr: window %s is not positive", window)
	}
	ms := (window + time.Millisecond - 1).Milliseconds()
	n, err := incrScript.Run(ctx, s.client, []string{s.counterKey(key)}, ms).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis: incr: %w", err)
	}
	return n, nil
}

// ResetCounter implements storage.Ephemeral.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, s.counterKey(key)).Err(); err != nil {
		return fmt.Errorf("redis: reset counter: %w", err)
	}
	return nil
}

// CreateValue implements storage.Values with SET NX PX: exactly one of
// concurrent creators sets the key. An expiry that is not in the future is
// refused.
func (s *Store) CreateValue(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := storage.CheckValue(key, value); err != nil {
		return fmt.Errorf("redis: create value: %w", err)
	}
	ttl := s.ttlUntil(expiresAt)
	if ttl <= 0 {
		return fmt.Errorf("redis: create value: expiry %s is not in the future", expiresAt.UTC().Format(time.RFC3339Nano))
	}
	ok, err := s.client.SetNX(ctx, s.valueKey(key), value, ttl).Result()
	if err != nil {
		return fmt.Errorf("redis: create value: %w", err)
	}
	if !ok {
		return fmt.Errorf("redis: create value: %w", storage.ErrAlreadyExists)
	}
	return nil
}

// GetValue implements storage.Values. GET and PTTL run in one MULTI, so the
// expiry belongs to the value read; it is this node's clock plus the TTL
// left, at Redis' millisecond precision.
func (s *Store) GetValue(ctx context.Context, key string) ([]byte, time.Time, error) {
	var get *goredis.StringCmd
	var pttl *goredis.DurationCmd
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, s.valueKey(key))
		pttl = p.PTTL(ctx, s.valueKey(key))
		return nil
	})
	if errors.Is(err, goredis.Nil) {
		return nil, time.Time{}, fmt.Errorf("redis: get value: %w", storage.ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("redis: get value: %w", err)
	}
	ttl := pttl.Val()
	if err := checkValueTTL(ttl); err != nil {
		return nil, time.Time{}, fmt.Errorf("redis: get value: %w", err)
	}
	data, _ := get.Bytes() // its error is the pipeline's, checked above
	return data, s.now().Add(ttl).UTC(), nil
}

// checkValueTTL reads the PTTL of a value key found by GET: a key without
// expiry (-1), which this package never writes, is an error rather than a
// value that lives for ever; none left (0, or -2 once gone) is not found.
func checkValueTTL(ttl time.Duration) error {
	switch {
	case ttl > 0:
		return nil
	case ttl == -1:
		return errors.New("stored key has no expiry")
	default:
		return storage.ErrNotFound
	}
}

// UpdateValue implements storage.Values with an optimistic transaction (see
// watched), so fn may run more than once. The write is SET XX KEEPTTL: the
// remaining lifetime is kept, and a value that expired meanwhile is not
// brought back without one.
func (s *Store) UpdateValue(ctx context.Context, key string, fn func([]byte) ([]byte, error)) error {
	rkey := s.valueKey(key)
	var fnErr error
	err := s.watched(ctx, rkey, func(tx *goredis.Tx) error {
		fnErr = nil
		cur, err := tx.Get(ctx, rkey).Bytes()
		if errors.Is(err, goredis.Nil) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		ttl, err := tx.PTTL(ctx, rkey).Result()
		if err != nil {
			return err
		}
		if err := checkValueTTL(ttl); err != nil {
			return err
		}
		updated, err := fn(cur)
		if err != nil {
			fnErr = err
			return err
		}
		if err := storage.CheckValue(key, updated); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.SetArgs(ctx, rkey, updated, goredis.SetArgs{Mode: "XX", KeepTTL: true})
			return nil
		})
		if errors.Is(err, goredis.Nil) {
			return storage.ErrNotFound // expired between the read and the write
		}
		return err
	})
	return updateOutcome("value", err, fnErr)
}

// DeleteValue implements storage.Values; ErrNotFound if Redis holds no such
// value.
func (s *Store) DeleteValue(ctx context.Context, key string) error {
	return s.deleteOne(ctx, s.valueKey(key), "value")
}

// deleteOne deletes rkey; ErrNotFound if Redis did not hold it.
func (s *Store) deleteOne(ctx context.Context, rkey, what string) error {
	n, err := s.client.Del(ctx, rkey).Result()
	if err != nil {
		return fmt.Errorf("redis: delete %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("redis: delete %s: %w", what, storage.ErrNotFound)
	}
	return nil
}

// Ping implements storage.Ephemeral with a real round trip.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Close releases the connection pool. Calling it again returns the first
// result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.client.Close(); err != nil {
			s.closeErr = fmt.Errorf("redis: close: %w", err)
		}
	})
	return s.closeErr
}
