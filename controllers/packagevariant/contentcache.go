package packagevariant

import (
	"sync"

	"golang.org/x/sync/singleflight"
	"k8s.io/utils/lru"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/merge"
)

// contentCache holds immutable upstream content (a release's files, the
// files at a locked commit, release notes), shared by every variant that
// follows the release, least recently used first out once the whole
// weighs more than max bytes: a cache of 64 entries of 20 MB packages
// would be 1.3 GB.
type contentCache struct {
	mu    sync.Mutex
	lru   *lru.Cache
	bytes int
	max   int
	// loads has one read in flight per key: the branches that follow a
	// release all miss it at once, and each would read its own copy.
	loads singleflight.Group
}

func newContentCache(maxBytes int) *contentCache {
	c := &contentCache{max: maxBytes}
	// The entry count is no bound: bytes are.
	c.lru = lru.NewWithEvictionFunc(1<<16, func(_ lru.Key, value any) { c.bytes -= weight(value) })
	return c
}

// Get is the cached value of key.
func (c *contentCache) Get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(key)
}

// Load is the cached value of key, or else what load returns, cached
// unless keep says no; callers that miss together share one load.
func (c *contentCache) Load(key string, load func() (any, bool, error)) (any, error) {
	if v, ok := c.Get(key); ok {
		return v, nil
	}
	v, err, _ := c.loads.Do(key, func() (any, error) {
		if v, ok := c.Get(key); ok {
			return v, nil
		}
		v, keep, err := load()
		if err == nil && keep {
			c.Add(key, v)
		}
		return v, err
	})
	return v, err
}

// Add caches value, evicting the least recently used until the cache fits;
// a value larger than the whole cache is not kept.
func (c *contentCache) Add(key string, value any) {
	w := weight(value)
	c.mu.Lock()
	defer c.mu.Unlock()
	if w > c.max {
		return
	}
	c.lru.Remove(key)
	c.lru.Add(key, value)
	c.bytes += w
	for c.bytes > c.max && c.lru.Len() > 1 {
		c.lru.RemoveOldest()
	}
}

// Bytes is what the cache holds.
func (c *contentCache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func weight(value any) int {
	switch v := value.(type) {
	case merge.Tree:
		n := 0
		for k, s := range v {
			n += len(k) + len(s) + 48 // the map entry and two string headers
		}
		return n
	case *v1.ReleaseNotes:
		n := len(v.Tag) + len(v.Annotation) + 64
		for _, s := range v.Commits {
			n += len(s) + 16
		}
		return n
	}
	return 64
}
