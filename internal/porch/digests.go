package porch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// A forkline.dev/changed-by-person record that names commits, not files:
// forkline had no fingerprints of the draft to compare with.
const movedRecord = "the draft moved"

// MovedRecord is that record, from the commit forkline wrote to the one a
// person pushed.
func MovedRecord(from, to string) string {
	return fmt.Sprintf("%s from commit %s, which forkline wrote, to %s", movedRecord, from, to)
}

// RecordedFiles are the files a forkline.dev/changed-by-person record
// names; none for a record of commits.
func RecordedFiles(record string) []string {
	if record == "" || strings.HasPrefix(record, movedRecord) {
		return nil
	}
	return strings.Split(record, ", ")
}

// PersonFiles names what a person changed in a draft forkline wrote: the
// files that differ from its fingerprints (written), with those already
// recorded (record), sorted; known is false without fingerprints.
func PersonFiles(written, record string, resources map[string]string) (files []string, known bool) {
	files, known = ChangedFiles(written, resources)
	files = append(files, RecordedFiles(record)...)
	slices.Sort(files)
	return slices.Compact(files), known
}
