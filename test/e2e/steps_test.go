package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
)

// authorsStepImage is the image name a step author gave their function;
// nothing of forkline's serves it.
const authorsStepImage = "registry.example.com/platform/set-owner:v1"

// buildAuthorsStep builds the step template (functions/step-template) the
// way docs/steps.md has an author build their own step, into a directory
// of their own outside the repository, with the functions.yaml that
// `make stack-up FUNCTIONS=dir` reads.
func buildAuthorsStep() (string, error) {
	dir, err := os.MkdirTemp("", "forkline-author-steps-")
	if err != nil {
		return "", err
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "set-owner"), "github.com/forkline/forkline/functions/step-template")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	config := fmt.Sprintf("functions:\n- function: set-owner\n  images: [%s]\n", authorsStepImage)
	return dir, os.WriteFile(filepath.Join(dir, devstack.FunctionsConfig), []byte(config), 0o644)
}

// TestAuthorsStepRendersInADraft puts a step author's own function in a
// variant's pipeline: Porch renders it through the function runner in
// forkline's draft, and the proposal carries its change.
func TestAuthorsStepRendersInADraft(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns = "steps-e2e"
	if err := smoke.PushUpstreamReleases(env, "steps-upstream", "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "steps-upstream", "app", "v1.0.0", "steps-down")
	stop := startManager(t)
	defer stop()

	pv := newVariant(ns, "app", "steps-upstream", "steps-down", "1.0.x", v1.DeletionOrphan)
	pv.Spec.Pipeline = &v1.Pipeline{Mutators: []v1.Function{{Image: authorsStepImage, ConfigMap: map[string]string{"team": "payments"}}}}
	v := createVariant(ctx, t, ns, pv)
	got := v.waitVariant("v1.0.0 proposed", 2*time.Minute, phaseIs(v1.PhaseProposed, "v1.0.0"))
	files := v.draftResources(got.Status.Sync.Draft)
	mustContain(t, "the proposed deployment.yaml", files["deployment.yaml"], "owner: payments")
	mustContain(t, "the proposed Kptfile", files["Kptfile"], "image: "+authorsStepImage)
	if strings.Contains(files["Kptfile"], "owner: payments") {
		t.Error("the step labelled the Kptfile, which is local config")
	}
	t.Logf("render: %s; deployment.yaml:\n%s", got.Status.Sync.RenderStatus, files["deployment.yaml"])
}
