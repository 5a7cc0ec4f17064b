package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/spid-idp/spid-idp/storage"
)

// Sources recorded in storage.ServiceProvider.Source by this package.
const (
	SourceDirectory = "directory"
)

// DefaultCacheTTL bounds how long a parsed SP is served from memory before
// the store is read again, so changes made by another node show up.
const DefaultCacheTTL = time.Minute

// RegistryOptions configure a Registry.
type RegistryOptions struct {
	Parse    ParseOptions  // checks applied on Add and on every (re)load
	CacheTTL time.Duration // 0 means DefaultCacheTTL
	Logger   *slog.Logger  // nil means slog.Default()
}

// Registry is the set of trusted SPs: their signed metadata persisted
// verbatim in a storage.Store, parsed SPs cached in memory.
type Registry struct {
	store storage.Store
	opts  RegistryOptions
	log   *slog.Logger
	mu    sync.Mutex
	cache map[string]cacheEntry
	now   func() time.Time
	dirMu sync.Mutex // one LoadDir at a time
}

type cacheEntry struct {
	sp      *SP
	expires time.Time // cache TTL, certificate expiry or validUntil, whichever first
}

// NewRegistry returns a Registry over store.
func NewRegistry(store storage.Store, opts RegistryOptions) *Registry {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := time.Now
	if opts.Parse.Now != nil {
		now = opts.Parse.Now
	}
	return &Registry{store: store, opts: opts, log: log, cache: map[string]cacheEntry{}, now: now}
}

// Add checks metadata and, if it passes, registers the SP or replaces its
// metadata. A replaced SP keeps its status (a disabled SP stays disabled).
func (r *Registry) Add(ctx context.Context, xml []byte, source string) (*SP, error) {
	md, err := ParseSPMetadata(xml, r.opts.Parse)
	if err != nil {
		return nil, err
	}
	sp := md.SP
	now := r.now().UTC()
	rec := storage.ServiceProvider{
		EntityID:    sp.EntityID,
		MetadataXML: bytes.Clone(xml),
		Status:      storage.SPActive,
		Source:      source,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	// Create, or replace when it exists; retry once if the row vanishes
	// or appears between the two calls.
	for attempt := 0; ; attempt++ {
		err = r.store.CreateServiceProvider(ctx, rec)
		if !errors.Is(err, storage.ErrAlreadyExists) {
			break
		}
		err = r.store.UpdateServiceProvider(ctx, sp.EntityID, func(cur storage.ServiceProvider) (storage.ServiceProvider, error) {
			cur.MetadataXML = rec.MetadataXML
			cur.Source = source
			cur.UpdatedAt = now
			return cur, nil
		})
		if !errors.Is(err, storage.ErrNotFound) || attempt > 0 {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("metadata: store SP %q: %w", sp.EntityID, err)
	}
	r.invalidate(sp.EntityID)
	for _, w := range md.Warnings {
		r.log.Warn("SP metadata warning", "entity_id", sp.EntityID, "warning", w)
	}
	return sp, nil
}

// Remove deletes the SP; storage.ErrNotFound (wrapped) if unknown.
func (r *Registry) Remove(ctx context.Context, entityID string) error {
	err := r.store.DeleteServiceProvider(ctx, entityID)
	r.invalidate(entityID)
	if err != nil {
		return fmt.Errorf("metadata: remove SP %q: %w", entityID, err)
	}
	return nil
}

// SetStatus enables or disables an SP without touching its metadata.
func (r *Registry) SetStatus(ctx context.Context, entityID string, status storage.SPStatus) error {
	if status != storage.SPActive && status != storage.SPDisabled {
		return fmt.Errorf("metadata: unknown SP status %q", status)
	}
	err := r.store.UpdateServiceProvider(ctx, entityID, func(cur storage.ServiceProvider) (storage.ServiceProvider, error) {
		cur.Status = status
		cur.UpdatedAt = r.now().UTC()
		return cur, nil
	})
	r.invalidate(entityID)
	if err != nil {
		return fmt.Errorf("metadata: set status of SP %q: %w", entityID, err)
	}
	return nil
}

func (r *Registry) invalidate(entityID string) {
	r.mu.Lock()
	delete(r.cache, entityID)
	r.mu.Unlock()
}

// Get returns the trusted SP with this entityID. Unknown and disabled SPs,
// and SPs whose stored metadata no longer passes the checks (expired
// certificate, validUntil passed), give an error wrapping
// storage.ErrNotFound: to the protocol they are all "unknown SP".
// Other errors are infrastructure failures. The returned SP is shared with
// other callers and must not be modified.
func (r *Registry) Get(ctx context.Context, entityID string) (*SP, error) {
	now := r.now()
	r.mu.Lock()
	e, ok := r.cache[entityID]
	r.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.sp, nil
	}
	rec, err := r.store.GetServiceProvider(ctx, entityID)
	if err != nil {
		return nil, fmt.Errorf("metadata: SP %q: %w", entityID, err)
	}
	if rec.Status != storage.SPActive {
		r.invalidate(entityID)
		return nil, fmt.Errorf("metadata: SP %q is %s: %w", entityID, rec.Status, storage.ErrNotFound)
	}
	md, err := ParseSPMetadata(rec.MetadataXML, r.opts.Parse)
	if err != nil {
		r.invalidate(entityID)
		return nil, fmt.Errorf("metadata: stored metadata of SP %q is no longer trusted: %w (%w)", entityID, storage.ErrNotFound, err)
	}
	if md.SP.EntityID != entityID {
		return nil, fmt.Errorf("metadata: stored metadata under %q describes %q: %w", entityID, md.SP.EntityID, storage.ErrNotFound)
	}
	r.mu.Lock()
	r.cache[entityID] = cacheEntry{sp: md.SP, expires: cacheExpiry(md, now, r.opts.CacheTTL)}
	r.mu.Unlock()
	return md.SP, nil
}

func cacheExpiry(md *SPMetadata, now time.Time, ttl time.Duration) time.Time {
	exp := now.Add(ttl)
	if !md.ValidUntil.IsZero() && md.ValidUntil.Before(exp) {
		exp = md.ValidUntil
	}
	for _, c := range md.SP.Certificates {
		if c.NotAfter.Before(exp) {
			exp = c.NotAfter
		}
	}
	return exp
}

// Entry is one registered SP as List reports it.
type Entry struct {
	storage.ServiceProvider
	// Metadata is the parsed metadata, nil when Err is set.
	Metadata *SPMetadata
	// Err says why the stored metadata does not pass the checks today.
	Err error
}

// List returns every registered SP, active or not, each re-checked now.
func (r *Registry) List(ctx context.Context) ([]Entry, error) {
	recs, err := r.store.ListServiceProviders(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: list SPs: %w", err)
	}
	out := make([]Entry, 0, len(recs))
	for _, rec := range recs {
		e := Entry{ServiceProvider: rec}
		e.Metadata, e.Err = ParseSPMetadata(rec.MetadataXML, r.opts.Parse)
		out = append(out, e)
	}
	return out, nil
}

// DefaultRevisionPoll is how often WatchRevision asks the store whether
// the registry changed: a change made on one node (or by the command
// line) reaches every node's cache within about this time.
const DefaultRevisionPoll = time.Second

// WatchRevision drops the parsed SPs cached in memory whenever the store's
// SP revision changes, polling it every interval (<= 0:
// DefaultRevisionPoll) until ctx ends, and returns ctx's error.
//
// Why a poll of the database rather than a pub/sub message: the revision
// is bumped in the transaction of the change itself, by whoever makes it
// (another node, or the sp command that opens only the database), so no
// change can be missed or arrive before it is visible, and a node that
// was cut off catches up on its first successful read. It costs one
// primary-key read per node per second. While the store cannot be read,
// the cache TTL still bounds staleness.
func (r *Registry) WatchRevision(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultRevisionPoll
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last int64
	failing := false // log a store outage once, not every interval
	for {
		rctx, cancel := context.WithTimeout(ctx, interval)
		rev, err := r.store.ServiceProviderRevision(rctx)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() == nil && !failing {
				r.log.Warn("SP registry revision unreadable; cached SPs expire by their TTL", "error", err)
			}
			failing = true
		default:
			if failing {
				failing = false
				r.log.Info("SP registry revision readable again")
			}
			if rev != last {
				if last != 0 {
					r.log.Info("SP registry changed; cache dropped", "revision", rev)
				}
				r.mu.Lock()
				clear(r.cache)
				r.mu.Unlock()
				last = rev
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// dirFile is what WatchDir compares between polls.
type dirFile struct {
	modTime time.Time
	size    int64
}

// DirResult reports what LoadDir did.
type DirResult struct {
	Added, Updated, Unchanged []string // entityIDs
	Failed                    map[string]error
}

// LoadDir registers or refreshes the SP of every *.xml file in dir (source
// "directory"). A file that fails the checks leaves the last good copy in
// place.
//
// The registry in the store is the single source of truth and the
// directory only an import source: an SP whose file is missing stays
// registered. Each node of a cluster has its own directory, and a node
// whose directory is empty or behind must not remove SPs another node
// imported; removal is explicit (spid-idp sp disable / sp remove).
func (r *Registry) LoadDir(ctx context.Context, dir string) (DirResult, error) {
	r.dirMu.Lock()
	defer r.dirMu.Unlock()
	res := DirResult{Failed: map[string]error{}}
	if _, err := os.Stat(dir); err != nil {
		return res, fmt.Errorf("metadata: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		return res, fmt.Errorf("metadata: list %s: %w", dir, err)
	}
	sort.Strings(files)
	present := map[string]bool{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		id, status, err := r.loadFile(ctx, f)
		if err != nil {
			res.Failed[f] = err
			continue
		}
		present[id] = true
		switch status {
		case "added":
			res.Added = append(res.Added, id)
		case "updated":
			res.Updated = append(res.Updated, id)
		default:
			res.Unchanged = append(res.Unchanged, id)
		}
	}
	var errs []error
	for f, err := range res.Failed {
		errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(f), err))
	}
	return res, errors.Join(errs...)
}

func (r *Registry) loadFile(ctx context.Context, name string) (entityID, status string, err error) {
	data, err := readLimited(name)
	if err != nil {
		return "", "", err
	}
	md, err := ParseSPMetadata(data, r.opts.Parse)
	if err != nil {
		return "", "", err
	}
	id := md.SP.EntityID
	cur, err := r.store.GetServiceProvider(ctx, id)
	switch {
	case err == nil && bytes.Equal(cur.MetadataXML, data):
		return id, "unchanged", nil
	case err == nil && cur.Source != SourceDirectory:
		// An operator registered this SP by hand; the directory must not
		// silently take it over.
		return "", "", fmt.Errorf("SP %q is registered from %q, not from the directory", id, cur.Source)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return "", "", fmt.Errorf("read SP %q: %w", id, err)
	}
	if _, err := r.Add(ctx, data, SourceDirectory); err != nil {
		return "", "", err
	}
	if cur.EntityID == "" {
		return id, "added", nil
	}
	return id, "updated", nil
}

func readLimited(name string) ([]byte, error) { return readFileLimited(name, MaxMetadataSize) }

func readFileLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// dirState fingerprints the *.xml files of dir by name, size and mtime.
func dirState(dir string) (map[string]dirFile, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		return nil, err
	}
	st := make(map[string]dirFile, len(files))
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			continue // removed meanwhile; the next poll sees it
		}
		st[f] = dirFile{modTime: fi.ModTime(), size: fi.Size()}
	}
	return st, nil
}

func sameState(a, b map[string]dirFile) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !v.modTime.Equal(w.modTime) || v.size != w.size {
			return false
		}
	}
	return true
}

// WatchDir loads dir now and then every interval whenever a *.xml file was
// added, removed or modified, until ctx ends. Failures are logged and the
// last good metadata stays in force; it returns ctx's error.
func (r *Registry) WatchDir(ctx context.Context, dir string, interval time.Duration) error {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	var last map[string]dirFile
	retry := false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := dirState(dir)
		switch {
		case err != nil:
			r.log.Error("SP metadata directory unreadable", "dir", dir, "error", err)
		case last == nil || retry || !sameState(st, last):
			res, err := r.LoadDir(ctx, dir)
			r.logDirResult(dir, res, err)
			last = st
			// A store failure is worth retrying even if no file changes;
			// a file that fails the checks is not, until it changes.
			retry = err != nil && len(res.Failed) == 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (r *Registry) logDirResult(dir string, res DirResult, err error) {
	for _, id := range res.Added {
		r.log.Info("SP registered from directory", "dir", dir, "entity_id", id)
	}
	for _, id := range res.Updated {
		r.log.Info("SP metadata updated from directory", "dir", dir, "entity_id", id)
	}
	for f, ferr := range res.Failed {
		r.log.Warn("SP metadata file rejected; last good copy kept", "file", f, "error", ferr)
	}
	if err != nil && len(res.Failed) == 0 {
		r.log.Error("loading SP metadata directory failed", "dir", dir, "error", err)
	}
}

// FetchURL downloads SP metadata for "sp add --metadata URL": at most
// MaxMetadataSize bytes, status 200, and HTTPS (also across redirects)
// when the registry runs with the production profile. client nil means a
// client with a 30-second timeout.
func (r *Registry) FetchURL(ctx context.Context, rawURL string, client *http.Client) ([]byte, error) {
	return r.fetch(ctx, rawURL, client, MaxMetadataSize)
}

func (r *Registry) fetch(ctx context.Context, rawURL string, client *http.Client, limit int64) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("metadata: %q is not an http(s) URL", rawURL)
	}
	prod := r.opts.Parse.Production
	if prod && u.Scheme != "https" {
		return nil, fmt.Errorf("metadata: %q: production requires https", rawURL)
	}
	c := http.Client{Timeout: 30 * time.Second}
	if client != nil {
		c = *client // shallow copy: our CheckRedirect must not leak into the caller's client
	}
	inner := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if prod && req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s: production requires https", req.URL.Redacted())
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metadata: fetch %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metadata: fetch %s: HTTP %s", u.Redacted(), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("metadata: fetch %s: %w", u.Redacted(), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("metadata: fetch %s: body larger than %d bytes", u.Redacted(), limit)
	}
	return data, nil
}
