package cli

import (
	"context"
	"fmt"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
)

// revisions are the PackageRevisions of one package of one Repository.
func revisions(ctx context.Context, c client.Client, ns, repo, pkg string) ([]porchv1alpha1.PackageRevision, error) {
	var list porchv1alpha1.PackageRevisionList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing PackageRevisions of %s: %w", ns, err)
	}
	var out []porchv1alpha1.PackageRevision
	for _, pr := range list.Items {
		if pr.Spec.RepositoryName == repo && pr.Spec.PackageName == pkg {
			out = append(out, pr)
		}
	}
	return out, nil
}

// release is the upstream's published revision named rev (e.g. v1.2.0).
func release(prs []porchv1alpha1.PackageRevision, rev string) *porchv1alpha1.PackageRevision {
	for i := range prs {
		if porch.Revision(&prs[i]) == rev {
			return &prs[i]
		}
	}
	return nil
}

// resources are a revision's files.
func resources(ctx context.Context, c client.Client, pr *porchv1alpha1.PackageRevision) (map[string]string, error) {
	if pr == nil {
		return nil, nil
	}
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(pr), prr); err != nil {
		return nil, fmt.Errorf("reading %s: %w", pr.Name, err)
	}
	return prr.Spec.Resources, nil
}

// variantDraft reads the named variant of the current namespace and its
// open draft or proposal.
func (o *options) variantDraft(ctx context.Context, c client.Client, name string) (*v1.PackageVariant, *porchv1alpha1.PackageRevision, error) {
	pv, err := o.variant(ctx, c, name)
	if err != nil {
		return nil, nil, err
	}
	draft, err := draftOf(ctx, c, pv)
	return pv, draft, err
}

// draftOf is the variant's open draft or proposal.
func draftOf(ctx context.Context, c client.Client, pv *v1.PackageVariant) (*porchv1alpha1.PackageRevision, error) {
	if pv.Status.Sync == nil || pv.Status.Sync.Draft == "" {
		return nil, fmt.Errorf("%s has no open draft or proposal (phase %s)", pv.Name, or(string(phase(pv)), "none"))
	}
	pr := &porchv1alpha1.PackageRevision{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: pv.Namespace, Name: pv.Status.Sync.Draft}, pr); err != nil {
		return nil, fmt.Errorf("the draft %s: %w", pv.Status.Sync.Draft, err)
	}
	if pr.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecyclePublished {
		return nil, fmt.Errorf("%s's last draft %s is published: nothing is open", pv.Name, pr.Name)
	}
	return pr, nil
}

// personFiles are the files a person changed in the draft since forkline
// wrote it: what forkline recorded, and what differs from its
// fingerprints now.
func personFiles(draft *porchv1alpha1.PackageRevision, files map[string]string) []string {
	changed, _ := porch.PersonFiles(draft.Annotations[v1.AnnotationWrittenFiles], draft.Annotations[v1.AnnotationChangedByPerson], files)
	return changed
}
