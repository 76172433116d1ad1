// Package demo is forkline's main job end to end on the local stack, as
// `make demo` shows it: a fork follows an upstream's releases oldest first,
// each merge held in a Porch draft a person approves with porchctl.
package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
)

// Namespace holds the demo's repositories and variant.
const Namespace = "demo"

// Run plays the demo. startManager starts forkline's manager on the stack
// in the background, running until ctx ends (the caller wires it, as
// cmd/manager does).
func Run(ctx context.Context, s *devstack.Stack, startManager func(context.Context) error, logf func(string, ...any)) error {
	if err := devstack.EnsureNamespace(ctx, s.Client, Namespace); err != nil {
		return err
	}
	logf("1. upstream publishes app/v1.21.2 and app/v1.21.3 as git tags")
	if err := smoke.PushUpstreamReleases(s, "demo-upstream", "app", "1.21.2", "1.21.3"); err != nil {
		return err
	}
	logf("2. register Porch repositories: demo-upstream, and the fork's branch release-4-8")
	for _, repo := range []string{"demo-upstream", "release-4-8"} {
		if _, err := s.RegisterRepository(ctx, Namespace, repo, repo); err != nil {
			return err
		}
	}
	if _, err := s.WaitPackageRevision(ctx, Namespace, "demo-upstream", "app", time.Minute, devstack.Published("v1.21.3")); err != nil {
		return err
	}

	logf("3. start forkline's manager")
	if err := startManager(ctx); err != nil {
		return err
	}

	logf("4. kubectl apply a PackageVariant: follow app 1.21.x, oldest first, into release-4-8")
	pv := &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: "app-release-4-8"}}
	pv.Spec.Upstream = v1.Upstream{PackageRef: v1.PackageRef{Repo: "demo-upstream", Package: "app"}, ReleaseTrack: v1.ReleaseTrack{Versions: "1.21.x"}}
	pv.Spec.Downstream = v1.Downstream{Repo: "release-4-8"}
	if err := s.Client.Create(ctx, pv); err != nil {
		return err
	}

	for i, rev := range []string{"v1.21.2", "v1.21.3"} {
		got, err := waitProposed(ctx, s, rev)
		if err != nil {
			return err
		}
		logf("%d. forkline proposed draft %s for upstream %s (from %q); a person approves it:", 5+i, got.Status.Sync.Draft, rev, got.Status.Sync.From)
		out, err := s.Porchctl(ctx, "rpkg", "approve", got.Status.Sync.Draft, "--namespace", Namespace)
		if err != nil {
			return err
		}
		logf("   $ porchctl rpkg approve %s -n %s\n   %s", got.Status.Sync.Draft, Namespace, strings.TrimSpace(out))
		if err := waitCurrent(ctx, s, rev); err != nil {
			return err
		}
	}
	board, err := s.Kubectl(ctx, "get", "packagevariants", "-n", Namespace)
	if err != nil {
		return err
	}
	logf("7. the fork walked both releases, one approval each:\n%s", board)
	revs, err := s.Porchctl(ctx, "rpkg", "get", "--namespace", Namespace)
	if err != nil {
		return err
	}
	logf("   $ porchctl rpkg get -n %s\n%s", Namespace, revs)
	return nil
}

func waitProposed(ctx context.Context, s *devstack.Stack, rev string) (*v1.PackageVariant, error) {
	pv := &v1.PackageVariant{}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: "app-release-4-8"}, pv); err != nil {
			return false, nil
		}
		return pv.Status.Sync != nil && pv.Status.Sync.To == rev && pv.Status.Sync.Phase == v1.PhaseProposed, nil
	})
	if err != nil {
		return nil, fmt.Errorf("no proposal for %s: %w (sync %+v)", rev, err, pv.Status.Sync)
	}
	return pv, nil
}

func waitCurrent(ctx context.Context, s *devstack.Stack, rev string) error {
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pv := &v1.PackageVariant{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: "app-release-4-8"}, pv); err != nil {
			return false, nil
		}
		return pv.Status.Upstream != nil && pv.Status.Upstream.Current == rev, nil
	})
}
