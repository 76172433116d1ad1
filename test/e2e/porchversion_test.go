package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
	"github.com/forkline/forkline/internal/devstack/smoke"
	"github.com/forkline/forkline/internal/manager"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
)

// TestUnsupportedPorchIsStated: a Porch, or a Repository, whose API
// forkline does not speak is a Failed variant with a condition naming it
// and an Event, never a status left empty.
func TestUnsupportedPorchIsStated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const ns = "porch-versions"
	if err := smoke.PushUpstreamReleases(env, "pver-upstream", "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	registerRepos(ctx, t, ns, "pver-upstream", "app", "v1.0.0", "pver-migrated", "pver-plain")

	t.Run("a Repository Porch serves as v1alpha2", func(t *testing.T) {
		repo := &configapi.Repository{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "pver-migrated"}, repo); err != nil {
			t.Fatal(err)
		}
		before := repo.DeepCopy()
		repo.Annotations = map[string]string{porch.MigrationAnnotation: "true"}
		if err := env.Client.Patch(ctx, repo, client.MergeFrom(before)); err != nil {
			t.Fatal(err)
		}
		stop := startManager(t)
		defer stop()
		v := &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKey{Namespace: ns, Name: "migrated"}}
		if err := env.Client.Create(ctx, newVariant(ns, "migrated", "pver-upstream", "pver-migrated", "1.x", v1.DeletionDelete)); err != nil {
			t.Fatal(err)
		}
		said := settle(ctx, t, &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v.key.Name}}, want(kstatus.FailedStatus, porch.ReasonUnsupported,
			`Porch Repository "pver-migrated"`, porch.MigrationAnnotation, "v1alpha2"))
		t.Logf("a variant into a v1alpha2 Repository: %s", said)
		if drafts := v.downstreamOf("pver-migrated"); len(drafts) > 1 { // the branch's placeholder at most
			t.Errorf("forkline wrote into a Repository it does not speak: %v", names(drafts))
		}
	})

	t.Run("a Porch whose revisions do not decode", func(t *testing.T) {
		if env.Bin.PorchVersion != devstack.PorchOlder {
			t.Skipf("Porch %s is the one forkline's types are; make test runs the whole suite on Porch %s", env.Bin.PorchVersion, devstack.PorchOlder)
		}
		// A manager that reads Porch only as v1.4+ writes it meets Porch
		// v1.3's string revisions as any forkline meets a Porch it does
		// not speak: nothing in its cache of PackageRevisions decodes.
		support := &porch.Support{}
		mgr := newManager(t, managerConfig, manager.Options{OnlyCurrentPorch: true, Porch: support})
		mctx, cancel := context.WithCancel(ctx)
		// Its caches never sync on this Porch, and its Start does not
		// return once cancelled while it waits for them: it is cancelled
		// and left behind, not waited for.
		defer cancel()
		go func() { _ = mgr.Start(mctx) }()
		v := &variantTest{t: t, ctx: ctx, ns: ns, key: client.ObjectKey{Namespace: ns, Name: "plain"}}
		if err := env.Client.Create(ctx, newVariant(ns, "plain", "pver-upstream", "pver-plain", "1.x", v1.DeletionDelete)); err != nil {
			t.Fatal(err)
		}
		said := settle(ctx, t, &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v.key.Name}}, want(kstatus.FailedStatus, porch.ReasonUnsupported,
			"cannot read this Porch's", "cannot unmarshal", "porch.kpt.dev/v1alpha1"))
		t.Logf("a variant on a Porch forkline does not speak: %s", said)
		waitEvents(t, v, porch.ReasonUnsupported)
		if err := support.Readyz(nil); err == nil || !strings.Contains(err.Error(), "cannot unmarshal") {
			t.Errorf("the manager's readiness check = %v, want it failing with the decode error", err)
		}
		if got := testutil.ToFloat64(metrics.PorchUnsupported); got != 1 {
			t.Errorf("forkline_porch_api_unsupported = %v, want 1", got)
		}
	})
}
