package install

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The installation a release ships: what a platform team applies next to
// Porch, in an order kubectl can apply, with the manager's image pinned.
func TestRenderShipsTheInstallation(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pinned := "ghcr.io/forkline/manager:v9.9.9@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	objects, err := Render(root, map[string]string{"ghcr.io/forkline/manager": pinned})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objects {
		got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
	}
	for _, want := range []string{
		"Namespace//forkline-system",
		"CustomResourceDefinition//packagevariants.forkline.dev",
		"CustomResourceDefinition//upstreampolicies.forkline.dev",
		"ServiceAccount/forkline-system/forkline-manager",
		"ClusterRole//forkline-manager",
		"ClusterRoleBinding//forkline-manager",
		"Role/forkline-system/forkline-manager", // leader election, namespaced
		"RoleBinding/forkline-system/forkline-manager",
		"Service/forkline-system/forkline-manager-metrics",
		"Deployment/forkline-system/forkline-manager",
		"ValidatingAdmissionPolicy//forkline-same-namespace",
		"ValidatingAdmissionPolicyBinding//forkline-same-namespace",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("the installation lacks %s; it has %v", want, got)
		}
	}
	if i, j := slices.Index(got, "Namespace//forkline-system"), slices.Index(got, "Deployment/forkline-system/forkline-manager"); i > j {
		t.Errorf("the Namespace comes after the Deployment: %v", got)
	}
	manifest, err := YAML(objects)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(manifest, "image: "+pinned) {
		t.Errorf("the manager's image is not pinned to %s", pinned)
	}
	if strings.Contains(manifest, "image: ghcr.io/forkline/manager:v0.1.0\n") {
		t.Error("the manager's image is still the unpinned tag")
	}
}
