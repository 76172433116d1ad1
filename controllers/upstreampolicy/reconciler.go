// Package upstreampolicy reconciles UpstreamPolicies: it keeps one
// PackageVariant per downstream branch the policy names, writing only what
// changed, and shows every branch in one status board.
package upstreampolicy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/controllers/packagevariant"
	"github.com/forkline/forkline/internal/fanout"
	"github.com/forkline/forkline/internal/status"
)

// objectResync is a safety net for policies with an objectSelector; the
// selected kinds are watched as well.
const objectResync = 10 * time.Minute

const indexOwner = "forkline.owner"

// Reconciler reconciles UpstreamPolicies.
type Reconciler struct {
	client             client.Client
	reader             client.Reader // uncached: probing a selected kind
	cache              cache.Cache
	recorder           events.EventRecorder
	skipNameValidation bool
	workers            int

	// The kinds objectSelector targets select are watched once seen.
	controller controller.Controller
	watchedMu  sync.Mutex
	watched    map[schema.GroupVersionKind]bool

	boards boardWrites
}

// Option configures a Reconciler.
type Option func(*Reconciler)

// WithRestarts allows a second manager in the same process.
func WithRestarts() Option { return func(r *Reconciler) { r.skipNameValidation = true } }

// WithConcurrency sets how many policies reconcile at once.
func WithConcurrency(workers int) Option { return func(r *Reconciler) { r.workers = workers } }

// NewReconciler builds a reconciler on the manager's client.
func NewReconciler(mgr ctrl.Manager, opts ...Option) *Reconciler {
	r := &Reconciler{client: mgr.GetClient(), reader: mgr.GetAPIReader(), cache: mgr.GetCache(), recorder: mgr.GetEventRecorder("forkline-upstreampolicy"), watched: map[schema.GroupVersionKind]bool{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// SetupWithManager registers the controller, its owner index and watches.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.PackageVariant{}, indexOwner, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "UpstreamPolicy" {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	c, err := ctrl.NewControllerManagedBy(mgr).
		For(&v1.UpstreamPolicy{}).
		// A variant's status changes feed the board, gathered for a second:
		// a release fanning out to N variants rewrites it about once a
		// second, not N times.
		Watches(&v1.PackageVariant{}, boardFeed{}).
		Watches(&configapi.Repository{}, handler.EnqueueRequestsFromMapFunc(r.policiesSelecting)).
		Named("upstreampolicy").
		WithOptions(controller.Options{SkipNameValidation: &r.skipNameValidation, MaxConcurrentReconciles: r.workers}).
		Build(r)
	r.controller = c
	return err
}

// watchSelected starts watching a kind an objectSelector names, so a new or
// relabelled object updates its policy without waiting for a resync.
// A kind forkline may not list is a spec error, found by one uncached list
// first: an informer on it would retry its 403s forever.
func (r *Reconciler) watchSelected(ctx context.Context, gvk schema.GroupVersionKind) error {
	r.watchedMu.Lock()
	defer r.watchedMu.Unlock()
	if r.watched[gvk] || r.controller == nil {
		return nil
	}
	probe := &unstructured.UnstructuredList{}
	probe.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.reader.List(ctx, probe, client.Limit(1)); err != nil {
		if apierrors.IsForbidden(err) {
			return &specError{"KindForbidden", fmt.Errorf("forkline may not list %s %s (%w); grant its ClusterRole get/list/watch on that kind, or select another", gvk.GroupVersion(), gvk.Kind, err)}
		}
		return err
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	if err := r.controller.Watch(source.Kind[client.Object](r.cache, obj, handler.EnqueueRequestsFromMapFunc(r.policiesSelectingKind(gvk)))); err != nil {
		return err
	}
	r.watched[gvk] = true
	return nil
}

// policiesSelectingKind maps an object event to the policies in its
// namespace with an objectSelector on its kind.
func (r *Reconciler) policiesSelectingKind(gvk schema.GroupVersionKind) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		return r.policiesWithTarget(ctx, o.GetNamespace(), func(t v1.Target) bool {
			os := t.ObjectSelector
			return os != nil && schema.FromAPIVersionAndKind(os.APIVersion, os.Kind) == gvk
		})
	}
}

// policiesWithTarget lists the policies of a namespace, from the cache, with
// a target that matches.
func (r *Reconciler) policiesWithTarget(ctx context.Context, ns string, match func(v1.Target) bool) []reconcile.Request {
	var list v1.UpstreamPolicyList
	if err := r.client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, p := range list.Items {
		if slices.ContainsFunc(p.Spec.Targets, match) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
		}
	}
	return reqs
}

// +kubebuilder:rbac:groups=forkline.dev,resources=upstreampolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=forkline.dev,resources=upstreampolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=forkline.dev,resources=upstreampolicies/finalizers,verbs=update
// +kubebuilder:rbac:groups=forkline.dev,resources=packagevariants,verbs=get;list;watch;create;update;patch;delete

// Reconcile makes the policy's variants match its targets.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	p := &v1.UpstreamPolicy{}
	if err := r.client.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // owner references delete the variants
	}
	before := p.DeepCopy()
	var outcome status.Result
	defer func() {
		if err == nil {
			p.Status.ObservedGeneration = p.Generation
		}
		status.Conclude(&p.Status.Conditions, before.Status.Conditions, p.Generation, outcome, err, time.Now())
		asked := p.Annotations[v1.AnnotationReconcile]
		if asked != "" {
			p.Status.LastHandledReconcileAt = asked
		}
		if equality.Semantic.DeepEqual(before.Status, p.Status) {
			return
		}
		// The board alone is written at most once a second; a spec change
		// and a reconcile asked for are acknowledged at once.
		if wait := r.boards.wait(req.NamespacedName, time.Now()); wait > 0 && p.Generation == before.Status.ObservedGeneration && asked == before.Status.LastHandledReconcileAt {
			if result.RequeueAfter == 0 || result.RequeueAfter > wait {
				result.RequeueAfter = wait
			}
			return
		}
		if perr := r.client.Status().Patch(ctx, p, client.MergeFrom(before)); perr != nil && !apierrors.IsNotFound(perr) {
			err = fmt.Errorf("patching status: %w", perr)
			return
		}
		r.boards.wrote(req.NamespacedName, time.Now())
	}()

	inputs, err := r.inputs(ctx, p)
	var bad *specError
	switch {
	case errors.As(err, &bad):
		// A person must fix the spec (or grant forkline the kind); an RBAC
		// grant sends no event, so look again now and then.
		outcome = status.Result{Outcome: status.Stalled, Reason: bad.reason, Message: bad.Error()}
		return ctrl.Result{RequeueAfter: 5 * time.Minute}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	desired, problems := fanout.Expand(p, inputs)

	var owned v1.PackageVariantList
	if err := r.client.List(ctx, &owned, client.InNamespace(p.Namespace), client.MatchingFields{indexOwner: p.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the policy's variants: %w", err)
	}
	existing := map[string]*v1.PackageVariant{}
	for i := range owned.Items {
		existing[owned.Items[i].Name] = &owned.Items[i]
	}

	var rows []v1.TargetStatus
	ready, taken := 0, false
	for _, d := range desired {
		pv, err := r.apply(ctx, p, d, existing[d.Name])
		var nameErr *nameTaken
		if errors.As(err, &nameErr) {
			taken = true
			// Only a person can free the name: Stalled, not retried.
			problems = append(problems, fanout.Problem{Target: d.Target, Repo: d.Spec.Downstream.Repo, Package: d.Spec.DownstreamPackage(), Track: d.Spec.Upstream.Versions, Variant: d.Name, Message: nameErr.Error()})
			continue
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		delete(existing, d.Name)
		row := rowFor(pv, d)
		if row.Ready {
			ready++
		}
		rows = append(rows, row)
	}
	// Variants no target wants: deleted only when their target really went
	// away, and then their deletion policy protects what they published.
	orphans := make([]v1.PackageVariant, 0, len(existing))
	for _, pv := range existing {
		orphans = append(orphans, *pv)
	}
	kept := fanout.Retain(p, inputs, problems, orphans)
	// Every variant the board shows counts, those kept for a target with a
	// problem too: "0/1 up to date, 2 proposed" would not add up.
	total := len(desired)
	shown := map[string]bool{}
	for i := range orphans {
		pv := &orphans[i]
		if reason, ok := kept[pv.Name]; ok {
			row := rowFor(pv, fanout.Variant{Spec: pv.Spec})
			row.Ready, row.Message = false, reason
			rows = append(rows, row)
			total++
			shown[pv.Name], shown[pv.Annotations[fanout.SourceAnnotation]] = true, true
			continue
		}
		if err := r.client.Delete(ctx, pv); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("deleting variant %s: %w", pv.Name, err)
		}
		r.recorder.Eventf(p, nil, "Normal", "VariantDeleted", "VariantDeleted", "variant %s's target went away", pv.Name)
	}
	for _, pr := range problems {
		if (pr.Variant != "" && shown[pr.Variant]) || (pr.Source != "" && shown[pr.Source]) {
			continue // the kept variant's row says it
		}
		rows = append(rows, v1.TargetStatus{Repo: pr.Repo, Package: pr.Package, Track: pr.Track, Message: fmt.Sprintf("target %d: %s", pr.Target, pr.Message)})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Repo < rows[j].Repo })
	p.Status.Targets = rows
	p.Status.Variants = fmt.Sprintf("%d/%d", ready, total)
	outcome = summary(p, rows, total, ready, problems)

	if hasObjectSelector(p) {
		return ctrl.Result{RequeueAfter: objectResync}, nil
	}
	if taken {
		// The object holding the name is not the policy's: no event of
		// it reaches the policy when a person deletes it.
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	return ctrl.Result{}, nil
}

// apply creates or updates one variant, writing only when its desired
// spec, labels or owner changed.
func (r *Reconciler) apply(ctx context.Context, p *v1.UpstreamPolicy, d fanout.Variant, pv *v1.PackageVariant) (*v1.PackageVariant, error) {
	if pv == nil {
		pv = &v1.PackageVariant{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: d.Name, Labels: variantLabels(p, nil),
			// Set here rather than by the variant's first reconcile: one
			// write less per variant.
			Finalizers: []string{packagevariant.Finalizer}}}
		pv.Spec = d.Spec
		if d.Source != "" {
			pv.Annotations = map[string]string{fanout.SourceAnnotation: d.Source}
		}
		if err := controllerutil.SetControllerReference(p, pv, r.client.Scheme()); err != nil {
			return nil, err
		}
		err := r.client.Create(ctx, pv)
		if err == nil {
			r.recorder.Eventf(p, nil, "Normal", "VariantCreated", "VariantCreated", "variant %s for repository %s", d.Name, d.Spec.Downstream.Repo)
			return pv, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating variant %s: %w", d.Name, err)
		}
		// The cache does not show it: the policy just moved to this shard
		// and its variant still carries the old shard's label.
		existing := &v1.PackageVariant{}
		if gerr := r.reader.Get(ctx, client.ObjectKeyFromObject(pv), existing); gerr != nil {
			return nil, fmt.Errorf("creating variant %s: %w", d.Name, err)
		}
		if !metav1.IsControlledBy(existing, p) {
			return nil, &nameTaken{variant: d.Name, owner: ownerOf(existing)}
		}
		pv = existing
	}
	wantLabels := variantLabels(p, pv.Labels)
	if equality.Semantic.DeepEqual(pv.Spec, d.Spec) && maps.Equal(pv.Labels, wantLabels) && pv.Annotations[fanout.SourceAnnotation] == d.Source {
		return pv, nil // nothing to write
	}
	patch := client.MergeFrom(pv.DeepCopy())
	pv.Spec = d.Spec
	pv.Labels = wantLabels
	if d.Source != "" {
		if pv.Annotations == nil {
			pv.Annotations = map[string]string{}
		}
		pv.Annotations[fanout.SourceAnnotation] = d.Source
	}
	if err := r.client.Patch(ctx, pv, patch); err != nil {
		return nil, fmt.Errorf("updating variant %s: %w", d.Name, err)
	}
	return pv, nil
}

// variantLabels are a variant's labels as the policy wants them: the
// policy's name, and the policy's shard (none when the policy has none);
// labels a person set are kept.
func variantLabels(p *v1.UpstreamPolicy, have map[string]string) map[string]string {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	out[fanout.PolicyLabel] = p.Name
	if shard, ok := p.Labels[v1.LabelShard]; ok {
		out[v1.LabelShard] = shard
	} else {
		delete(out, v1.LabelShard)
	}
	return out
}

// inputs reads what the policy's selectors match, through the cache.
func (r *Reconciler) inputs(ctx context.Context, p *v1.UpstreamPolicy) (fanout.Inputs, error) {
	in := fanout.Inputs{Repositories: map[string]bool{}, Selected: map[int][]fanout.Repository{}, Objects: map[int][]unstructured.Unstructured{}}
	var repos configapi.RepositoryList
	if err := r.client.List(ctx, &repos, client.InNamespace(p.Namespace)); err != nil {
		return in, fmt.Errorf("listing Repositories: %w", err)
	}
	for _, repo := range repos.Items {
		in.Repositories[repo.Name] = true
	}
	for ti, t := range p.Spec.Targets {
		switch {
		case t.RepositorySelector != nil:
			sel, err := metav1.LabelSelectorAsSelector(&t.RepositorySelector.Selector)
			if err != nil {
				return in, &specError{"InvalidSelector", fmt.Errorf("targets[%d].repositorySelector: %w", ti, err)}
			}
			for _, repo := range repos.Items {
				if sel.Matches(labels.Set(repo.Labels)) {
					in.Selected[ti] = append(in.Selected[ti], fanout.Repository{Name: repo.Name, Labels: repo.Labels, Annotations: repo.Annotations})
				}
			}
		case t.ObjectSelector != nil:
			os := t.ObjectSelector
			sel, err := metav1.LabelSelectorAsSelector(&os.Selector)
			if err != nil {
				return in, &specError{"InvalidSelector", fmt.Errorf("targets[%d].objectSelector: %w", ti, err)}
			}
			gvk := schema.FromAPIVersionAndKind(os.APIVersion, os.Kind)
			if _, err := r.client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				if meta.IsNoMatchError(err) {
					return in, &specError{"UnknownKind", fmt.Errorf("targets[%d].objectSelector: the cluster serves no kind %s in %s; fix apiVersion/kind", ti, os.Kind, os.APIVersion)}
				}
				return in, fmt.Errorf("targets[%d]: looking up %s %s: %w", ti, os.APIVersion, os.Kind, err)
			}
			if err := r.watchSelected(ctx, gvk); err != nil {
				var bad *specError
				if errors.As(err, &bad) {
					bad.err = fmt.Errorf("targets[%d].objectSelector: %w", ti, bad.err)
					return in, bad
				}
				return in, fmt.Errorf("targets[%d]: watching %s %s: %w", ti, os.APIVersion, os.Kind, err)
			}
			// From the informer watchSelected started: the manager's client
			// reads unstructured objects from the API server, a LIST a
			// reconcile (450 during a 1,000-branch fan-out).
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(schema.FromAPIVersionAndKind(os.APIVersion, os.Kind+"List"))
			if err := r.cache.List(ctx, list, client.InNamespace(p.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
				return in, fmt.Errorf("targets[%d]: listing %s %s: %w", ti, os.APIVersion, os.Kind, err)
			}
			in.Objects[ti] = list.Items
		}
	}
	return in, nil
}

// policiesSelecting maps a Repository event to the policies in its
// namespace that select repositories by label or name it explicitly.
func (r *Reconciler) policiesSelecting(ctx context.Context, o client.Object) []reconcile.Request {
	return r.policiesWithTarget(ctx, o.GetNamespace(), func(t v1.Target) bool {
		return t.RepositorySelector != nil || len(t.Repositories) > 0
	})
}

func hasObjectSelector(p *v1.UpstreamPolicy) bool {
	for _, t := range p.Spec.Targets {
		if t.ObjectSelector != nil {
			return true
		}
	}
	return false
}

// rowFor is one line of the status board.
func rowFor(pv *v1.PackageVariant, d fanout.Variant) v1.TargetStatus {
	track := d.Spec.Upstream.Versions
	if track == "" {
		track = d.Spec.Upstream.Revision
	}
	row := v1.TargetStatus{Variant: pv.Name, Repo: d.Spec.Downstream.Repo, Package: d.Spec.DownstreamPackage(), Track: track}
	if u := pv.Status.Upstream; u != nil {
		row.Current, row.Target = u.Current, u.Target
	}
	if s := pv.Status.Sync; s != nil {
		row.Phase, row.Draft = s.Phase, s.Draft
		if s.RenderStatus != "OK" {
			row.Findings = s.RenderStatus
		}
	}
	row.Ready = meta.IsStatusConditionTrue(pv.Status.Conditions, v1.ConditionUpToDate)
	if c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionAwaitingApproval); c != nil && c.Status == metav1.ConditionTrue {
		row.Waiting = c.Reason
	}
	switch c := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionReady); {
	case c == nil:
		row.Message = "not reconciled yet"
	case !row.Ready:
		row.Message = c.Message // what the person must do, or what forkline does
	}
	return row
}

// summary is how the policy stands: Stalled while a target has a problem
// a person must fix, else settled once its own writes are done, whatever
// its variants wait on (the board says what).
func summary(p *v1.UpstreamPolicy, rows []v1.TargetStatus, total, upToDate int, problems []fanout.Problem) status.Result {
	var msgs []string
	for _, pr := range problems {
		msgs = append(msgs, fmt.Sprintf("target %d (%s): %s", pr.Target, pr.Repo, pr.Message))
	}
	phases := map[v1.SyncPhase]int{}
	for _, row := range rows {
		if row.Variant != "" && !row.Ready && row.Phase != "" {
			phases[row.Phase]++
		}
	}
	counts := fmt.Sprintf("%d/%d variants up to date", upToDate, total)
	for _, ph := range []v1.SyncPhase{v1.PhaseProposed, v1.PhaseConflicted, v1.PhaseEdited, v1.PhaseDeclined, v1.PhaseFailed, v1.PhaseMerging, v1.PhaseRendering} {
		if n := phases[ph]; n > 0 {
			counts += fmt.Sprintf(", %d %s", n, strings.ToLower(string(ph)))
		}
	}
	switch {
	case len(problems) > 0:
		return status.Result{Outcome: status.Stalled, Reason: "TargetErrors", Message: strings.Join(msgs, "; ") + "; " + counts}
	case p.Spec.Suspend:
		return status.Result{Outcome: status.Waiting, Reason: "Suspended", Message: "spec.suspend is true: every variant is held; " + counts}
	case upToDate == total:
		return status.Result{Outcome: status.Done, Reason: "AllVariantsUpToDate", Message: counts}
	default:
		return status.Result{Outcome: status.Done, Reason: "VariantsApplied", Message: counts + "; see status.targets"}
	}
}

// nameTaken is a variant the policy would make whose name another object
// holds: a hand-made PackageVariant, or another policy's.
type nameTaken struct {
	variant, owner string
}

func (e *nameTaken) Error() string {
	return fmt.Sprintf("PackageVariant %s exists and is not this policy's (%s); delete or rename it, and the policy makes its own", e.variant, e.owner)
}

// ownerOf says who holds a variant: its controller, or nobody (made by
// hand).
func ownerOf(pv *v1.PackageVariant) string {
	if ref := metav1.GetControllerOf(pv); ref != nil {
		return fmt.Sprintf("it belongs to %s %s", ref.Kind, ref.Name)
	}
	return "it was made by hand: it has no owner"
}

// specError is a spec a person must fix: an invalid selector, or a kind
// forkline cannot read.
type specError struct {
	reason string
	err    error
}

func (e *specError) Error() string { return e.err.Error() }
func (e *specError) Unwrap() error { return e.err }
