package porch

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
)

// maxDigestedFiles caps the files FileDigests fingerprints: 12 hex digits
// and a path per file stay well inside an annotation's room for a
// package of this many files.
const maxDigestedFiles = 2000

// FileDigests fingerprints each file of a package, sorted by name, as
// "name=digest,..."; empty for a package of more than maxDigestedFiles.
func FileDigests(resources map[string]string) string {
	if len(resources) > maxDigestedFiles {
		return ""
	}
	var b strings.Builder
	for i, name := range slices.Sorted(maps.Keys(resources)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(digest(resources[name]))
	}
	return b.String()
}

func digest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:6])
}

// ChangedFiles names the files of resources that differ from the
// fingerprints FileDigests made (changed, added or removed), sorted; ok is
// false when there are no fingerprints to compare with.
func ChangedFiles(digests string, resources map[string]string) (changed []string, ok bool) {
	if digests == "" {
		return nil, false
	}
	was := map[string]string{}
	for _, entry := range strings.Split(digests, ",") {
		name, d, _ := strings.Cut(entry, "=")
		was[name] = d
	}
	for name, content := range resources {
		if d, seen := was[name]; !seen || d != digest(content) {
			changed = append(changed, name)
		}
	}
	for name := range was {
		if _, still := resources[name]; !still {
			changed = append(changed, name+" (removed)")
		}
	}
	slices.Sort(changed)
	return changed, true
}
