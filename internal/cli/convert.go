package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/forkline/forkline/internal/convert"
	"github.com/forkline/forkline/internal/porch"
)

// Porch's variant kinds, as its controllers serve them.
var porchVariantKinds = []schema.GroupVersionKind{
	{Group: "config.porch.kpt.dev", Version: "v1alpha1", Kind: "PackageVariantList"},
	{Group: "config.porch.kpt.dev", Version: "v1alpha2", Kind: "PackageVariantSetList"},
}

func (o *options) convertCommand() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "convert [-f FILE]...",
		Short: "Print the forkline PackageVariants and UpstreamPolicies that keep the intent of Porch's PackageVariants and PackageVariantSets",
		Long: `convert reads Porch PackageVariant and PackageVariantSet objects, from files (-f, - for
standard input) or from the cluster (the namespace's, or all with -A), and prints the forkline
PackageVariant or UpstreamPolicy that keeps each one's intent. Every Porch field forkline has no
equivalent for is named in a "# NOT CONVERTED" comment above the object, and on standard error;
nothing is dropped silently. It writes nothing: apply what it prints. docs/migrating.md says
how to hand Porch's downstream revisions over to forkline.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var input [][]byte
			var lookup convert.Lookup
			if len(files) > 0 {
				for _, f := range files {
					b, err := readInput(f, o.In)
					if err != nil {
						return err
					}
					input = append(input, b)
				}
			} else {
				c, err := o.newClient()
				if err != nil {
					return err
				}
				b, err := o.porchVariants(ctx, c)
				if err != nil {
					return err
				}
				input = append(input, b)
				lookup = o.workspaceLookup(ctx, c)
			}
			var all []convert.Converted
			for _, b := range input {
				cs, err := convert.Convert(b, lookup)
				if err != nil {
					return err
				}
				all = append(all, cs...)
			}
			if len(all) == 0 {
				say(o.ErrOut, "no Porch PackageVariant or PackageVariantSet found")
				return nil
			}
			all = convert.Sorted(all)
			for _, c := range all {
				for _, l := range c.Lost {
					say(o.ErrOut, "%s: NOT CONVERTED: %s", c.From, l)
				}
			}
			return convert.Render(o.Out, all)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "a file of Porch objects (YAML or JSON; - for standard input); without it, the cluster's")
	return cmd
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// porchVariants lists Porch's variant objects of the namespace (or all) as
// one JSON list; a Porch without its variant controllers has none.
func (o *options) porchVariants(ctx context.Context, c client.Client) ([]byte, error) {
	items := []any{}
	for _, gvk := range porchVariantKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk)
		var opts []client.ListOption
		if !o.allNamespaces {
			opts = append(opts, client.InNamespace(o.namespace()))
		}
		err := c.List(ctx, list, opts...)
		if apimeta.IsNoMatchError(err) {
			continue // that controller's CRD is not installed
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for _, item := range list.Items {
			items = append(items, item.Object)
		}
	}
	return json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
}

// workspaceLookup finds the upstream revision Porch names by workspace,
// listing each namespace's revisions once.
func (o *options) workspaceLookup(ctx context.Context, c client.Client) convert.Lookup {
	lists := map[string][]porchv1alpha1.PackageRevision{}
	return func(namespace, repo, pkg, workspace string) string {
		prs, ok := lists[namespace]
		if !ok {
			list := &porchv1alpha1.PackageRevisionList{}
			if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
				say(o.ErrOut, "listing PackageRevisions of %s to name workspace %q: %v", namespace, workspace, err)
			}
			prs = list.Items
			lists[namespace] = prs
		}
		for i := range prs {
			pr := &prs[i]
			if pr.Spec.RepositoryName == repo && pr.Spec.PackageName == pkg && pr.Spec.WorkspaceName == workspace && porch.Published(pr) {
				return porch.Revision(pr)
			}
		}
		return ""
	}
}
