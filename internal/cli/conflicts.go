package cli

import (
	"context"
	"fmt"
	"strings"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/forkline/forkline/internal/resolve"
)

func (o *options) conflictsCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "conflicts VARIANT",
		ValidArgsFunction: o.completeVariants,
		Short:             "The draft's conflicts: where upstream and the branch changed the same thing, the three values, and what is resolved",
		Example:           "  kubectl forkline conflicts app-release-4-8 -n platform",
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.newClient()
			if err != nil {
				return err
			}
			pv, draft, err := o.variantDraft(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			files, err := resources(cmd.Context(), c, draft)
			if err != nil {
				return err
			}
			doc, err := resolve.Entries(files)
			if err != nil {
				return err
			}
			if ok, err := o.printStructured(doc); ok {
				return err
			}
			if doc == nil {
				say(o.Out, "draft %s has no conflicts", draft.Name)
				return nil
			}
			say(o.Out, "draft %s: upstream %s -> %s", draft.Name, or(doc.Spec.From, "nothing"), doc.Spec.To)
			tw := printers.GetNewTabWriter(o.Out)
			fmt.Fprintln(tw, "CONFLICT\tRESOURCE\tBASE\tUPSTREAM\tDOWNSTREAM\tRESOLVED")
			for _, e := range doc.Spec.Conflicts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\n", resolve.Selector(e.Conflict), or(e.Resource, "-"), trim(e.Base, 40), trim(e.Upstream, 40), trim(e.Downstream, 40), e.Resolved)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			say(o.Out, "resolve with: kubectl forkline resolve %s --take upstream|downstream|base [CONFLICT...]  or  --set CONFLICT=VALUE", pv.Name)
			return nil
		},
	}
}

func (o *options) resolveCommand() *cobra.Command {
	var take string
	var set []string
	cmd := &cobra.Command{
		Use:               "resolve VARIANT (--take upstream|downstream|base [CONFLICT...] | --set CONFLICT=VALUE...)",
		ValidArgsFunction: o.completeVariants,
		Short:             "Resolve the draft's conflicts: take a side or set a value, mark them resolved, and push the draft through Porch as you",
		Long: `resolve writes your decision into the draft through Porch with your own credentials, as
porchctl rpkg pull, an edit and porchctl rpkg push would: --take upstream takes the new upstream
release's value, --take base the old release's, --take downstream keeps the branch's (the draft
holds it already); --set CONFLICT=VALUE sets a YAML value of your own. CONFLICT is as
'kubectl forkline conflicts' lists it (file:path), or the path alone, the resource, or a file
for all of its conflicts; without any, --take resolves every unresolved conflict. forkline
proposes the draft once no conflict is left.`,
		Example: `  kubectl forkline resolve app-release-4-8 --take upstream
  kubectl forkline resolve app-release-4-8 --take downstream deployment.yaml:spec.replicas
  kubectl forkline resolve app-release-4-8 --set spec.replicas=4`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := resolve.Request{Take: resolve.Side(take), Paths: args[1:]}
			switch {
			case len(set) > 0 && take != "":
				return fmt.Errorf("say --take or --set, not both")
			case len(set) > 0:
				if len(args) > 1 {
					return fmt.Errorf("--set names its conflicts itself (CONFLICT=VALUE)")
				}
				req.Set = map[string]string{}
				for _, kv := range set {
					k, v, ok := strings.Cut(kv, "=")
					if !ok {
						return fmt.Errorf("--set %q: say CONFLICT=VALUE", kv)
					}
					req.Set[k] = v
				}
			case take != string(resolve.Upstream) && take != string(resolve.Downstream) && take != string(resolve.Base):
				return fmt.Errorf("--take upstream, downstream or base (or --set CONFLICT=VALUE)")
			}
			c, err := o.newClient()
			if err != nil {
				return err
			}
			return o.resolve(cmd.Context(), c, args[0], req)
		},
	}
	cmd.Flags().StringVar(&take, "take", "", "the side to take: upstream (the release proposed), base (the release the branch is on) or downstream (the branch's)")
	cmd.Flags().StringArrayVar(&set, "set", nil, "CONFLICT=VALUE: a value of your own, as YAML (repeatable)")
	return cmd
}

func (o *options) resolve(ctx context.Context, c client.Client, name string, req resolve.Request) error {
	pv, draft, err := o.variantDraft(ctx, c, name)
	if err != nil {
		return err
	}
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(draft), prr); err != nil {
		return fmt.Errorf("reading %s: %w", draft.Name, err)
	}
	sides := map[resolve.Side]map[string]string{}
	if req.Take == resolve.Upstream || req.Take == resolve.Base {
		doc, err := resolve.Entries(prr.Spec.Resources)
		if err != nil || doc == nil {
			return fmt.Errorf("draft %s has no conflicts to resolve", draft.Name)
		}
		up, err := revisions(ctx, c, pv.Namespace, pv.Spec.Upstream.Repo, pv.Spec.Upstream.Package)
		if err != nil {
			return err
		}
		rev := doc.Spec.To
		if req.Take == resolve.Base {
			rev = doc.Spec.From
		}
		r := release(up, rev)
		if r == nil {
			return fmt.Errorf("upstream release %q of %s/%s is not published in Porch: nothing to take from", rev, pv.Spec.Upstream.Repo, pv.Spec.Upstream.Package)
		}
		if sides[req.Take], err = resources(ctx, c, r); err != nil {
			return err
		}
	}
	res, err := resolve.Apply(prr.Spec.Resources, sides, req)
	if err != nil {
		return err
	}
	// The update carries the resourceVersion read: Porch refuses it if
	// the draft moved meanwhile, as porchctl rpkg push would.
	prr.Spec.Resources = res.Files
	if err := c.Update(ctx, prr); err != nil {
		return fmt.Errorf("pushing the resolution to %s: %w", draft.Name, err)
	}
	say(o.Out, "draft %s: resolved %s", draft.Name, strings.Join(res.Resolved, ", "))
	if len(res.Left) == 0 {
		say(o.Out, "no conflict left: forkline proposes the draft next (kubectl forkline get %s)", pv.Name)
	} else {
		say(o.Out, "%d left: %s", len(res.Left), strings.Join(res.Left, ", "))
	}
	return nil
}
