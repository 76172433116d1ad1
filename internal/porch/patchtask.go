package porch

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"github.com/pmezard/go-difflib/difflib"
)

// PatchTask is the patch task that turns a published revision's files
// (from) into want, for a draft Porch creates by copying that revision
// and applying the patch in the same request. Porch records it as it
// records its own patches: a unified diff of each changed file, deleted
// and created whole where no diff proves itself. Creating a draft this
// way costs Porch what a clone costs; updating a draft's resources
// afterwards costs it, per write, time that grows with the square of the
// package's resources (its healConfig compares every old resource with
// every new one). ok is false when the task would not fit one request.
func PatchTask(from, want map[string]string) (task *porchv1alpha1.PackagePatchTaskSpec, ok bool) {
	task = &porchv1alpha1.PackagePatchTaskSpec{}
	bytes := 0
	add := func(p porchv1alpha1.PatchSpec) {
		task.Patches = append(task.Patches, p)
		bytes += jsonLen(p.File) + jsonLen(p.Contents) + 64
	}
	for _, name := range slices.Sorted(maps.Keys(from)) {
		if _, keep := want[name]; !keep {
			add(porchv1alpha1.PatchSpec{File: name, PatchType: porchv1alpha1.PatchTypeDeleteFile})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		old, had := from[name]
		content := want[name]
		switch {
		case !had:
			add(porchv1alpha1.PatchSpec{File: name, PatchType: porchv1alpha1.PatchTypeCreateFile, Contents: content})
		case old == content:
		default:
			if diff, ok := UnifiedDiff(name, old, content); ok {
				add(porchv1alpha1.PatchSpec{File: name, PatchType: porchv1alpha1.PatchTypePatchFile, Contents: diff})
				continue
			}
			add(porchv1alpha1.PatchSpec{File: name, PatchType: porchv1alpha1.PatchTypeDeleteFile})
			add(porchv1alpha1.PatchSpec{File: name, PatchType: porchv1alpha1.PatchTypeCreateFile, Contents: content})
		}
		if bytes > chunkBytes {
			return nil, false
		}
	}
	return task, bytes <= chunkBytes
}

// diffBytes bounds the files diffed: a bigger one is sent whole, which
// costs request bytes but no matching time.
const diffBytes = 512 << 10

// UnifiedDiff is a unified diff of one file that Porch's patch task
// applies to old to give exactly want: it is applied here the way Porch
// applies it (go-gitdiff, with Porch's checks) and used only if the result
// is want byte for byte, so no diff is sent that Porch would refuse or
// apply differently.
func UnifiedDiff(name, old, want string) (string, bool) {
	if len(old) > diffBytes || len(want) > diffBytes || !endsLine(old) || !endsLine(want) {
		return "", false
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(old), B: lines(want), FromFile: name, ToFile: name, Context: 3,
	})
	if err != nil || diff == "" {
		return "", false
	}
	if got, err := ApplyDiff(name, old, diff); err != nil || got != want {
		return "", false
	}
	return diff, true
}

// ApplyDiff applies a patch task's diff to a file as Porch v1.3 does
// (pkg/engine applyPatchMutation), with the checks it makes.
func ApplyDiff(name, old, diff string) (string, error) {
	files, preamble, err := gitdiff.Parse(strings.NewReader(diff))
	if err != nil {
		return "", err
	}
	if len(files) != 1 || preamble != "" {
		return "", fmt.Errorf("patch of %s: %d files, preamble %q", name, len(files), preamble)
	}
	f := files[0]
	if f.OldName != name || f.IsBinary || f.IsCopy || f.IsDelete || f.IsNew || f.IsRename || f.OldMode != f.NewMode {
		return "", fmt.Errorf("patch of %s: not a plain text patch of that file", name)
	}
	var out strings.Builder
	if err := gitdiff.Apply(&out, strings.NewReader(old), f); err != nil {
		return "", err
	}
	return out.String(), nil
}

func endsLine(s string) bool { return s != "" && s[len(s)-1] == '\n' }

// lines splits s, which ends in a newline, after each newline, as
// difflib's input wants them (its own SplitLines adds a line at the end
// that the file does not have).
func lines(s string) []string {
	parts := strings.SplitAfter(s, "\n")
	return parts[:len(parts)-1]
}
