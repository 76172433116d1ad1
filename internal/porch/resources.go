package porch

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// MaxRequestBytes is the API server's limit on a request body
// (k8s.io/apiserver's MaxRequestBodyBytes default, 3 MiB), which both
// kube-apiserver and porch-server apply to a PackageRevisionResources
// write. A larger write is refused ("Request entity too large").
const MaxRequestBytes = 3 << 20

// chunkBytes is how much one write's files weigh, as JSON: room is left
// for the rest of the request.
const chunkBytes = MaxRequestBytes - 64<<10

// Patch is one JSON merge patch (RFC 7386) of a draft's files.
type Patch struct {
	// Files are the files it writes, and nil for each it removes.
	Files map[string]any
	Bytes int // about what its files weigh
}

// JSON is the patch held to commit by its resourceVersion: Porch updates
// only while the draft is still at that commit, as a full update does.
func (p Patch) JSON(commit string) ([]byte, error) {
	return json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": commit},
		"spec":     map[string]any{"resources": p.Files},
	})
}

// ResourcesPatches are the merge patches that turn a draft's stored files
// into want: only the files that differ, and in as many writes as it takes
// for each to fit one request, so an upgrade of a package of any size is
// written. The Kptfile and the conflicts file go in the last write: until
// it lands the Kptfile still names the old upstream, so a sync stopped
// half way is merged again, not taken as done. A single file too large
// for one request is an error naming it.
func ResourcesPatches(stored, want map[string]string) ([]Patch, error) {
	var changed []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if old, ok := stored[name]; !ok || old != want[name] {
			changed = append(changed, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(stored)) {
		if _, ok := want[name]; !ok {
			changed = append(changed, name)
		}
	}
	last := func(name string) bool { return name == KptfileName || name == ConflictsFile }
	slices.SortStableFunc(changed, func(a, b string) int {
		switch {
		case last(a) == last(b):
			return 0
		case last(a):
			return 1
		}
		return -1
	})
	var patches []Patch
	cur := Patch{Files: map[string]any{}}
	for _, name := range changed {
		content, keep := want[name]
		n := jsonLen(name) + jsonLen(content) + 2
		if n > chunkBytes {
			return nil, fmt.Errorf("file %s is %.1f MiB, more than one request to the API server may carry (%d MiB)", name, float64(len(content))/(1<<20), MaxRequestBytes>>20)
		}
		if cur.Bytes+n > chunkBytes {
			patches = append(patches, cur)
			cur = Patch{Files: map[string]any{}}
		}
		if keep {
			cur.Files[name] = content
		} else {
			cur.Files[name] = nil
		}
		cur.Bytes += n
	}
	return append(patches, cur), nil
}

// FitsOneRequest says whether a full write of resources fits one request.
func FitsOneRequest(resources map[string]string) bool {
	n := 0
	for k, v := range resources {
		n += jsonLen(k) + jsonLen(v) + 2
	}
	return n <= chunkBytes
}

// jsonLen is the length of s as a JSON string: the quoting of newlines
// and quotes is what a YAML file's text grows by.
func jsonLen(s string) int {
	b, err := json.Marshal(s)
	if err != nil {
		return len(s) * 6
	}
	return len(b)
}
