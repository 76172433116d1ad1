package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

func (o *options) getCommand() *cobra.Command {
	return &cobra.Command{
		Use:       "get [variants|policies]",
		Short:     "List PackageVariants (default) or UpstreamPolicies: phase, what each waits for, releases, draft, age",
		Example:   "  kubectl forkline get -n platform\n  kubectl forkline get policies -A",
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"variants", "policies"},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.newClient()
			if err != nil {
				return err
			}
			var opts []client.ListOption
			if !o.allNamespaces {
				opts = append(opts, client.InNamespace(o.namespace()))
			}
			what := "variants"
			if len(args) == 1 {
				what = args[0]
			}
			switch what {
			case "variants", "variant", "packagevariants", "fpv":
				var list v1.PackageVariantList
				if err := c.List(cmd.Context(), &list, opts...); err != nil {
					return err
				}
				if ok, err := o.printStructured(&list); ok {
					return err
				}
				return o.variantTable(o.Out, list.Items)
			case "policies", "policy", "upstreampolicies", "upol":
				var list v1.UpstreamPolicyList
				if err := c.List(cmd.Context(), &list, opts...); err != nil {
					return err
				}
				if ok, err := o.printStructured(&list); ok {
					return err
				}
				return o.policyTable(o.Out, list.Items)
			}
			return fmt.Errorf("get %q: say variants or policies", what)
		},
	}
}

func (o *options) treeCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "tree POLICY",
		Short:   "An UpstreamPolicy and every variant it keeps, with what each waits for",
		Example: "  kubectl forkline tree app -n platform",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.newClient()
			if err != nil {
				return err
			}
			return o.tree(cmd.Context(), c, args[0])
		},
	}
}

func (o *options) tree(ctx context.Context, c client.Client, name string) error {
	p := &v1.UpstreamPolicy{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.namespace(), Name: name}, p); err != nil {
		return fmt.Errorf("upstreampolicy %s/%s: %w", o.namespace(), name, err)
	}
	var list v1.PackageVariantList
	if err := c.List(ctx, &list, client.InNamespace(p.Namespace)); err != nil {
		return err
	}
	var variants []v1.PackageVariant
	for _, pv := range list.Items {
		if ref := metav1.GetControllerOf(&pv); ref != nil && ref.UID == p.UID {
			variants = append(variants, pv)
		}
	}
	if ok, err := o.printStructured(map[string]any{"policy": p, "variants": variants}); ok {
		return err
	}
	now := o.now()
	say(o.Out, "UpstreamPolicy/%s  Ready=%s  %s/%s  %s", p.Name, readyWord(p.Status.Conditions),
		p.Spec.Upstream.Repo, p.Spec.Upstream.Package, or(conditionMessage(p.Status.Conditions, v1.ConditionReady), or(p.Status.Variants, "?")+" variants up to date"))
	// A target the policy could not expand has a row and no variant.
	for _, row := range p.Status.Targets {
		if row.Variant == "" {
			say(o.Out, "├── target %s/%s: %s", row.Repo, row.Package, row.Message)
		}
	}
	for i, pv := range variants {
		branch, stem := "├── ", "│   "
		if i == len(variants)-1 {
			branch, stem = "└── ", "    "
		}
		cur, tgt := releases(&pv)
		say(o.Out, "%sPackageVariant/%s  %s  %s -> %s  %s  (%s)", branch, pv.Name, or(string(phase(&pv)), "-"), or(cur, "-"), or(tgt, "-"), waitsFor(&pv), age(now, pv.CreationTimestamp.Time))
		if pv.Status.Sync != nil && pv.Status.Sync.Draft != "" {
			line := "draft " + pv.Status.Sync.Draft
			if ch := pv.Status.Sync.Changes; ch != nil && ch.Summary != "" {
				line += ": " + ch.Summary
			}
			say(o.Out, "%s└── %s", stem, line)
		}
	}
	return nil
}

func (o *options) variantTable(w io.Writer, items []v1.PackageVariant) error {
	tw := printers.GetNewTabWriter(w)
	header := []string{"NAME", "PHASE", "WAITING FOR", "CURRENT", "TARGET", "DRAFT", "AGE"}
	if o.allNamespaces {
		header = slices.Insert(header, 0, "NAMESPACE")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	slices.SortFunc(items, func(a, b v1.PackageVariant) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	now := o.now()
	for _, pv := range items {
		cur, tgt := releases(&pv)
		draft := "-"
		if pv.Status.Sync != nil && pv.Status.Sync.Draft != "" {
			draft = pv.Status.Sync.Draft
		}
		row := []string{pv.Name, or(string(phase(&pv)), "-"), waitsFor(&pv), or(cur, "-"), or(tgt, "-"), draft, age(now, pv.CreationTimestamp.Time)}
		if o.allNamespaces {
			row = slices.Insert(row, 0, pv.Namespace)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func (o *options) policyTable(w io.Writer, items []v1.UpstreamPolicy) error {
	tw := printers.GetNewTabWriter(w)
	header := []string{"NAME", "READY", "UPSTREAM", "UP TO DATE", "MESSAGE", "AGE"}
	if o.allNamespaces {
		header = slices.Insert(header, 0, "NAMESPACE")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	now := o.now()
	for _, p := range items {
		row := []string{p.Name, readyWord(p.Status.Conditions), p.Spec.Upstream.Repo + "/" + p.Spec.Upstream.Package,
			or(p.Status.Variants, "-"), or(conditionMessage(p.Status.Conditions, v1.ConditionReady), "-"), age(now, p.CreationTimestamp.Time)}
		if o.allNamespaces {
			row = slices.Insert(row, 0, p.Namespace)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func phase(pv *v1.PackageVariant) v1.SyncPhase {
	if pv.Status.Sync == nil {
		return ""
	}
	return pv.Status.Sync.Phase
}

func releases(pv *v1.PackageVariant) (current, target string) {
	if pv.Status.Upstream == nil {
		return "", ""
	}
	return pv.Status.Upstream.Current, pv.Status.Upstream.Target
}

// waitsFor says in a few words what the variant waits for: a person's fix
// (Stalled), a gate of approval, a person's resolution, or nothing.
func waitsFor(pv *v1.PackageVariant) string {
	conds := pv.Status.Conditions
	if c := meta.FindStatusCondition(conds, v1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		return "fix: " + c.Reason + ": " + trim(c.Message, 100)
	}
	if c := meta.FindStatusCondition(conds, v1.ConditionConflicted); c != nil && c.Status == metav1.ConditionTrue {
		return "resolve: " + trim(c.Message, 100)
	}
	if c := meta.FindStatusCondition(conds, v1.ConditionAwaitingApproval); c != nil && c.Status == metav1.ConditionTrue {
		if c.Reason == "Proposed" {
			return "approval by a person"
		}
		return c.Reason + ": " + trim(c.Message, 100)
	}
	if c := meta.FindStatusCondition(conds, v1.ConditionReconciling); c != nil && c.Status == metav1.ConditionTrue {
		return "forkline: " + c.Reason
	}
	if c := meta.FindStatusCondition(conds, v1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue && c.Reason != "UpToDate" {
		return c.Reason + ": " + trim(c.Message, 100)
	}
	return "-"
}

func readyWord(conds []metav1.Condition) string {
	c := meta.FindStatusCondition(conds, v1.ConditionReady)
	if c == nil {
		return "Unknown"
	}
	return string(c.Status)
}

func conditionMessage(conds []metav1.Condition, t string) string {
	if c := meta.FindStatusCondition(conds, t); c != nil {
		return c.Message
	}
	return ""
}

func trim(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
