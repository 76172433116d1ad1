package packagevariant

import (
	"context"
	"maps"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/fanout"
	"github.com/forkline/forkline/internal/porch"
)

// Field indexes, so a reconcile reads one package's revisions and a
// revision event finds only the variants it concerns; nothing lists
// everything.
const (
	// indexPackage keys PackageRevisions by repository/package.
	indexPackage = "forkline.package"
	// indexUpstream and indexDownstream key PackageVariants by the
	// repository/package they read from and write to.
	indexUpstream   = "forkline.upstream"
	indexDownstream = "forkline.downstream"
	// indexRepository keys PackageVariants by the Repositories they name.
	indexRepository = "forkline.repository"
)

func packageKey(repo, pkg string) string { return repo + "/" + pkg }

// SetupIndexes registers the field indexes the controller reads through.
func SetupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	fi := mgr.GetFieldIndexer()
	if err := fi.IndexField(ctx, &porchv1alpha1.PackageRevision{}, indexPackage, func(o client.Object) []string {
		pr := o.(*porchv1alpha1.PackageRevision)
		return []string{packageKey(pr.Spec.RepositoryName, pr.Spec.PackageName)}
	}); err != nil {
		return err
	}
	if err := fi.IndexField(ctx, &v1.PackageVariant{}, indexUpstream, func(o client.Object) []string {
		pv := o.(*v1.PackageVariant)
		return []string{packageKey(pv.Spec.Upstream.Repo, pv.Spec.Upstream.Package)}
	}); err != nil {
		return err
	}
	if err := fi.IndexField(ctx, &v1.PackageVariant{}, indexDownstream, func(o client.Object) []string {
		pv := o.(*v1.PackageVariant)
		return []string{packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}
	}); err != nil {
		return err
	}
	if err := fi.IndexField(ctx, &v1.PackageVariant{}, indexRepository, func(o client.Object) []string {
		pv := o.(*v1.PackageVariant)
		if pv.Spec.Upstream.Repo == pv.Spec.Downstream.Repo {
			return []string{pv.Spec.Upstream.Repo}
		}
		return []string{pv.Spec.Upstream.Repo, pv.Spec.Downstream.Repo}
	}); err != nil {
		return err
	}
	return fi.IndexField(ctx, &v1.PackageVariant{}, indexInjector, func(o client.Object) []string {
		return injectorKeys(o.(*v1.PackageVariant))
	})
}

// revisionEvents enqueues the variants a PackageRevision event concerns.
// A created or changed revision that is exactly what a variant last wrote
// is that variant's own write coming back: it is not enqueued for it. A
// deletion always is, whatever the revision looked like.
func (r *Reconciler) revisionEvents() handler.Funcs {
	enqueue := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request], skipEchoes bool) {
		for _, req := range r.variantsFor(ctx, o, skipEchoes, sides{upstream: true, downstream: true}) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q, true)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			w := wakes(e.ObjectOld, e.ObjectNew)
			if w == (sides{}) {
				return
			}
			reqs := r.variantsFor(ctx, e.ObjectNew, true, w)
			if len(reqs) > 0 {
				// Why a variant reconciles with nothing of its own changing.
				ctrl.Log.WithName("packagevariant").V(1).Info("revision changed", "namespace", e.ObjectNew.GetNamespace(), "revision", e.ObjectNew.GetName(),
					"changed", changedParts(e.ObjectOld, e.ObjectNew), "variants", len(reqs))
			}
			for _, req := range reqs {
				q.Add(req)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q, false)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q, false)
		},
	}
}

// replayed says an update brings nothing forkline reads: the revision as
// the cache had it, but perhaps for Porch's kpt.dev/latest-revision label.
// Porch's watch ignores the resourceVersion it is asked to resume from and
// starts with an ADDED event for every revision, and client-go renews each
// watch every 5 to 10 minutes: every renewal replays all revisions as
// updates. Porch moves the latest label without an event when a newer
// revision appears, so the replay of every older revision differs from
// the cache in that label alone. Reconciling on them cost each variant a
// read of its draft at every renewal with nothing changing (566 Porch
// requests in one quiet minute at 1,000 variants).
func replayed(old, cur client.Object) bool {
	o, ok1 := old.(*porchv1alpha1.PackageRevision)
	n, ok2 := cur.(*porchv1alpha1.PackageRevision)
	if !ok1 || !ok2 || o.ResourceVersion != n.ResourceVersion {
		return false
	}
	om, nm := o.ObjectMeta, n.ObjectMeta
	om.ManagedFields, nm.ManagedFields = nil, nil
	om.Labels, nm.Labels = withoutLatest(om.Labels), withoutLatest(nm.Labels)
	return equality.Semantic.DeepEqual(om, nm) &&
		equality.Semantic.DeepEqual(o.Spec, n.Spec) &&
		equality.Semantic.DeepEqual(o.Status, n.Status)
}

// withoutLatest is labels without Porch's kpt.dev/latest-revision, which
// forkline does not read (nil when nothing else is left).
func withoutLatest(labels map[string]string) map[string]string {
	if _, ok := labels[porchv1alpha1.LatestPackageRevisionKey]; !ok {
		return labels
	}
	out := make(map[string]string, len(labels)-1)
	for k, v := range labels {
		if k != porchv1alpha1.LatestPackageRevisionKey {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// sides says which variants an update of a revision is news for: those
// that follow its package upstream, and those that write it downstream.
type sides struct{ upstream, downstream bool }

// wakes says whom an update concerns. Once Porch re-lists a revision it
// published from git, it carries the approval commit's time and author
// instead of the draft's (creationTimestamp, publishedAt, publishedBy).
// forkline reads an upstream release's publishedAt (its age) and nothing
// of that record of a downstream revision.
//
// A branch's placeholder (the package as the registered branch has it,
// revision "main") is not a release and not a draft: forkline reads
// nothing of it. Its resourceVersion is the branch's head commit, so each
// approval of any package in the repository moves every other package's
// placeholder, 1,225 updates for 50 packages approved one by one.
func wakes(old, cur client.Object) sides {
	if replayed(old, cur) {
		return sides{}
	}
	o, ok1 := old.(*porchv1alpha1.PackageRevision)
	n, ok2 := cur.(*porchv1alpha1.PackageRevision)
	if !ok1 || !ok2 {
		return sides{upstream: true, downstream: true}
	}
	if placeholder(o) && placeholder(n) {
		return sides{}
	}
	record := o.DeepCopy()
	record.CreationTimestamp, record.Status.PublishedAt, record.Status.PublishedBy = n.CreationTimestamp, n.Status.PublishedAt, n.Status.PublishedBy
	if !replayed(record, n) {
		return sides{upstream: true, downstream: true}
	}
	return sides{upstream: !o.Status.PublishedAt.Equal(&n.Status.PublishedAt)}
}

// placeholder says pr is a branch's placeholder: published, but with no
// release's revision (v1, v0.9.0).
func placeholder(pr *porchv1alpha1.PackageRevision) bool {
	return porch.Placeholder(pr)
}

// changedParts names what differs between two versions of a revision, for
// the debug log of what woke a variant.
func changedParts(old, cur client.Object) []string {
	o, ok1 := old.(*porchv1alpha1.PackageRevision)
	n, ok2 := cur.(*porchv1alpha1.PackageRevision)
	if !ok1 || !ok2 {
		return nil
	}
	var parts []string
	for _, c := range []struct {
		name string
		same bool
	}{
		{"resourceVersion", o.ResourceVersion == n.ResourceVersion},
		{"labels", equality.Semantic.DeepEqual(withoutLatest(o.Labels), withoutLatest(n.Labels))},
		{"annotations", equality.Semantic.DeepEqual(o.Annotations, n.Annotations)},
		{"finalizers", equality.Semantic.DeepEqual(o.Finalizers, n.Finalizers)},
		{"ownerReferences", equality.Semantic.DeepEqual(o.OwnerReferences, n.OwnerReferences)},
		{"creationTimestamp", o.CreationTimestamp.Equal(&n.CreationTimestamp)},
		{"deletionTimestamp", o.DeletionTimestamp.Equal(n.DeletionTimestamp)},
		{"spec", equality.Semantic.DeepEqual(o.Spec, n.Spec)},
		{"status.publishedAt", o.Status.PublishedAt.Equal(&n.Status.PublishedAt)},
		{"status.publishedBy", o.Status.PublishedBy == n.Status.PublishedBy},
		{"status.conditions", equality.Semantic.DeepEqual(o.Status.Conditions, n.Status.Conditions)},
	} {
		if !c.same {
			parts = append(parts, c.name)
		}
	}
	return parts
}

// variantsFor maps a PackageRevision to the variants that follow its
// package upstream or write it downstream, as far as the revision is news
// for that side, without those for which it is their own last write when
// skipEchoes is set.
func (r *Reconciler) variantsFor(ctx context.Context, o client.Object, skipEchoes bool, news sides) []reconcile.Request {
	pr, ok := o.(*porchv1alpha1.PackageRevision)
	if !ok {
		return nil
	}
	key := packageKey(pr.Spec.RepositoryName, pr.Spec.PackageName)
	seen := map[types.NamespacedName]bool{}
	var reqs []reconcile.Request
	for _, index := range []string{indexUpstream, indexDownstream} {
		var list v1.PackageVariantList
		if (index == indexUpstream && !news.upstream) || (index == indexDownstream && !news.downstream) {
			continue
		}
		if err := r.client.List(ctx, &list, client.InNamespace(pr.Namespace), client.MatchingFields{index: key}); err != nil {
			continue
		}
		for _, pv := range list.Items {
			nn := types.NamespacedName{Namespace: pv.Namespace, Name: pv.Name}
			if skipEchoes && index == indexDownstream && r.echoes.isOwnDraft(&pv, pr) {
				continue
			}
			if !seen[nn] {
				seen[nn] = true
				reqs = append(reqs, reconcile.Request{NamespacedName: nn})
			}
		}
	}
	return reqs
}

// variantsOfRepository maps a Repository event to the variants that name it.
func (r *Reconciler) variantsOfRepository(ctx context.Context, o client.Object) []reconcile.Request {
	return r.variantsListed(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexRepository: o.GetName()})
}

// variantsListed is a request for each variant the cache lists with opts.
func (r *Reconciler) variantsListed(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list v1.PackageVariantList
	if err := r.client.List(ctx, &list, opts...); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, pv := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pv)})
	}
	return reqs
}

// repositoryChanged passes what a variant validates of a Repository: that
// it exists, its spec, and whether Porch has it Ready; not the status
// Porch rewrites as it syncs.
// (Porch v1.4+ turns a Repository Ready=False at the start of each sync
// and Ready at its end: no news for a variant, see porch.Readiness.)
func repositoryChanged(repos *porch.Readiness) predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*configapi.Repository)
		n, ok2 := e.ObjectNew.(*configapi.Repository)
		if !ok1 || !ok2 {
			return true
		}
		return o.Generation != n.Generation || !maps.Equal(o.Annotations, n.Annotations) ||
			repos.Serving(o) != repos.Serving(n) || (!repos.Serving(n) && porch.NotReadyMessage(o) != porch.NotReadyMessage(n))
	}, DeleteFunc: func(e event.DeleteEvent) bool {
		repos.Forget(e.Object.GetUID())
		return true
	}}
}

// variantsOfPolicy maps an UpstreamPolicy to the variants it generated: a
// change of its spec (a new rollout budget) may open an approval gate.
func (r *Reconciler) variantsOfPolicy(ctx context.Context, o client.Object) []reconcile.Request {
	return r.variantsListed(ctx, client.InNamespace(o.GetNamespace()), client.MatchingLabels{fanout.PolicyLabel: o.GetName()})
}
