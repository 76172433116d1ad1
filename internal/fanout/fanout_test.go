package fanout

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

func policy(targets ...v1.Target) *v1.UpstreamPolicy {
	p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}}
	p.Spec.Upstream = v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "upstream", Package: "app"}}
	p.Spec.Targets = targets
	p.Spec.Template = &v1.PackageVariantTemplate{DeletionPolicy: v1.DeletionOrphan, Approval: &v1.Approval{Mode: v1.ManualApproval}}
	return p
}

func explicit(entries ...v1.RepositoryTarget) v1.Target { return v1.Target{Repositories: entries} }

func repoTarget(repo, versions string) v1.RepositoryTarget {
	return v1.RepositoryTarget{Repo: repo, ReleaseTrack: v1.ReleaseTrack{Versions: versions}}
}

func TestExpand(t *testing.T) {
	existing := map[string]bool{"release-4-8": true, "release-4-9": true, "main": true, "edge": true}
	selector := v1.Target{RepositorySelector: &v1.RepositorySelectorTarget{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"fork": "app"}}}}
	cases := map[string]struct {
		policy       *v1.UpstreamPolicy
		inputs       Inputs
		wantNames    []string
		wantTracks   []string
		wantProblems []string
	}{
		"explicit repositories": {
			policy:     policy(explicit(repoTarget("release-4-8", "1.21.x"), repoTarget("release-4-9", "1.22.x"))),
			inputs:     Inputs{Repositories: existing},
			wantNames:  []string{"app-release-4-8-app", "app-release-4-9-app"},
			wantTracks: []string{"1.21.x", "1.22.x"},
		},
		"selector reads the track from an annotation, and reports a repository without one": {
			policy: policy(selector),
			inputs: Inputs{Repositories: existing, Selected: map[int][]Repository{0: {
				{Name: "main", Annotations: map[string]string{v1.DefaultVersionsAnnotation: ">=1.21"}},
				{Name: "edge"},
			}}},
			wantNames:    []string{"app-main-app"},
			wantTracks:   []string{">=1.21"},
			wantProblems: []string{`Repository "edge" is selected but has no forkline.dev/versions annotation`},
		},
		"object selector reads fields": {
			policy: policy(v1.Target{ObjectSelector: &v1.ObjectSelectorTarget{APIVersion: "x/v1", Kind: "Branch", RepoField: "spec.repo", VersionsField: "spec.track", PackageField: "spec.package"}}),
			inputs: Inputs{Repositories: existing, Objects: map[int][]unstructured.Unstructured{0: {
				{Object: map[string]any{"kind": "Branch", "metadata": map[string]any{"name": "b1"}, "spec": map[string]any{"repo": "edge", "track": "~1.23", "package": "app-edge"}}},
				{Object: map[string]any{"kind": "Branch", "metadata": map[string]any{"name": "b2"}, "spec": map[string]any{"repo": "edge"}}},
			}}},
			wantNames:    []string{"app-edge-app-edge"},
			wantTracks:   []string{"~1.23"},
			wantProblems: []string{`Branch "b2" lacks spec.repo or spec.track`},
		},
		"selector with one revision: every selected repository follows it, annotated or not": {
			policy: policy(v1.Target{RepositorySelector: &v1.RepositorySelectorTarget{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"fork": "app"}}, Revision: "v3"}}),
			inputs: Inputs{Repositories: existing, Selected: map[int][]Repository{0: {
				{Name: "main", Annotations: map[string]string{v1.DefaultVersionsAnnotation: ">=1.21"}},
				{Name: "edge"},
			}}},
			wantNames:  []string{"app-main-app", "app-edge-app"},
			wantTracks: []string{"revision v3", "revision v3"},
		},
		"object selector with one revision reads only the repository field": {
			policy: policy(v1.Target{ObjectSelector: &v1.ObjectSelectorTarget{APIVersion: "x/v1", Kind: "Branch", RepoField: "spec.repo", Revision: "v1.21.3"}}),
			inputs: Inputs{Repositories: existing, Objects: map[int][]unstructured.Unstructured{0: {
				{Object: map[string]any{"kind": "Branch", "metadata": map[string]any{"name": "b1"}, "spec": map[string]any{"repo": "edge", "track": "~1.23"}}},
				{Object: map[string]any{"kind": "Branch", "metadata": map[string]any{"name": "b2"}, "spec": map[string]any{}}},
			}}},
			wantNames:    []string{"app-edge-app"},
			wantTracks:   []string{"revision v1.21.3"},
			wantProblems: []string{`Branch "b2" lacks spec.repo`},
		},
		"overlap, bad constraint and missing repository spare the rest": {
			policy: policy(
				explicit(repoTarget("release-4-8", "1.21.x"), repoTarget("release-4-9", "1.x ||| banana"), repoTarget("gone", "1.x")),
				explicit(repoTarget("release-4-8", "1.22.x")),
			),
			inputs:     Inputs{Repositories: existing},
			wantNames:  []string{"app-release-4-8-app"},
			wantTracks: []string{"1.21.x"},
			wantProblems: []string{
				`upstream.versions "1.x ||| banana" is not a semver constraint`,
				`Porch Repository "gone" does not exist in namespace "ns"`,
				`overlaps target 0: both name repository "release-4-8", package "app"`,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			variants, problems := Expand(tc.policy, tc.inputs)
			var names, tracks, msgs []string
			for _, v := range variants {
				names = append(names, v.Name)
				track := v.Spec.Upstream.Versions
				if r := v.Spec.Upstream.Revision; r != "" {
					track += "revision " + r
				}
				tracks = append(tracks, track)
				if v.Spec.EffectiveDeletionPolicy() != v1.DeletionOrphan {
					t.Errorf("%s: template not applied", v.Name)
				}
			}
			if diff := cmp.Diff(tc.wantNames, names); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantTracks, tracks); diff != "" {
				t.Errorf("tracks (-want +got):\n%s", diff)
			}
			for _, p := range problems {
				msgs = append(msgs, p.Message)
			}
			if len(msgs) != len(tc.wantProblems) {
				t.Fatalf("problems = %q, want %q", msgs, tc.wantProblems)
			}
			for i, want := range tc.wantProblems {
				if !strings.Contains(msgs[i], want) {
					t.Errorf("problem %d = %q, want %q", i, msgs[i], want)
				}
			}
		})
	}
}

func TestName(t *testing.T) {
	if got := Name("app", "release-4.8", "App"); got != "app-release-4-8-app" {
		t.Errorf("Name() = %q", got)
	}
	long := Name("a-very-long-policy-name-for-the-platform", "a-very-long-repository-name", "a-package")
	if len(long) > 63 || !strings.HasPrefix(long, "a-very-long-policy-name") {
		t.Errorf("long name %q (%d chars)", long, len(long))
	}
	if long == Name("a-very-long-policy-name-for-the-platform", "a-very-long-repository-name", "b-package") {
		t.Error("two long names collide")
	}
	if long != Name("a-very-long-policy-name-for-the-platform", "a-very-long-repository-name", "a-package") {
		t.Error("names are not stable")
	}
}

func TestMergeTemplates(t *testing.T) {
	base := &v1.PackageVariantTemplate{DeletionPolicy: v1.DeletionOrphan, Labels: map[string]string{"a": "1"}}
	over := &v1.PackageVariantTemplate{Labels: map[string]string{"b": "2"}, Approval: &v1.Approval{Mode: v1.AutomaticApproval}}
	got := Merge(base, over)
	want := v1.PackageVariantTemplate{DeletionPolicy: v1.DeletionOrphan, Labels: map[string]string{"b": "2"}, Approval: &v1.Approval{Mode: v1.AutomaticApproval}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if base.Labels["b"] != "" {
		t.Error("Merge changed its input")
	}
}

func TestRetain(t *testing.T) {
	variant := func(name, repo, source string) v1.PackageVariant {
		pv := v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Name: name}}
		pv.Spec.Downstream.Repo = repo
		if source != "" {
			pv.Annotations = map[string]string{SourceAnnotation: source}
		}
		return pv
	}
	existing := map[string]bool{"release-4-8": true, "edge": true}
	suspended := policy()
	suspended.Spec.Suspend = true
	cases := map[string]struct {
		policy   *v1.UpstreamPolicy
		problems []Problem
		orphans  []v1.PackageVariant
		want     map[string]string // variant -> a word of the reason
	}{
		"target removed: deleted": {
			policy:  policy(),
			orphans: []v1.PackageVariant{variant("app-release-4-8-app", "release-4-8", "")},
			want:    map[string]string{},
		},
		"typo in the track: kept": {
			policy:   policy(),
			problems: []Problem{{Target: 0, Repo: "release-4-8", Variant: "app-release-4-8-app", Message: `improper constraint: "1.21.x.y"`}},
			orphans:  []v1.PackageVariant{variant("app-release-4-8-app", "release-4-8", "")},
			want:     map[string]string{"app-release-4-8-app": "improper constraint"},
		},
		"Repository deleted or being re-created: kept": {
			policy:  policy(),
			orphans: []v1.PackageVariant{variant("app-gone-app", "gone", "")},
			want:    map[string]string{"app-gone-app": "missing"},
		},
		"object lost a field: kept by its source": {
			policy:   policy(),
			problems: []Problem{{Target: 1, Source: "Branch/b2", Message: `Branch "b2" lacks spec.repo or spec.track`}},
			orphans:  []v1.PackageVariant{variant("app-edge-app", "edge", "Branch/b2"), variant("app-edge-other", "edge", "Branch/b3")},
			want:     map[string]string{"app-edge-app": "lacks"},
		},
		"suspended policy: nothing deleted": {
			policy:  suspended,
			orphans: []v1.PackageVariant{variant("app-release-4-8-app", "release-4-8", "")},
			want:    map[string]string{"app-release-4-8-app": "suspended"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Retain(tc.policy, Inputs{Repositories: existing}, tc.problems, tc.orphans)
			if len(got) != len(tc.want) {
				t.Fatalf("kept %v, want %v", got, tc.want)
			}
			for name, word := range tc.want {
				if !strings.Contains(got[name], word) {
					t.Errorf("%s kept for %q, want a reason saying %q", name, got[name], word)
				}
			}
		})
	}
}

func TestExpandNamesTheVariantOfAProblem(t *testing.T) {
	p := policy(explicit(repoTarget("release-4-8", "1.21.x.y")))
	_, problems := Expand(p, Inputs{Repositories: map[string]bool{"release-4-8": true}})
	if len(problems) != 1 || problems[0].Variant != "app-release-4-8-app" {
		t.Fatalf("problems %+v: want one naming variant app-release-4-8-app", problems)
	}
}
