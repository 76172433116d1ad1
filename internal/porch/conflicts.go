package porch

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/forkline/forkline/internal/merge"
)

// ConflictsFile is the local-config resource a conflicted draft carries.
const ConflictsFile = "forkline-conflicts.yaml"

// ConflictsDoc is that resource: what to resolve, for a person editing the
// draft with porchctl rpkg pull/push. Setting resolved: true on every entry
// (or deleting the file) tells forkline to carry on.
type ConflictsDoc struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Metadata   map[string]any   `json:"metadata"`
	Spec       ConflictsDocSpec `json:"spec"`
}

// ConflictsDocSpec lists the conflicts of one sync.
type ConflictsDocSpec struct {
	From      string          `json:"from,omitempty"`
	To        string          `json:"to"`
	Help      string          `json:"help"`
	Conflicts []ConflictEntry `json:"conflicts"`
}

// ConflictEntry is one conflict and whether a person resolved it.
type ConflictEntry struct {
	merge.Conflict `json:",inline"`
	Resolved       bool `json:"resolved"`
}

// RenderConflicts writes the conflicts resource.
func RenderConflicts(from, to string, conflicts []merge.Conflict) (string, error) {
	doc := ConflictsDoc{
		APIVersion: "forkline.dev/v1alpha1",
		Kind:       "MergeConflicts",
		Metadata: map[string]any{
			"name":        "forkline-conflicts",
			"annotations": map[string]string{"config.kubernetes.io/local-config": "true"},
		},
		Spec: ConflictsDocSpec{
			From: from, To: to,
			Help: "Upstream and downstream changed these differently; the draft keeps the downstream value. Fix each, set resolved: true (or delete this file), and push the draft.",
		},
	}
	for _, c := range conflicts {
		doc.Spec.Conflicts = append(doc.Spec.Conflicts, ConflictEntry{Conflict: c})
	}
	b, err := yaml.Marshal(doc)
	return string(b), err
}

// Unresolved counts the entries of a conflicts resource not yet resolved.
// The resource is read strictly: a key a person misspelled (conflict: for
// conflicts:, resolve: for resolved:) is an error to fix, never an entry
// that is not there, nor one resolved.
func Unresolved(content string) (int, error) {
	var doc ConflictsDoc
	if err := yaml.UnmarshalStrict([]byte(content), &doc); err != nil {
		return 0, fmt.Errorf("reading %s: %w; fix the key, or delete the file once every conflict is resolved", ConflictsFile, err)
	}
	n := 0
	for _, c := range doc.Spec.Conflicts {
		if !c.Resolved {
			n++
		}
	}
	return n, nil
}
