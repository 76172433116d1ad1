// Package upstream reads an upstream package's git history itself, so
// what forkline merges is what the locked commit holds and not what a
// tag points at today: a package directory at a commit, a tag's target,
// annotation and signature, and the commit subjects between two commits.
//
// One bare clone per repository is kept on disk and shared by every
// variant that follows it: a release fanning out to many branches fetches
// once. A fetch happens only when the clone lacks what a caller asks for,
// and at most once per MinFetchInterval per repository.
package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Remote is an upstream git repository and how to authenticate to it.
type Remote struct {
	URL string
	// Username and Password are HTTP basic credentials (a token as the
	// password); empty for a public repository.
	Username, Password string
}

// Cache holds the on-disk clones.
type Cache struct {
	dir string
	// MinFetchInterval bounds how often one repository is fetched when
	// callers keep asking for what it does not have.
	MinFetchInterval time.Duration
	// objects is the one in-memory cache of decoded git objects, shared by
	// every clone (objects are named by their content, so sharing is
	// safe): memory stays bounded however many repositories are followed.
	objects *cache.ObjectLRU

	mu    sync.Mutex
	repos map[string]*clone

	fetches atomic.Int64
}

// NewCache keeps clones under dir.
func NewCache(dir string) *Cache {
	identify.Do(installTransport)
	return &Cache{dir: dir, MinFetchInterval: 5 * time.Second, objects: cache.NewObjectLRU(32 * cache.MiByte), repos: map[string]*clone{}}
}

// Fetches is how many fetches the cache made, for tests and metrics.
func (c *Cache) Fetches() int64 { return c.fetches.Load() }

// clone is one repository's bare clone; its mutex serializes reads and
// fetches (go-git's storage is not safe for a fetch beside reads).
type clone struct {
	mu      sync.Mutex
	repo    *git.Repository
	fetched time.Time
}

// ErrNotFound is returned when neither the clone nor a fetch has what was
// asked for.
var ErrNotFound = errors.New("not found in the upstream repository")

// with runs read on remote's clone, and fetches when read answers
// ErrNotFound (a commit or tag the clone does not have yet: an empty clone
// has none) at most once per MinFetchInterval, then reads again. A clone
// on disk from an earlier process is read without a fetch: a restart does
// not fetch every upstream again.
func (c *Cache) with(ctx context.Context, remote Remote, read func(*git.Repository) error) error {
	cl, err := c.clone(remote)
	if err != nil {
		return err
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	err = read(cl.repo)
	if !errors.Is(err, ErrNotFound) || (!cl.fetched.IsZero() && time.Since(cl.fetched) < c.MinFetchInterval) {
		return err
	}
	if err := c.fetch(ctx, cl, remote); err != nil {
		return err
	}
	return read(cl.repo)
}

func (c *Cache) clone(remote Remote) (*clone, error) {
	// A clone is keyed by its credentials too: what one namespace's
	// credentials fetched is never read by a variant without them.
	sum := sha256.Sum256([]byte(remote.URL + "\x00" + remote.Username + "\x00" + remote.Password))
	key := hex.EncodeToString(sum[:12])
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.repos[key]; ok {
		return cl, nil
	}
	dir := filepath.Join(c.dir, key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	storage := filesystem.NewStorage(osfs.New(dir), c.objects)
	repo, err := git.Open(storage, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.Init(storage, nil)
		if err == nil {
			_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{remote.URL}})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the clone of %s: %w", remote.URL, err)
	}
	cl := &clone{repo: repo}
	c.repos[key] = cl
	return cl, nil
}

// fetch brings every branch and tag, moved tags moved and deleted ones
// deleted, so the clone says what the upstream says now. Objects are kept:
// a locked commit whose tag was deleted is still read.
func (c *Cache) fetch(ctx context.Context, cl *clone, remote Remote) error {
	var auth *githttp.BasicAuth
	if remote.Username != "" || remote.Password != "" {
		auth = &githttp.BasicAuth{Username: remote.Username, Password: remote.Password}
	}
	c.fetches.Add(1)
	opts := &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
		Tags:       git.NoTags,
		Force:      true,
		Prune:      true,
	}
	if auth != nil {
		opts.Auth = auth
	}
	err := cl.repo.FetchContext(ctx, opts)
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return &FetchError{URL: remote.URL, Err: err}
	}
	cl.fetched = time.Now()
	return nil
}

// UserAgent is how forkline's fetches name themselves to a git server.
const UserAgent = "forkline"

var identify sync.Once

// installTransport makes go-git's HTTP transports send forkline's name
// before go-git's own in User-Agent, so a git server's log tells
// forkline's fetches from Porch's.
func installTransport() {
	for _, scheme := range []string{"http", "https"} {
		client.InstallProtocol(scheme, githttp.NewClient(&http.Client{Transport: userAgent{http.DefaultTransport}}))
	}
}

type userAgent struct{ next http.RoundTripper }

func (u userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", UserAgent+" "+req.Header.Get("User-Agent"))
	return u.next.RoundTrip(req)
}

// FetchError is a failed fetch: the upstream unreachable, or credentials
// refused.
type FetchError struct {
	URL string
	Err error
}

func (e *FetchError) Error() string { return fmt.Sprintf("fetching %s: %v", e.URL, e.Err) }
func (e *FetchError) Unwrap() error { return e.Err }
