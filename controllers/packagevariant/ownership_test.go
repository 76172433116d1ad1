package packagevariant

import (
	"testing"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
)

func TestFreeWorkspace(t *testing.T) {
	revs := func(names ...string) []porchv1alpha1.PackageRevision {
		var out []porchv1alpha1.PackageRevision
		for _, n := range names {
			out = append(out, porchv1alpha1.PackageRevision{Spec: porchv1alpha1.PackageRevisionSpec{WorkspaceName: n}})
		}
		return out
	}
	cases := map[string]struct {
		used []string
		want string
	}{
		"first sync of a release":                              {want: "forkline-v1-21-3"},
		"released before (published or proposed for deletion)": {used: []string{"forkline-v1-21-3"}, want: "forkline-v1-21-3-2"},
		"taken twice":                  {used: []string{"forkline-v1-21-3", "forkline-v1-21-3-2"}, want: "forkline-v1-21-3-3"},
		"a gap is reused first":        {used: []string{"forkline-v1-21-3", "forkline-v1-21-3-3"}, want: "forkline-v1-21-3-2"},
		"other releases do not matter": {used: []string{"forkline-v1-21-2", "by-hand"}, want: "forkline-v1-21-3"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := freeWorkspace("forkline-v1-21-3", revs(tc.used...)); got != tc.want {
				t.Errorf("freeWorkspace = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWorkspaceOf(t *testing.T) {
	for ws, want := range map[string]bool{
		"forkline-v1-21-3":    true,
		"forkline-v1-21-3-2":  true,
		"forkline-v1-21-3-12": true,
		"forkline-v1-21-30":   false,
		"forkline-v1-21-3-x":  false,
		"forkline-v1-21":      false,
		"by-hand":             false,
	} {
		if got := workspaceOf(ws, "forkline-v1-21-3"); got != want {
			t.Errorf("workspaceOf(%q) = %v, want %v", ws, got, want)
		}
	}
}

func TestRecognized(t *testing.T) {
	pv := &v1.PackageVariant{}
	pv.UID = "u1"
	pv.Status.Sync = &v1.SyncStatus{Draft: "down-draft"}
	pv.Status.History = []v1.SyncRecord{{To: "v1.21.2", Phase: v1.PhasePublished, Revision: "v1"}}
	pr := func(name, revision string, lc porchv1alpha1.PackageRevisionLifecycle, owner string) *porchv1alpha1.PackageRevision {
		p := &porchv1alpha1.PackageRevision{Spec: porchv1alpha1.PackageRevisionSpec{Lifecycle: lc}}
		porch.SetRevision(p, revision)
		p.Name = name
		if owner != "" {
			p.Annotations = map[string]string{v1.AnnotationOwnerUID: owner}
		}
		return p
	}
	cases := map[string]struct {
		pr   *porchv1alpha1.PackageRevision
		want bool
	}{
		"the current draft, annotations lost": {pr(
			"down-draft", "", porchv1alpha1.PackageRevisionLifecycleProposed, ""), true},
		"a published revision in the history":    {pr("down-v1", "v1", porchv1alpha1.PackageRevisionLifecyclePublished, ""), true},
		"a published revision it never recorded": {pr("down-v2", "v2", porchv1alpha1.PackageRevisionLifecyclePublished, ""), false},
		"another variant's revision":             {pr("down-v1", "v1", porchv1alpha1.PackageRevisionLifecyclePublished, "u2"), false},
		"a person's draft":                       {pr("mine", "", porchv1alpha1.PackageRevisionLifecycleDraft, ""), false},
		"a draft whose creation was cut off":     {inWorkspace(pr("cut", "", porchv1alpha1.PackageRevisionLifecycleDraft, ""), "forkline-v1-21-3"), true},
		"a proposal in a forkline workspace":     {inWorkspace(pr("prop", "", porchv1alpha1.PackageRevisionLifecycleProposed, ""), "forkline-v1-21-3"), false},
		"a draft Porch kept only the sync key of": {withAnnotations(inWorkspace(pr("kept", "", porchv1alpha1.PackageRevisionLifecycleDraft, ""), "forkline-v1-21-3-2"),
			v1.AnnotationSync, "v1.21.3"), true},
		"a person's draft in a forkline workspace": {withAnnotations(inWorkspace(pr("theirs", "", porchv1alpha1.PackageRevisionLifecycleDraft, ""), "forkline-v1-21-3"),
			v1.AnnotationSync, "v1.21.3", "team", "edge"), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := recognized(tc.pr, pv); got != tc.want {
				t.Errorf("recognized = %v, want %v", got, tc.want)
			}
		})
	}
}

func withAnnotations(pr *porchv1alpha1.PackageRevision, kv ...string) *porchv1alpha1.PackageRevision {
	pr.Annotations = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		pr.Annotations[kv[i]] = kv[i+1]
	}
	return pr
}

func inWorkspace(pr *porchv1alpha1.PackageRevision, ws string) *porchv1alpha1.PackageRevision {
	pr.Spec.WorkspaceName = ws
	return pr
}
