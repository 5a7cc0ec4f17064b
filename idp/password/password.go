// Package password hashes and verifies passwords with argon2id, stored as PHC
// strings ($argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>).
//
// The cost parameters are read back from each stored string, so hashes made
// with older parameters keep verifying after the defaults change; NeedsRehash
// tells the caller when to replace them after a successful login. Parameters
// read from storage are bounded so a corrupted or malicious row cannot make
// one verification allocate gigabytes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Time      uint32 // passes over memory (t)
	MemoryKiB uint32 // memory in KiB (m)
	Threads   uint8  // lanes (p)
	KeyLen    uint32 // tag length in bytes
	SaltLen   uint32 // salt length in bytes
}

// RFC9106Second is the second recommended option of RFC 9106 §4
// (t=3, m=64 MiB, p=4), which Authelia also uses as its default.
var RFC9106Second = Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 4, KeyLen: 32, SaltLen: 16}

// Default is the project default: RFC 9106's second option with two passes
// instead of three, which costs about 50 ms per hash on the project's 2-core
// reference machine (BenchmarkHash). The full t=3 costs ~120 ms there, too
// much CPU per login request an attacker can make us spend; keeping 64 MiB
// preserves the memory-hardness that matters against GPU cracking.
var Default = Params{Time: 2, MemoryKiB: 64 * 1024, Threads: 4, KeyLen: 32, SaltLen: 16}

// Bounds accepted for parameters, both when hashing and when reading a
// stored string. The upper bounds cap the memory (256 MiB) and CPU one
// Verify call can spend whatever the database holds.
const (
	MaxTime      = 16
	MaxMemoryKiB = 256 * 1024
	MaxThreads   = 16
	MinKeyLen    = 16
	MaxKeyLen    = 64
	MinSaltLen   = 8
	MaxSaltLen   = 64
	// MaxPasswordBytes bounds the input; longer passwords are refused rather
	// than silently truncated.
	MaxPasswordBytes = 1024
	// maxEncodedLen bounds the PHC string before any parsing work.
	maxEncodedLen = 256
)

// Errors callers can test with errors.Is.
var (
	ErrMalformed     = errors.New("password: malformed argon2id PHC string")
	ErrUnsupported   = errors.New("password: unsupported hash algorithm or version")
	ErrParams        = errors.New("password: argon2id parameters out of bounds")
	ErrPasswordLong  = errors.New("password: password longer than the accepted maximum")
	errRandomFailure = errors.New("password: reading random salt")
)

// Validate reports whether p is within the accepted bounds.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: t=%d, want 1..%d", ErrParams, p.Time, MaxTime)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: p=%d, want 1..%d", ErrParams, p.Threads, MaxThreads)
	// argon2 needs at least 8 KiB per lane.
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("%w: m=%d KiB, want %d..%d", ErrParams, p.MemoryKiB, 8*uint32(p.Threads), MaxMemoryKiB)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("%w: key length %d, want %d..%d", ErrParams, p.KeyLen, MinKeyLen, MaxKeyLen)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("%w: salt length %d, want %d..%d", ErrParams, p.SaltLen, MinSaltLen, MaxSaltLen)
	}
	return nil
}

// String renders the parameters in PHC form, for logs and reports.
func (p Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d (key %d, salt %d bytes)", p.MemoryKiB, p.Time, p.Threads, p.KeyLen, p.SaltLen)
}

// Hash derives an argon2id hash of pw with a fresh random salt and returns it
// as a PHC string.
func Hash(pw string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if len(pw) > MaxPasswordBytes {
		return "", ErrPasswordLong
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("%w: %w", errRandomFailure, err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return encode(p, salt, key), nil
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// b64 is the PHC base64: standard alphabet, no padding. Strict mode refuses
// non-zero trailing bits, so every hash has exactly one accepted spelling.
var b64 = base64.RawStdEncoding.Strict()

// decoded is a parsed PHC string.
type decoded struct {
	params Params
	salt   []byte
	key    []byte
}

// parse reads an argon2id PHC string strictly: exactly the form Hash
// writes, parameters in the order m, t, p, decimal without signs or leading
// zeros, bounded before any allocation that depends on them.
func parse(encoded string) (decoded, error) {
	var d decoded
	if len(encoded) > maxEncodedLen {
		return d, fmt.Errorf("%w: %d bytes, longer than %d", ErrMalformed, len(encoded), maxEncodedLen)
	}
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return d, fmt.Errorf("%w: want 5 '$'-separated fields", ErrMalformed)
	}
	if parts[1] != "argon2id" {
		return d, fmt.Errorf("%w: algorithm %q", ErrUnsupported, truncate(parts[1]))
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return d, fmt.Errorf("%w: missing version field", ErrMalformed)
	}
	ver, err := parseUint(v, 1<<8)
	if err != nil {
		return d, fmt.Errorf("%w: version: %v", ErrMalformed, err)
	}
	if ver != argon2.Version {
		return d, fmt.Errorf("%w: argon2 version %d, want %d", ErrUnsupported, ver, argon2.Version)
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return d, fmt.Errorf("%w: want parameters m,t,p", ErrMalformed)
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		s, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return d, fmt.Errorf("%w: parameter %d is not %s=", ErrMalformed, i+1, name)
		}
		// Bound while parsing so huge numbers are refused, not wrapped.
		if vals[i], err = parseUint(s, 1<<32-1); err != nil {
			return d, fmt.Errorf("%w: parameter %s: %v", ErrMalformed, name, err)
		}
	}
	if vals[2] > 255 {
		return d, fmt.Errorf("%w: p=%d", ErrParams, vals[2])
	}
	d.params = Params{MemoryKiB: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	// The encoded lengths are already bounded by maxEncodedLen. Go's base64
	// decoder skips \r and \n even in Strict mode, so a stored or imported
	// hash with a line break inside would be taken for another string (found
	// by FuzzParse; the crasher is kept under testdata/fuzz).
	if strings.ContainsAny(parts[4], "\r\n") || strings.ContainsAny(parts[5], "\r\n") {
		return d, fmt.Errorf("%w: line break inside the salt or hash", ErrMalformed)
	}
	if d.salt, err = b64.DecodeString(parts[4]); err != nil {
		return d, fmt.Errorf("%w: salt: %v", ErrMalformed, err)
	}
	if d.key, err = b64.DecodeString(parts[5]); err != nil {
		return d, fmt.Errorf("%w: hash: %v", ErrMalformed, err)
	}
	d.params.SaltLen = uint32(len(d.salt))
	d.params.KeyLen = uint32(len(d.key))
	if err := d.params.Validate(); err != nil {
		return d, err
	}
	return d, nil
}

// parseUint parses a canonical decimal number no larger than max.
func parseUint(s string, max uint64) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("number out of range (max %d)", max)
	}
	return n, nil
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// Verify reports whether pw matches the PHC string encoded. A mismatch is
// (false, nil); an error means the stored string is unusable, which callers
// must treat as a failed login (and should log, since it means corrupted data).
// The comparison of the derived keys runs in constant time.
func Verify(encoded, pw string) (bool, error) {
	d, err := parse(encoded)
	if err != nil {
		return false, err
	}
	if len(pw) > MaxPasswordBytes {
		return false, ErrPasswordLong
	}
	key := argon2.IDKey([]byte(pw), d.salt, d.params.Time, d.params.MemoryKiB, d.params.Threads, d.params.KeyLen)
	return subtle.ConstantTimeCompare(key, d.key) == 1, nil
}

// Parse returns the parameters a PHC string was made with.
func Parse(encoded string) (Params, error) {
	d, err := parse(encoded)
	return d.params, err
}

// NeedsRehash reports whether encoded was not made with exactly p (or cannot
// be read), so the caller should store a new hash of the password it has
// just verified.
func NeedsRehash(encoded string, p Params) bool {
	got, err := Parse(encoded)
	return err != nil || got != p
}

// dummies caches one dummy hash per Params so DummyVerify costs one argon2id
// derivation, like a real Verify.
var dummies sync.Map // Params -> string

// DummyHash returns a fixed hash made with p of a random password nobody
// knows, computed once per Params and cached.
func DummyHash(p Params) (string, error) {
	if h, ok := dummies.Load(p); ok {
		return h.(string), nil
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("%w: %w", errRandomFailure, err)
	}
	h, err := Hash(b64.EncodeToString(secret), p)
	if err != nil {
		return "", err
	}
	actual, _ := dummies.LoadOrStore(p, h)
	return actual.(string), nil
}

// DummyVerify spends the time of one Verify with parameters p and always
// fails. Call it when the username is unknown (or has no password) so that
// the reply takes as long as for a wrong password (security.md §C.3). Call
// DummyHash(p) at start-up so the first unknown user does not pay twice.
func DummyVerify(p Params, pw string) {
	h, err := DummyHash(p)
	if err != nil {
		return
	}
	_, _ = Verify(h, pw)
}
