// A Porch forkline cannot read.
//
// On a Porch whose PackageRevisions do not decode, the manager's cache of
// them never syncs and this controller never reconciles a variant: every
// status would stay as it was, or empty, with no word. unsupportedPorch
// runs beside the controller and says it on every variant instead.

package packagevariant

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/status"
)

// unsupportedPorch writes the problem support holds into every
// variant's conditions (Stalled, PorchAPIUnsupported) with a Warning
// Event, once per problem and variant.
type unsupportedPorch struct {
	r       *Reconciler
	support *porch.Support
	every   time.Duration
}

func (u unsupportedPorch) Start(ctx context.Context) error {
	tick := time.NewTicker(u.every)
	defer tick.Stop()
	for {
		// Every replica states it: none is elected while its caches
		// cannot sync, and each writes the same conditions.
		if problem := u.support.Problem(); problem != "" {
			metrics.PorchUnsupported.Set(1)
			if err := u.state(ctx, problem); err != nil {
				log.FromContext(ctx).Error(err, "stating that Porch is unsupported on the variants")
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// state lists the variants past the cache (whose PackageRevisions are
// what does not sync) and marks each not yet marked with problem.
func (u unsupportedPorch) state(ctx context.Context, problem string) error {
	var pvs v1.PackageVariantList
	if err := u.r.reader.List(ctx, &pvs); err != nil {
		return err
	}
	for i := range pvs.Items {
		pv := &pvs.Items[i]
		if c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionReady); c != nil && c.Reason == porch.ReasonUnsupported && c.Message == problem {
			continue
		}
		before := pv.DeepCopy()
		status.Conclude(&pv.Status.Conditions, before.Status.Conditions, pv.Generation,
			status.Result{Outcome: status.Stalled, Reason: porch.ReasonUnsupported, Message: problem}, nil, time.Now())
		if err := u.r.client.Status().Patch(ctx, pv, client.MergeFrom(before)); err != nil {
			return err
		}
		u.r.event(pv, corev1.EventTypeWarning, porch.ReasonUnsupported, "%s", problem)
	}
	return nil
}
