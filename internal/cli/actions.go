package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// The day-2 actions: each is the annotation or spec edit the docs tell a
// person to type, made as a merge patch with their credentials.

func (o *options) holdCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:               "hold VARIANT --reason REASON",
		ValidArgsFunction: o.completeVariants,
		Short:             "Hold automatic approval of the variant's changes (forkline.dev/hold); merging and proposing go on",
		Example:           `  kubectl forkline hold app-release-4-8 --reason "waiting for the CAB"`,
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return fmt.Errorf("--reason is required: it is what people see in the variant's status")
			}
			return o.annotate(cmd.Context(), args[0], v1.AnnotationHold, &reason, "held: "+reason)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown in status")
	return cmd
}

func (o *options) unholdCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "unhold VARIANT",
		ValidArgsFunction: o.completeVariants,
		Short:             "Lift the hold on the variant's automatic approval",
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.annotate(cmd.Context(), args[0], v1.AnnotationHold, nil, "hold lifted")
		},
	}
}

func (o *options) retryCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "retry VARIANT",
		ValidArgsFunction: o.completeVariants,
		Short:             "Take up again a sync a person declined, or go on from what Porch lists (forkline.dev/retry)",
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := strconv.FormatInt(o.now().Unix(), 10)
			return o.annotate(cmd.Context(), args[0], v1.AnnotationRetry, &v, "retry requested ("+v+")")
		},
	}
}

func (o *options) reconcileCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reconcile [variant|policy] NAME",
		Short: "Ask forkline to reconcile now (forkline.dev/reconcile) and wait until it has",
		Example: `  kubectl forkline reconcile app-release-4-8
  kubectl forkline reconcile policy app`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := o.target(args)
			if err != nil {
				return err
			}
			c, err := o.newClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
			at := o.now().UTC().Format(time.RFC3339Nano)
			if err := patchMeta(ctx, c, obj, func(m *metav1.ObjectMeta) { setAnnotation(m, v1.AnnotationReconcile, &at) }); err != nil {
				return err
			}
			say(o.Out, "reconcile requested at %s", at)
			if timeout == 0 {
				return nil
			}
			err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
				if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
					return false, nil
				}
				return handledReconcile(obj) == at, nil
			})
			if err != nil {
				return fmt.Errorf("forkline did not report the reconcile within %s (is the manager running?)", timeout)
			}
			say(o.Out, "reconciled: %s", summary(obj))
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for forkline to report it (0: do not wait)")
	return cmd
}

func (o *options) pinCommand() *cobra.Command {
	var to, reason, until string
	cmd := &cobra.Command{
		Use:               "pin VARIANT --to REVISION --reason REASON [--until DATE]",
		ValidArgsFunction: o.completeVariants,
		Short:             "Hold the variant at one upstream release (spec.pin), with why, until a date or until unpinned (--to '')",
		Example:           `  kubectl forkline pin app-release-4-8 --to v1.21.2 --reason "INC-42: v1.21.3 breaks TLS" --until 2027-01-15`,
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pin *v1.Pin
			if to != "" {
				if reason == "" {
					return fmt.Errorf("--reason is required: a pin says why, for the people who will want to lift it")
				}
				pin = &v1.Pin{Revision: to, Reason: reason}
				if until != "" {
					t, err := parseDate(until)
					if err != nil {
						return err
					}
					pin.Until = &metav1.Time{Time: t}
				}
			}
			return o.editVariant(cmd.Context(), args[0], func(pv *v1.PackageVariant) string {
				pv.Spec.Pin = pin
				if pin == nil {
					return "unpinned"
				}
				return "pinned to " + to
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the upstream release to hold at, e.g. v1.21.2 ('' removes the pin)")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	cmd.Flags().StringVar(&until, "until", "", "when the pin lapses (2006-01-02 or RFC 3339)")
	return cmd
}

func (o *options) skipCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "skip VARIANT REVISION",
		ValidArgsFunction: o.completeVariants,
		Short:             "Never take this upstream release (spec.upstream.skip); the variant moves on to the next",
		Example:           "  kubectl forkline skip app-release-4-8 v1.21.3",
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.editVariant(cmd.Context(), args[0], func(pv *v1.PackageVariant) string {
				if !slices.Contains(pv.Spec.Upstream.Skip, args[1]) {
					pv.Spec.Upstream.Skip = append(pv.Spec.Upstream.Skip, args[1])
				}
				return "skips " + args[1]
			})
		},
	}
}

func (o *options) suspendCommand(suspend bool) *cobra.Command {
	use, short := "resume", "Let a suspended variant or policy go on"
	if suspend {
		use, short = "suspend", "Stop forkline creating, proposing, approving or deleting anything for a variant or policy (spec.suspend)"
	}
	return &cobra.Command{
		Use:   use + " [variant|policy] NAME",
		Short: short,
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj, err := o.target(args)
			if err != nil {
				return err
			}
			word := map[bool]string{true: "suspended", false: "resumed"}[suspend]
			if p, ok := obj.(*v1.UpstreamPolicy); ok {
				c, err := o.newClient()
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				if err := c.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
					return err
				}
				before := p.DeepCopy()
				p.Spec.Suspend = suspend
				if err := c.Patch(ctx, p, client.MergeFrom(before)); err != nil {
					return err
				}
				say(o.Out, "upstreampolicy %s %s", p.Name, word)
				return nil
			}
			return o.editVariant(cmd.Context(), args[len(args)-1], func(pv *v1.PackageVariant) string {
				pv.Spec.Suspend = suspend
				return word
			})
		},
	}
}

// target is the variant or policy args name ("NAME", "variant NAME" or
// "policy NAME"), in the current namespace.
func (o *options) target(args []string) (client.Object, error) {
	meta := metav1.ObjectMeta{Namespace: o.namespace(), Name: args[len(args)-1]}
	if len(args) == 1 {
		return &v1.PackageVariant{ObjectMeta: meta}, nil
	}
	switch args[0] {
	case "variant", "packagevariant", "fpv":
		return &v1.PackageVariant{ObjectMeta: meta}, nil
	case "policy", "upstreampolicy", "upol":
		return &v1.UpstreamPolicy{ObjectMeta: meta}, nil
	}
	return nil, fmt.Errorf("%q: say variant or policy", args[0])
}

// annotate sets (or, for nil, removes) one annotation of a variant.
func (o *options) annotate(ctx context.Context, name, key string, value *string, done string) error {
	c, err := o.newClient()
	if err != nil {
		return err
	}
	pv, err := o.variant(ctx, c, name)
	if err != nil {
		return err
	}
	if err := patchMeta(ctx, c, pv, func(m *metav1.ObjectMeta) { setAnnotation(m, key, value) }); err != nil {
		return err
	}
	say(o.Out, "packagevariant %s: %s", pv.Name, done)
	return nil
}

// editVariant changes a variant's spec. A variant an UpstreamPolicy
// generates takes its spec from the policy, which would undo the edit:
// the person is sent there instead.
func (o *options) editVariant(ctx context.Context, name string, edit func(*v1.PackageVariant) string) error {
	c, err := o.newClient()
	if err != nil {
		return err
	}
	pv, err := o.variant(ctx, c, name)
	if err != nil {
		return err
	}
	if ref := metav1.GetControllerOf(pv); ref != nil && ref.Kind == "UpstreamPolicy" {
		return fmt.Errorf("packagevariant %s is generated by UpstreamPolicy %s, which sets its spec and would undo this: change the policy's template or target (or hold this variant: kubectl forkline hold %s)", pv.Name, ref.Name, pv.Name)
	}
	before := pv.DeepCopy()
	done := edit(pv)
	if err := c.Patch(ctx, pv, client.MergeFrom(before)); err != nil {
		return err
	}
	say(o.Out, "packagevariant %s %s", pv.Name, done)
	return nil
}

func patchMeta(ctx context.Context, c client.Client, obj client.Object, edit func(*metav1.ObjectMeta)) error {
	before := obj.DeepCopyObject().(client.Object)
	m := metav1.ObjectMeta{Annotations: obj.GetAnnotations()}
	edit(&m)
	obj.SetAnnotations(m.Annotations)
	return c.Patch(ctx, obj, client.MergeFrom(before))
}

func setAnnotation(m *metav1.ObjectMeta, key string, value *string) {
	if value == nil {
		delete(m.Annotations, key)
		return
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[key] = *value
}

func handledReconcile(obj client.Object) string {
	switch o := obj.(type) {
	case *v1.PackageVariant:
		return o.Status.LastHandledReconcileAt
	case *v1.UpstreamPolicy:
		return o.Status.LastHandledReconcileAt
	}
	return ""
}

func summary(obj client.Object) string {
	switch o := obj.(type) {
	case *v1.PackageVariant:
		return fmt.Sprintf("%s %s, %s", o.Name, or(string(phase(o)), "-"), waitsFor(o))
	case *v1.UpstreamPolicy:
		return fmt.Sprintf("%s %s variants up to date", o.Name, or(o.Status.Variants, "?"))
	}
	return ""
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--until %q: say 2006-01-02 or an RFC 3339 time", s)
}
