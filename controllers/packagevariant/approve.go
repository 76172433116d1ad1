package packagevariant

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/approval"
	"github.com/forkline/forkline/internal/fanout"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/review"
)

// awaitApproval handles a proposal. With Manual approval it waits for a
// person (Proposed, AwaitingApproval). With Automatic approval forkline
// approves it when every gate holds; otherwise it says which gate blocks
// (AwaitingApproval's reason) and looks again when that gate can open.
func (r *Reconciler) awaitApproval(ctx context.Context, s *scope, draft *porchv1alpha1.PackageRevision) (ctrl.Result, error) {
	s.done = true
	// A proposal is not checked for conflicts again: what the reconcile
	// that checked it found still stands.
	keepCondition(s, v1.ConditionConflicted)
	how := fmt.Sprintf("approve it with: porchctl rpkg approve %s -n %s", draft.Name, draft.Namespace)
	proposed := fmt.Sprintf("draft %s (upstream %s) is proposed", draft.Name, s.selection.Target.Revision)
	if st := s.pv.Status.Sync; st != nil && st.Changes != nil && st.Changes.Summary != "" {
		proposed += ": " + st.Changes.Summary
	}
	if restore := draft.Annotations[v1.AnnotationRollbackOf]; restore != "" {
		proposed = fmt.Sprintf("draft %s rolls back to upstream %s, restoring %s exactly; it is proposed", draft.Name, s.selection.Target.Revision, restore)
	}
	if s.pv.Spec.EffectiveApprovalMode() != v1.AutomaticApproval {
		msg := proposed + "; " + how
		setPhase(s, v1.PhaseProposed, msg)
		setCondition(s.pv, v1.ConditionAwaitingApproval, true, "Proposed", msg)
		return ctrl.Result{}, nil
	}
	// What the release changes that a person approves: read before the
	// decision lock (an upstream read), decided under it.
	requires, err := r.requiresPerson(ctx, s, draft)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Rate limits count approvals across a policy's variants, which
	// reconcile in parallel: one decision at a time, so two variants never
	// both take the last approval of the hour.
	r.approvals.deciding.Lock()
	defer r.approvals.deciding.Unlock()
	// Decided as of now, not as of the reconcile's start: an approval made
	// while this one waited for the lock is in the past, not the future.
	s.now = r.now()
	in, err := r.gates(ctx, s, draft)
	if err != nil {
		return ctrl.Result{}, err
	}
	in.RequiresPerson = requires
	if draft.Annotations[v1.AnnotationRollbackOf] != "" {
		// A rollback goes at once: no window, no rate limit, no soak; a
		// person's hold and a person's edit still stop it.
		in.Windows, in.MaxPerHour, in.PolicyMax, in.Soaking = nil, 0, 0, ""
		if isForklineHold(s.pv.Annotations[v1.AnnotationHold]) && draft.Annotations[v1.AnnotationHold] == "" {
			in.Held = ""
		}
	}
	d := approval.Decide(in, s.now)
	if st := s.pv.Status.Sync; d.Gate == approval.Held && st != nil && (st.Hold == nil || st.Hold.Reason != in.Held) {
		st.Hold = &v1.HoldRecord{Reason: in.Held, Since: metav1.NewTime(s.now)}
	}
	if !d.Approve {
		msg := fmt.Sprintf("%s; automatic approval waits: %s (or %s)", proposed, d.Message, how)
		setPhase(s, v1.PhaseProposed, msg)
		setCondition(s.pv, v1.ConditionAwaitingApproval, true, string(d.Gate), msg)
		r.event(s.pv, corev1.EventTypeNormal, "ApprovalWaiting", "%s: %s", draft.Name, d.Message)
		if d.RetryAt.IsZero() {
			return ctrl.Result{}, nil // a person's action or a new event opens it
		}
		return ctrl.Result{RequeueAfter: d.RetryAt.Sub(s.now) + time.Second}, nil
	}
	// Published only at the commit just judged clean.
	// and only while no person holds it.
	err = r.revisions.Approve(ctx, draft, draft.ResourceVersion, v1.AnnotationHold, func(pr *porchv1alpha1.PackageRevision) {
		if pr.Annotations == nil {
			pr.Annotations = map[string]string{}
		}
		pr.Annotations[v1.AnnotationApprovedAt] = s.now.UTC().Format(time.RFC3339)
	})
	if errors.Is(err, porch.ErrAnnotated) {
		// Held the moment forkline approved: the hold stands, read again.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("approving %s: %w", draft.Name, err)
	}
	r.approvals.add(draft.Namespace+"/"+draft.Name, packageKey(draft.Spec.RepositoryName, draft.Spec.PackageName), s.now)
	log.FromContext(ctx).Info("approved", "draft", draft.Name, "target", s.selection.Target.Revision)
	r.event(s.pv, corev1.EventTypeNormal, "Approved", "forkline approved %s (upstream %s): every gate of automatic approval held", draft.Name, s.selection.Target.Revision)
	setPhase(s, v1.PhaseProposed, proposed+"; approved by forkline, publishing")
	return ctrl.Result{RequeueAfter: time.Second}, nil
}

// gates gathers what automatic approval looks at.
func (r *Reconciler) gates(ctx context.Context, s *scope, draft *porchv1alpha1.PackageRevision) (approval.Input, error) {
	pv := s.pv
	var in approval.Input
	for _, on := range []struct {
		what        string
		annotations map[string]string
	}{{"PackageVariant " + pv.Name, pv.Annotations}, {"draft " + draft.Name, r.draftAnnotations(ctx, draft)}} {
		if reason, ok := on.annotations[v1.AnnotationHold]; ok {
			if reason == "" {
				reason = "no reason given"
			}
			in.Held = fmt.Sprintf("%s (%s on %s)", reason, v1.AnnotationHold, on.what)
		}
	}
	if s.soak.watching(s.now) {
		in.Soaking = s.soak.waitingFor(pv)
		in.SoakRetry = s.soak.until
		if !s.now.Before(s.soak.until) {
			in.SoakRetry = s.now.Add(healthCheckInterval)
		}
	}
	in.Unclean = r.unclean(s, draft)
	in.UpstreamMoved = strings.Join(s.moved, "; ")
	in.ChangedByPerson = draft.Annotations[v1.AnnotationChangedByPerson]
	if editedSince(draft) {
		same, err := r.holdsWhatForklineWrote(ctx, draft)
		if err != nil {
			return in, err
		}
		if !same {
			in.ChangedByPerson = fmt.Sprintf("the proposal moved from commit %s, which forkline proposed, to %s", short(draft.Annotations[v1.AnnotationCommit]), short(draft.ResourceVersion))
		}
	}
	for _, w := range pv.Spec.Approval.Windows {
		days := make([]string, len(w.Days))
		for i, d := range w.Days {
			days[i] = string(d)
		}
		parsed, err := approval.ParseWindow(days, w.Start, w.End, w.TimeZone)
		if err != nil {
			return in, fmt.Errorf("approval window: %w", err)
		}
		in.Windows = append(in.Windows, parsed)
	}
	if m := pv.Spec.Approval.MaxPublishesPerHour; m != nil {
		in.MaxPerHour = int(*m)
		own := map[string]bool{packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage()): true}
		in.Recent = r.approvals.with(approvedAt(s.downstream), own, s.now)
	}
	if name := pv.Labels[fanout.PolicyLabel]; name != "" {
		p := &v1.UpstreamPolicy{}
		switch err := r.client.Get(ctx, client.ObjectKey{Namespace: pv.Namespace, Name: name}, p); {
		case apierrors.IsNotFound(err):
		case err != nil:
			return in, fmt.Errorf("reading UpstreamPolicy %q: %w", name, err)
		case p.Spec.Rollout != nil && p.Spec.Rollout.MaxPublishesPerHour != nil:
			in.Policy, in.PolicyMax = name, int(*p.Spec.Rollout.MaxPublishesPerHour)
			recent, packages, err := r.policyApprovals(ctx, pv.Namespace, name)
			if err != nil {
				return in, err
			}
			in.PolicyRecent = r.approvals.with(recent, packages, s.now)
		}
	}
	return in, nil
}

// draftAnnotations are the draft's annotations as read, with those the
// cache has that the read lacks: Porch v1.5 can answer a read without an
// annotation a person has just set (its metadata store behind its
// cache), and the watch event that told of the hold is in the cache.
func (r *Reconciler) draftAnnotations(ctx context.Context, draft *porchv1alpha1.PackageRevision) map[string]string {
	cached := &porchv1alpha1.PackageRevision{}
	if err := r.client.Get(ctx, client.ObjectKeyFromObject(draft), cached); err != nil || cached.ResourceVersion != draft.ResourceVersion {
		return draft.Annotations
	}
	out := maps.Clone(cached.Annotations)
	maps.Copy(out, draft.Annotations)
	return out
}

// unclean says why forkline may not approve a proposal by itself: a render
// error, a readiness gate not True (unresolved conflicts among them: the
// gate, which a person sets when they resolve them, is the truth, not a
// count forkline took before). Empty when clean. A person's content is
// not unclean but theirs: gates says so (ChangedByPerson).
func (r *Reconciler) unclean(s *scope, draft *porchv1alpha1.PackageRevision) string {
	if st := s.pv.Status.Sync; st != nil {
		if strings.HasPrefix(st.RenderStatus, renderFailed) || strings.Contains(st.RenderStatus, "error(s)") {
			return "rendering reported errors: " + st.RenderStatus
		}
	}
	for _, g := range draft.Spec.ReadinessGates {
		if st, _ := gateStatus(draft, g.ConditionType); st != porchv1alpha1.ConditionTrue {
			return fmt.Sprintf("readiness gate %s is not True", g.ConditionType)
		}
	}
	return ""
}

// approvedAt are the times forkline approved published revisions, as their
// annotations record them, by revision.
func approvedAt(prs []porchv1alpha1.PackageRevision) map[string]time.Time {
	out := map[string]time.Time{}
	for i := range prs {
		if at, err := time.Parse(time.RFC3339, prs[i].Annotations[v1.AnnotationApprovedAt]); err == nil {
			out[prs[i].Namespace+"/"+prs[i].Name] = at
		}
	}
	return out
}

// approvals remembers this process's own approvals of the last hour, for
// the moment before the cache shows them: the next variant's reconcile may
// come first, and a budget must not be overrun by that lag.
type approvals struct {
	// deciding serializes automatic approval decisions.
	deciding sync.Mutex
	mu       sync.Mutex
	at       map[string]approved // by revision namespace/name
}

type approved struct {
	pkg string // packageKey of the revision
	at  time.Time
}

func (a *approvals) add(revision, pkg string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at == nil {
		a.at = map[string]approved{}
	}
	a.at[revision] = approved{pkg: pkg, at: at}
}

// with is seen (approvals the cache shows, by revision) plus those this
// process made in the packages given that the cache does not show yet.
func (a *approvals) with(seen map[string]time.Time, packages map[string]bool, now time.Time) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]time.Time, 0, len(seen))
	for _, t := range seen {
		out = append(out, t)
	}
	for revision, ap := range a.at {
		if now.Sub(ap.at) > time.Hour {
			delete(a.at, revision)
			continue
		}
		if _, ok := seen[revision]; !ok && packages[ap.pkg] {
			out = append(out, ap.at)
		}
	}
	return out
}

// policyApprovals are forkline's approvals across a policy's variants,
// read from the cache (the variants by the policy's label, their revisions
// by the package index), and the variants' packages.
func (r *Reconciler) policyApprovals(ctx context.Context, ns, policy string) (map[string]time.Time, map[string]bool, error) {
	var siblings v1.PackageVariantList
	if err := r.client.List(ctx, &siblings, client.InNamespace(ns), client.MatchingLabels{fanout.PolicyLabel: policy}); err != nil {
		return nil, nil, fmt.Errorf("listing the variants of policy %q: %w", policy, err)
	}
	out, packages := map[string]time.Time{}, map[string]bool{}
	for _, sib := range siblings.Items {
		pkg := packageKey(sib.Spec.Downstream.Repo, sib.Spec.DownstreamPackage())
		packages[pkg] = true
		var prs porchv1alpha1.PackageRevisionList
		if err := r.client.List(ctx, &prs, client.InNamespace(ns), client.MatchingFields{indexPackage: pkg}); err != nil {
			return nil, nil, fmt.Errorf("listing revisions of %s: %w", sib.Name, err)
		}
		maps.Copy(out, approvedAt(prs.Items))
	}
	return out, packages, nil
}

// requiresPerson lists what the proposed upstream release changes, since
// the release the branch is on, of the kinds the variant's
// approval.requirePersonFor names; empty for a rollback (content published
// before) and when the list is empty.
func (r *Reconciler) requiresPerson(ctx context.Context, s *scope, draft *porchv1alpha1.PackageRevision) (string, error) {
	classes := s.pv.Spec.Approval.EffectiveRequirePersonFor()
	if len(classes) == 0 || draft.Annotations[v1.AnnotationRollbackOf] != "" {
		return "", nil
	}
	target, err := r.upstreamResources(ctx, s, s.selection.Target.Name)
	if err != nil {
		return "", err
	}
	base, err := r.baseResources(ctx, s)
	if err != nil {
		return "", err
	}
	changes, err := review.Classify(base, target, classes, r.scope)
	if err != nil {
		return "", fmt.Errorf("classifying upstream %s's changes: %w", s.selection.Target.Revision, err)
	}
	what := make([]string, len(changes))
	for i, c := range changes {
		what[i] = c.What
	}
	return strings.Join(what, "; "), nil
}

// scope asks the cluster whether a kind is cluster-scoped.
func (r *Reconciler) scope(apiVersion, kind string) (clusterScoped, known bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || r.mapper == nil {
		return false, false
	}
	m, err := r.mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	if err != nil {
		return false, false
	}
	return m.Scope.Name() == meta.RESTScopeNameRoot, true
}

// holdsWhatForklineWrote says whether a proposal whose commit moved since
// forkline proposed it still holds, file for file, what forkline wrote:
// Porch v1.4+ commits lifecycle changes on its own, and a commit of
// Porch's is no person's content. Judged by the files as Porch holds them
// now: the approval is then held to the draft's commit, so content that
// moves after this read is never approved unseen.
func (r *Reconciler) holdsWhatForklineWrote(ctx context.Context, draft *porchv1alpha1.PackageRevision) (bool, error) {
	written := draft.Annotations[v1.AnnotationWrittenFiles]
	if written == "" || draft.Annotations[v1.AnnotationChangedByPerson] != "" {
		return false, nil
	}
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(draft), prr); err != nil {
		return false, fmt.Errorf("reading proposal %s: %w", draft.Name, err)
	}
	files, known := porch.PersonFiles(written, "", prr.Spec.Resources)
	return known && len(files) == 0, nil
}
