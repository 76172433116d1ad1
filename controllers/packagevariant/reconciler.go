// Package packagevariant reconciles PackageVariants: it follows one upstream
// package's releases into one downstream repository, holding each merge in
// a Porch Draft, showing conflicts in the draft and carrying on once a
// person resolves them.
package packagevariant

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	"golang.org/x/sync/semaphore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/lru"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/status"
	"github.com/forkline/forkline/internal/upstream"
)

// Finalizer holds a variant until its downstream drafts are cleaned up per
// its deletion policy.
const Finalizer = "forkline.dev/packagevariant"

// Reconciler reconciles PackageVariants.
type Reconciler struct {
	client client.Client // cached: variants, revisions, repositories
	reader client.Reader // uncached: PackageRevisionResources
	// porch is what the manager saw of Porch's answers: whether it can
	// read them (nil: not watched).
	porch *porch.Support
	// repos are the Repositories Porch serves, across its syncs.
	repos *porch.Readiness
	// revisions writes PackageRevisions, never finishing a deletion.
	revisions porch.Revisions
	// approvals are this process's own, until the cache shows them.
	approvals *approvals
	// echoes are forkline's own last writes, not worth a read or a
	// reconcile when they come back.
	echoes *echoes
	// upstreams holds published upstream content: immutable, and the same
	// for every variant a release fans out to.
	upstreams *contentCache
	// git is the on-disk clones of upstream repositories, shared by every
	// variant: forkline reads the locked commit itself.
	git *upstream.Cache
	// stated are the facts already told as an Event by this process.
	stated sync.Map
	// refused are the variants' last draft creates Porch refused, by
	// variant (a refusal).
	refused sync.Map
	// diagnosed are upstream releases' content problems (nil for none),
	// by release and commit: what every clone of a release holds.
	diagnosed *lru.Cache
	// merging bounds the package content merged at once (mergeBudget).
	merging *semaphore.Weighted
	// writing lets big packages' writes to Porch take turns (see send).
	writing *semaphore.Weighted
	// listings are Porch's own recent lists of upstream releases, which
	// confirm a walk's next step.
	listings listings
	// mapper tells cluster-scoped kinds from namespaced ones.
	mapper   meta.RESTMapper
	recorder events.EventRecorder
	now      func() time.Time
	// skipNameValidation lets a process run the controller more than once
	// (a test restarting the manager).
	skipNameValidation bool
	workers            int
}

// Option configures a Reconciler.
type Option func(*Reconciler)

// WithClock replaces the wall clock (tests of soak times and pins).
func WithClock(now func() time.Time) Option { return func(r *Reconciler) { r.now = now } }

// WithRestarts allows another manager in the same process to run the
// controller again, as a test restarting "the controller" does.
func WithRestarts() Option { return func(r *Reconciler) { r.skipNameValidation = true } }

// WithConcurrency sets how many variants reconcile at once; one variant
// is never reconciled twice at the same time.
func WithConcurrency(workers int) Option { return func(r *Reconciler) { r.workers = workers } }

// WithUpstreamCache keeps the upstream clones in cache (default: a
// directory under the system's temporary directory).
func WithUpstreamCache(cache *upstream.Cache) Option { return func(r *Reconciler) { r.git = cache } }

// WithPorchSupport states on every variant what support holds when the
// manager cannot read Porch (the manager's manager.Options.Porch).
func WithPorchSupport(support *porch.Support) Option {
	return func(r *Reconciler) { r.porch = support }
}

// NewReconciler builds a reconciler on the manager's clients.
func NewReconciler(mgr ctrl.Manager, opts ...Option) *Reconciler {
	r := &Reconciler{
		client:    mgr.GetClient(),
		reader:    mgr.GetAPIReader(),
		revisions: porch.Revisions{Client: mgr.GetClient(), Fresh: mgr.GetAPIReader()},
		approvals: &approvals{},
		echoes:    &echoes{},
		upstreams: newContentCache(64 << 20),
		diagnosed: lru.New(256),
		merging:   semaphore.NewWeighted(mergeBudget),
		writing:   semaphore.NewWeighted(writeBudget),
		mapper:    mgr.GetRESTMapper(),
		recorder:  mgr.GetEventRecorder("forkline-packagevariant"),
		repos:     &porch.Readiness{},
		now:       time.Now,
	}
	for _, o := range opts {
		o(r)
	}
	if r.git == nil {
		// A directory of its own: two managers in one process (a test)
		// never write one clone.
		dir, err := os.MkdirTemp("", "forkline-upstream-")
		if err != nil {
			dir = filepath.Join(os.TempDir(), "forkline-upstream")
		}
		r.git = upstream.NewCache(dir)
	}
	return r
}

// SetupWithManager registers the controller and its indexes.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := SetupIndexes(ctx, mgr); err != nil {
		return err
	}
	if r.porch != nil {
		// Not a runnable of the manager: the manager starts those only once
		// its caches synced, which on such a Porch they never do.
		go func() { _ = unsupportedPorch{r: r, support: r.porch, every: 5 * time.Second}.Start(ctx) }()
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.PackageVariant{}, builder.WithPredicates(r.echoes.statusEcho())).
		Watches(&porchv1alpha1.PackageRevision{}, r.revisionEvents()).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.variantsInjecting)).
		// A Repository registered, removed, re-pointed or turning Ready:
		// a variant waiting on it goes on without polling.
		Watches(&configapi.Repository{}, handler.EnqueueRequestsFromMapFunc(r.variantsOfRepository), builder.WithPredicates(repositoryChanged(r.repos))).
		// Its spec only: the policy's status board changes all the time.
		Watches(&v1.UpstreamPolicy{}, handler.EnqueueRequestsFromMapFunc(r.variantsOfPolicy), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("packagevariant").
		WithOptions(controller.Options{SkipNameValidation: &r.skipNameValidation, MaxConcurrentReconciles: r.workers}).
		Complete(r)
}

// +kubebuilder:rbac:groups=forkline.dev,resources=packagevariants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=forkline.dev,resources=packagevariants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=forkline.dev,resources=packagevariants/finalizers,verbs=update
// +kubebuilder:rbac:groups=porch.kpt.dev,resources=packagerevisions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=porch.kpt.dev,resources=packagerevisionresources,verbs=get;update;patch
// +kubebuilder:rbac:groups=porch.kpt.dev,resources=packagerevisions/approval,verbs=get;update;patch
// +kubebuilder:rbac:groups=forkline.dev,resources=upstreampolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=config.porch.kpt.dev,resources=repositories,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch

// Reconcile moves one variant a step towards its target.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	pv := &v1.PackageVariant{}
	if err := r.client.Get(ctx, req.NamespacedName, pv); err != nil {
		if apierrors.IsNotFound(err) {
			r.echoes.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log.FromContext(ctx).V(1).Info("reconciling", "resourceVersion", pv.ResourceVersion)
	before := pv.DeepCopy()
	s := &scope{pv: pv, now: r.now(), before: before.Status.Conditions}
	dropDomainConditions(pv)
	defer func() {
		if err == nil {
			pv.Status.ObservedGeneration = pv.Generation
		}
		if s.metadataWritten {
			before.ObjectMeta = *pv.ObjectMeta.DeepCopy()
		}
		summarize(before, pv, s, err, s.now)
		record(pv, s)
		if v := pv.Annotations[v1.AnnotationReconcile]; v != "" {
			pv.Status.LastHandledReconcileAt = v // asked for, and done
		}
		// A phase is told as an Event once its status is written: a
		// reconcile whose status write lost a race is done again, and
		// would tell it twice (two Conflicted Warnings for one conflict).
		recorded := true
		if !equality.Semantic.DeepEqual(before.Status, pv.Status) {
			// Optimistic lock: a reconcile that read a stale variant from
			// the cache must not overwrite what a newer one recorded (the
			// commit forkline wrote, which protects people's edits).
			patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
			r.echoes.writingStatus(pv)
			perr := r.client.Status().Patch(ctx, pv, patch)
			if perr != nil {
				r.echoes.statusUnknown(pv)
				recorded = false
			}
			switch {
			case perr == nil:
				for _, f := range s.onRecorded {
					f()
				}
			case apierrors.IsNotFound(perr):
				r.echoes.forget(req.NamespacedName)
			case apierrors.IsConflict(perr):
				result, err = ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
			default:
				err = fmt.Errorf("patching status: %w", perr)
			}
		}
		if recorded {
			r.emitPhaseEvent(before, pv)
		}
	}()

	if !pv.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, s)
	}
	if !controllerutil.ContainsFinalizer(pv, Finalizer) {
		patch := client.MergeFrom(pv.DeepCopy())
		controllerutil.AddFinalizer(pv, Finalizer)
		if err := r.client.Patch(ctx, pv, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		s.metadataWritten = true
	}
	if pv.Spec.Suspend {
		s.end(status.Waiting, "Suspended", "spec.suspend is true: nothing is created, proposed or approved; set it to false to go on")
		return ctrl.Result{}, nil
	}

	// Each step is in the file its name gives (validate.go, resolve.go,
	// finddraft.go, readdraft.go, mergedraft.go, settings.go, conflicts.go,
	// render.go, propose.go); draft I/O is draftio.go's.
	for _, step := range []func(context.Context, *scope) (ctrl.Result, error){
		r.validate,
		r.resolve,
		r.checkUpstream,
		r.findDraft,
		r.readDraft,
		r.mergeDraft,
		r.applySettings,
		r.checkConflicts,
		r.checkRender,
		r.checkGates,
		r.propose,
	} {
		res, err := step(ctx, s)
		if s.requeue > 0 && res.RequeueAfter == 0 {
			res.RequeueAfter = s.requeue
		}
		if err != nil || s.done {
			if rerr := r.recordWritten(ctx, s); rerr != nil && err == nil {
				err = rerr
			}
			if err != nil {
				log.FromContext(ctx).Error(err, "reconcile step failed", "variant", req.NamespacedName)
			}
			return res, err
		}
	}
	return ctrl.Result{}, r.recordWritten(ctx, s)
}
