package v1alpha1

import "testing"

func TestFunctionName(t *testing.T) {
	cases := map[string]struct {
		fn   Function
		want string
	}{
		"explicit name wins": {Function{Image: "ghcr.io/forkline/bump-version:v0.1.0", Name: "bump"}, "bump"},
		"image with tag":     {Function{Image: "ghcr.io/forkline/bump-version:v0.1.0"}, "bump-version"},
		"image with digest":  {Function{Image: "ghcr.io/x/set-labels@sha256:abc"}, "set-labels"},
		"registry with port": {Function{Image: "localhost:5000/fn/apply-setters:v1"}, "apply-setters"},
		"bare name":          {Function{Image: "set-namespace"}, "set-namespace"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.fn.FunctionName(); got != tc.want {
				t.Errorf("FunctionName() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEffectiveDefaults(t *testing.T) {
	var empty PackageVariantSpec
	empty.Upstream.Package = "app"
	if got := empty.DownstreamPackage(); got != "app" {
		t.Errorf("DownstreamPackage() = %q, want the upstream package %q", got, "app")
	}
	if got := empty.Upstream.EffectiveOrder(); got != OldestFirst {
		t.Errorf("EffectiveOrder() = %q, want %q", got, OldestFirst)
	}
	if got := empty.EffectiveMergeStrategy(); got != ResourceMerge {
		t.Errorf("EffectiveMergeStrategy() = %q, want %q", got, ResourceMerge)
	}
	if got := empty.EffectiveConflictPolicy(); got != ReportConflicts {
		t.Errorf("EffectiveConflictPolicy() = %q, want %q", got, ReportConflicts)
	}
	if got := empty.EffectiveApprovalMode(); got != ManualApproval {
		t.Errorf("EffectiveApprovalMode() = %q, want %q", got, ManualApproval)
	}
	if got := empty.EffectiveDeletionPolicy(); got != DeletionDelete {
		t.Errorf("EffectiveDeletionPolicy() = %q, want %q", got, DeletionDelete)
	}
	if got := empty.EffectiveAdoptionPolicy(); got != AdoptNone {
		t.Errorf("EffectiveAdoptionPolicy() = %q, want %q", got, AdoptNone)
	}
	set := PackageVariantSpec{Downstream: Downstream{Package: "fork"}}
	set.Merge = &Merge{Strategy: CopyMerge}
	if got := set.DownstreamPackage(); got != "fork" {
		t.Errorf("DownstreamPackage() = %q, want %q", got, "fork")
	}
	if got := set.EffectiveMergeStrategy(); got != CopyMerge {
		t.Errorf("EffectiveMergeStrategy() = %q, want %q", got, CopyMerge)
	}
	if got := (RepositorySelectorTarget{}).EffectiveVersionsAnnotation(); got != DefaultVersionsAnnotation {
		t.Errorf("EffectiveVersionsAnnotation() = %q, want %q", got, DefaultVersionsAnnotation)
	}
}
