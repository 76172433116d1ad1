package packagevariant

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkline/forkline/internal/merge"
)

func TestContentCacheIsBoundedInBytes(t *testing.T) {
	c := newContentCache(10 << 20)
	pkg := func() merge.Tree { return merge.Tree{"a.yaml": strings.Repeat("x", 3<<20)} }
	for _, k := range []string{"r1", "r2", "r3", "r4"} {
		c.Add(k, pkg())
	}
	if got := c.Bytes(); got > 10<<20 {
		t.Fatalf("cache holds %d bytes, over its 10 MiB", got)
	}
	if _, ok := c.Get("r1"); ok {
		t.Error("the least recently used release is still cached")
	}
	if _, ok := c.Get("r4"); !ok {
		t.Error("the newest release was evicted")
	}
	c.Add("huge", merge.Tree{"a.yaml": strings.Repeat("x", 11<<20)})
	if _, ok := c.Get("huge"); ok {
		t.Error("a release larger than the cache was kept")
	}
	c.Add("r4", pkg()) // again: counted once
	if got := c.Bytes(); got > 10<<20 {
		t.Fatalf("re-adding a key counted it twice: %d bytes", got)
	}
}

// TestContentCacheLoadsOnceForCallersThatMissTogether: the branches that
// follow a release miss it at once; one read serves them all, and a failed
// read is not cached.
func TestContentCacheLoadsOnceForCallersThatMissTogether(t *testing.T) {
	c := newContentCache(10 << 20)
	var loads atomic.Int32
	release := make(chan struct{})
	load := func() (any, bool, error) { //nolint:unparam // the shape Load takes
		loads.Add(1)
		<-release
		return merge.Tree{"a.yaml": "x"}, true, nil
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if v, err := c.Load("r1", load); err != nil || v.(merge.Tree)["a.yaml"] != "x" {
				t.Errorf("Load = %v, %v", v, err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // all three wait on the one load
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("%d loads for three callers", n)
	}
	if _, err := c.Load("r1", load); err != nil || loads.Load() != 1 {
		t.Errorf("a cached value was loaded again (%d loads, %v)", loads.Load(), err)
	}

	failed := errors.New("porch unavailable")
	if _, err := c.Load("r2", func() (any, bool, error) { return nil, false, failed }); !errors.Is(err, failed) {
		t.Errorf("Load's error = %v", err)
	}
	if _, ok := c.Get("r2"); ok {
		t.Error("a failed load was cached")
	}
}
