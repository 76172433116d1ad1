package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack/demo"
	"github.com/forkline/forkline/internal/manager"
)

// TestDemoFlow runs what `make demo` shows, so the README's first command
// cannot rot unnoticed; then it runs the one-liner the demo prints for
// tagging the next upstream release by hand, and sees release-4-9 take it.
func TestDemoFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := func(ctx context.Context) error {
		mgr := newManager(t, managerConfig, manager.Options{})
		go func() { _ = mgr.Start(ctx) }()
		return nil
	}
	if err := demo.Run(ctx, env, start, t.Logf); err != nil {
		t.Fatal(err)
	}

	instructions := demo.TagYourself(env)
	t.Logf("the demo then prints:\n%s", instructions)
	var oneLiner string
	for _, line := range strings.Split(instructions, "\n") {
		if strings.Contains(line, "git push") {
			oneLiner = strings.TrimSpace(line)
		}
	}
	if out, err := exec.CommandContext(ctx, "bash", "-c", oneLiner).CombinedOutput(); err != nil {
		t.Fatalf("the printed one-liner failed: %v\n%s", err, out)
	}
	v := &variantTest{t: t, ctx: ctx, ns: demo.Namespace, key: client.ObjectKey{Namespace: demo.Namespace, Name: "app-release-4-9-app"}}
	v.waitVariant("v1.22.2 published by itself", 2*time.Minute, func(pv *v1.PackageVariant) bool {
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == "v1.22.2"
	})
}
