package cli

import (
	"context"
	"fmt"
	"strings"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

func (o *options) approveCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "approve VARIANT",
		ValidArgsFunction: o.completeVariants,
		Short:             "Approve the variant's open proposal through Porch, as you; refused while a gate is not met",
		Long: `approve publishes the variant's proposal with your credentials, as porchctl rpkg approve
would, after checking what forkline checks: the draft is proposed, every readiness gate of its
Kptfile is True (forkline.dev/conflicts-resolved among them), the variant has no unresolved
conflict, and the upstream release it was built from has not moved nor failed verification.
Automatic approval's own waits (a hold, a time window, a rate limit) are forkline's, not yours:
they are shown, and your approval goes ahead. Porch decides whether you may approve.`,
		Example: "  kubectl forkline approve app-release-4-8 -n platform",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.newClient()
			if err != nil {
				return err
			}
			return o.approve(cmd.Context(), c, args[0])
		},
	}
}

func (o *options) approve(ctx context.Context, c client.Client, name string) error {
	pv, draft, err := o.variantDraft(ctx, c, name)
	if err != nil {
		return err
	}
	if unmet := gatesUnmet(pv, draft); len(unmet) > 0 {
		return fmt.Errorf("not approving %s: %s", draft.Name, strings.Join(unmet, "; "))
	}
	if c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionAwaitingApproval); c != nil && c.Status == metav1.ConditionTrue && c.Reason != "Proposed" {
		say(o.Out, "note: automatic approval was waiting (%s: %s); you approve it yourself", c.Reason, c.Message)
	}
	draft.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecyclePublished
	if err := c.SubResource("approval").Update(ctx, draft); err != nil {
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("porch refused your approval of %s (Forbidden): %w", draft.Name, err)
		}
		return fmt.Errorf("approving %s: %w", draft.Name, err)
	}
	say(o.Out, "%s approved: upstream %s is published in %s/%s", draft.Name, pv.Status.Sync.To, pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())
	return nil
}

// gatesUnmet says what stands in the way of publishing the draft, as a
// person must hear it; nil when nothing does.
func gatesUnmet(pv *v1.PackageVariant, draft *porchv1alpha1.PackageRevision) []string {
	var unmet []string
	if draft.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecycleProposed {
		unmet = append(unmet, fmt.Sprintf("it is a %s, not proposed (forkline proposes it once its gates are met; a draft of your own: porchctl rpkg propose)", draft.Spec.Lifecycle))
	}
	for _, g := range draft.Spec.ReadinessGates {
		ok, reason, msg := false, "not reported", ""
		for _, c := range draft.Status.Conditions {
			if c.Type == g.ConditionType {
				ok, reason, msg = c.Status == porchv1alpha1.ConditionTrue, c.Reason, c.Message
			}
		}
		if !ok {
			unmet = append(unmet, fmt.Sprintf("readiness gate %s is not True (%s)", g.ConditionType, strings.TrimSpace(reason+": "+msg)))
		}
	}
	for _, t := range []string{v1.ConditionConflicted, v1.ConditionUpstreamReleaseMoved} {
		if c := meta.FindStatusCondition(pv.Status.Conditions, t); c != nil && c.Status == metav1.ConditionTrue {
			unmet = append(unmet, fmt.Sprintf("%s: %s", t, c.Message))
		}
	}
	if c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionReleaseVerified); c != nil && c.Status == metav1.ConditionFalse {
		unmet = append(unmet, fmt.Sprintf("%s is False: %s", v1.ConditionReleaseVerified, c.Message))
	}
	return unmet
}
