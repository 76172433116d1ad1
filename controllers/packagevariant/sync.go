package packagevariant

import (
	"context"
	"fmt"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
)

// conflictPoll is how often a conflicted draft is re-read: Porch v1.3.0
// sends no watch event when someone pushes new resources to a draft.
const conflictPoll = 10 * time.Second

// resolve reads the upstream's releases and the downstream's state through
// the cache's indexes and picks the target.
func (r *Reconciler) resolve(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv := s.pv
	var up porchv1alpha1.PackageRevisionList
	if err := r.client.List(ctx, &up, client.InNamespace(pv.Namespace),
		client.MatchingFields{indexPackage: packageKey(pv.Spec.Upstream.Repo, pv.Spec.Upstream.Package)}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing upstream revisions: %w", err)
	}
	var revisions []release.Revision
	for _, pr := range up.Items {
		if pr.Spec.Lifecycle != porchv1alpha1.PackageRevisionLifecyclePublished || pr.Spec.Revision == "" {
			continue
		}
		s.upstream = append(s.upstream, pr)
		revisions = append(revisions, release.Revision{Name: pr.Name, Revision: pr.Spec.Revision, Published: pr.Status.PublishedAt.Time})
	}
	if len(revisions) == 0 {
		stall(s, "UpstreamNotFound", fmt.Sprintf("no published revision of package %q in Repository %q", pv.Spec.Upstream.Package, pv.Spec.Upstream.Repo))
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
	}

	var down porchv1alpha1.PackageRevisionList
	if err := r.client.List(ctx, &down, client.InNamespace(pv.Namespace),
		client.MatchingFields{indexPackage: packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing downstream revisions: %w", err)
	}
	s.downstream = down.Items
	byName(s.downstream)
	s.published = latestPublished(s.downstream)
	s.current = upstreamRevisionOf(s.published)

	sel, err := release.Select(s.track, s.current, revisions, s.now)
	if err != nil {
		stall(s, "InvalidSpec", err.Error())
		return ctrl.Result{}, nil
	}
	s.selection = sel
	r.recordPublished(s)
	st := &v1.UpstreamStatus{Current: s.current, LatestMatching: sel.LatestMatching, Available: sel.Available}
	if sel.Target != nil {
		st.Target = sel.Target.Revision
	}
	pv.Status.Upstream = st

	if s.published != nil && !r.owns(pv, s.downstream) && pv.Spec.EffectiveAdoptionPolicy() == v1.AdoptNone {
		stall(s, "NotAdopted", fmt.Sprintf("package %q already exists in Repository %q and forkline did not create it; set adoptionPolicy: adoptExisting to take it over", pv.Spec.DownstreamPackage(), pv.Spec.Downstream.Repo))
		return ctrl.Result{}, nil
	}
	if sel.Target == nil && s.published != nil && hasMutations(pv) {
		if err := r.detectConfigDrift(ctx, s, revisions); err != nil {
			return ctrl.Result{}, err
		}
		sel = s.selection
		if sel.Target != nil {
			pv.Status.Upstream.Target = sel.Target.Revision
		}
	}
	if sel.Target == nil {
		var res ctrl.Result
		if !sel.RetryAt.IsZero() {
			res.RequeueAfter = sel.RetryAt.Sub(s.now) + time.Second
		}
		msg := fmt.Sprintf("downstream is on upstream %s", s.current)
		switch {
		case sel.Waiting != "":
			msg = sel.Waiting
		case sel.Message != "":
			msg = sel.Message
		}
		if s.current == "" {
			setCondition(pv, v1.ConditionUpToDate, false, "NothingToSync", msg)
			setCondition(pv, v1.ConditionReconciling, false, "Waiting", msg)
		} else {
			setCondition(pv, v1.ConditionUpToDate, true, "UpToDate", msg)
			setCondition(pv, v1.ConditionReconciling, false, "UpToDate", msg)
		}
		setCondition(pv, v1.ConditionConflicted, false, "NoDraft", "")
		setCondition(pv, v1.ConditionAwaitingApproval, false, "NoDraft", "")
		s.done = true
		return res, nil
	}
	if s.configWorkspace != "" {
		setCondition(pv, v1.ConditionUpToDate, false, "ConfigChanged", "the variant's steps or injected config changed since the last published revision")
	} else {
		setCondition(pv, v1.ConditionUpToDate, false, "Behind", fmt.Sprintf("upstream %s is next (downstream on %q)", sel.Target.Revision, s.current))
	}
	return ctrl.Result{}, nil
}

// detectConfigDrift makes the current revision the target again, in a new
// workspace, when the variant's steps or injected config no longer match
// what is published: an injected ConfigMap changed, or the pipeline did.
func (r *Reconciler) detectConfigDrift(ctx context.Context, s *scope, revisions []release.Revision) error {
	published, err := r.resources(ctx, s.pv.Namespace, s.published.Name)
	if err != nil {
		return err
	}
	wanted := copyResources(published)
	if err := r.mutate(ctx, s.pv, wanted); err != nil {
		stall(s, "MutationFailed", err.Error())
		return nil
	}
	if sameResources(wanted, published) {
		return nil
	}
	for i := range revisions {
		if revisions[i].Revision == s.current {
			s.selection.Target = &revisions[i]
			s.configWorkspace = release.Workspace(s.current) + "-config-" + porch.Hash(wanted)[:8]
			return nil
		}
	}
	return nil
}

// owns says whether forkline created the downstream package.
func (r *Reconciler) owns(pv *v1.PackageVariant, downstream []porchv1alpha1.PackageRevision) bool {
	for i := range downstream {
		if metav1.IsControlledBy(&downstream[i], pv) || strings.HasPrefix(string(downstream[i].Spec.WorkspaceName), "forkline-") {
			return true
		}
	}
	return false
}

// recordPublished notes a sync a person approved since the last reconcile.
func (r *Reconciler) recordPublished(s *scope) {
	pv := s.pv
	sync := pv.Status.Sync
	if sync == nil || s.published == nil || s.published.Name != sync.Draft || sync.Phase == v1.PhasePublished {
		return
	}
	now := metav1.NewTime(s.now)
	sync.Phase, sync.FinishedAt, sync.Message = v1.PhasePublished, &now, "published as "+s.published.Spec.Revision
	sync.Conflicts, sync.ConflictCount = nil, 0
	rec := v1.SyncRecord{From: sync.From, To: sync.To, Phase: v1.PhasePublished, Revision: s.published.Spec.Revision, StartedAt: sync.StartedAt, FinishedAt: &now}
	pv.Status.History = append([]v1.SyncRecord{rec}, pv.Status.History...)
	if len(pv.Status.History) > 10 {
		pv.Status.History = pv.Status.History[:10]
	}
}

// syncDraft creates, merges, checks and proposes the target's draft.
func (r *Reconciler) syncDraft(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv, target := s.pv, s.selection.Target
	ws := release.Workspace(target.Revision)
	if s.configWorkspace != "" {
		ws = s.configWorkspace
	}

	// Drafts for an older target: move them if untouched, else wait.
	var draft *porchv1alpha1.PackageRevision
	for i := range s.downstream {
		pr := &s.downstream[i]
		if !isOurDraft(pr) {
			continue
		}
		if string(pr.Spec.WorkspaceName) == ws {
			draft = pr
			continue
		}
		edited, err := r.editedByPerson(ctx, s, pr)
		if err != nil {
			return ctrl.Result{}, err
		}
		if edited {
			setPhase(s, v1.PhaseFailed, fmt.Sprintf("upstream moved to %s, but draft %s was edited by a person; forkline leaves it: publish or delete it to continue", target.Revision, pr.Name))
			pv.Status.Sync.EditedByPerson = true
			s.done = true
			return ctrl.Result{RequeueAfter: conflictPoll}, nil
		}
		if err := r.client.Delete(ctx, pr); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("moving draft %s to %s: %w", pr.Name, target.Revision, err)
		}
		r.event(pv, corev1.EventTypeNormal, "DraftMoved", "draft %s for an older upstream revision, untouched, replaced by one for %s", pr.Name, target.Revision)
	}

	if draft == nil {
		created, err := r.createDraft(ctx, s, ws)
		if apierrors.IsInternalError(err) || apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) {
			// Porch refused the package itself (malformed upstream YAML,
			// no Kptfile): retrying soon will not help, a new release will.
			setPhase(s, v1.PhaseFailed, fmt.Sprintf("Porch could not create the draft for upstream %s: %v; check that revision of the upstream package", target.Revision, err))
			s.done = true
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		draft = created
	}
	// The cache can trail Porch: every write to the draft's resources is a
	// new commit. Decide on a fresh read.
	fresh := &porchv1alpha1.PackageRevision{}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(draft), fresh); err != nil {
		return ctrl.Result{}, fmt.Errorf("reading draft %s: %w", draft.Name, err)
	}
	draft = fresh
	if pv.Status.Sync == nil || pv.Status.Sync.Draft != draft.Name {
		started := metav1.NewTime(s.now)
		pv.Status.Sync = &v1.SyncStatus{From: s.current, To: target.Revision, Draft: draft.Name, StartedAt: &started}
	}

	switch draft.Spec.Lifecycle {
	case porchv1alpha1.PackageRevisionLifecycleProposed:
		r.awaitApproval(s, draft)
		s.done = true
		return ctrl.Result{}, nil
	case porchv1alpha1.PackageRevisionLifecycleDraft:
	default:
		return ctrl.Result{}, nil
	}

	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: pv.Namespace, Name: draft.Name}, prr); err != nil {
		return ctrl.Result{}, fmt.Errorf("reading draft %s: %w", draft.Name, err)
	}
	kf, err := porch.ParseKptfile(prr.Spec.Resources[porch.KptfileName])
	if err != nil {
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("draft %s: %v", draft.Name, err))
		s.done = true
		return ctrl.Result{}, nil
	}
	if kf.UpstreamRef() != upstreamRef(pv, target.Revision) {
		log.FromContext(ctx).Info("merging", "draft", draft.Name, "draftUpstream", kf.UpstreamRef(), "target", target.Revision)
		if err := r.merge(ctx, s, prr); err != nil {
			return ctrl.Result{}, err
		}
		if s.done {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}

	// The variant's own settings, on a draft no person has touched.
	if _, conflicted := prr.Spec.Resources[porch.ConflictsFile]; !conflicted && hasMutations(pv) {
		wanted := copyResources(prr.Spec.Resources)
		if err := r.mutate(ctx, pv, wanted); err != nil {
			stall(s, "MutationFailed", err.Error())
			return ctrl.Result{}, nil
		}
		untouched := pv.Status.Sync.ContentHash == "" || porch.Hash(prr.Spec.Resources) == pv.Status.Sync.ContentHash
		if !sameResources(wanted, prr.Spec.Resources) && untouched {
			prr.Spec.Resources = wanted
			if err := r.write(ctx, s, prr); err != nil {
				return ctrl.Result{}, err
			}
			setPhase(s, v1.PhaseRendering, "applied the variant's steps and injected config; rendering")
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
	}

	// Conflicts wait for a person; resolved ones open the gate.
	if content, ok := prr.Spec.Resources[porch.ConflictsFile]; ok {
		n, err := porch.Unresolved(content)
		if err != nil {
			setPhase(s, v1.PhaseConflicted, err.Error())
			s.done = true
			return ctrl.Result{}, nil
		}
		if n > 0 {
			setPhase(s, v1.PhaseConflicted, conflictSummary(n, pv.Status.Sync.Conflicts))
			setCondition(pv, v1.ConditionConflicted, true, "Conflicts", pv.Status.Sync.Message+fmt.Sprintf("; resolve with porchctl rpkg pull/push on %s", draft.Name))
			s.done = true
			return ctrl.Result{RequeueAfter: conflictPoll}, nil
		}
	}
	if _, ok := prr.Spec.Resources[porch.ConflictsFile]; ok || gateFalse(draft) {
		delete(prr.Spec.Resources, porch.ConflictsFile)
		if err := kf.SetGate(porch.ConflictsGate, true, "Resolved", "conflicts resolved"); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.writeResources(ctx, s, prr, kf); err != nil {
			return ctrl.Result{}, err
		}
		log.FromContext(ctx).Info("conflicts resolved", "draft", draft.Name)
		setCondition(pv, v1.ConditionConflicted, false, "Resolved", "conflicts resolved by a person")
		pv.Status.Sync.Conflicts, pv.Status.Sync.ConflictCount = nil, 0
		r.event(pv, corev1.EventTypeNormal, "ConflictsResolved", "conflicts in %s resolved; proposing", draft.Name)
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	setCondition(pv, v1.ConditionConflicted, false, "NoConflicts", "")

	if rs := prr.Status.RenderStatus; rs.Err != "" {
		pv.Status.Sync.RenderStatus = firstLine(rs.Err)
		setPhase(s, v1.PhaseFailed, "rendering the draft's pipeline failed: "+firstLine(rs.Err))
		s.done = true
		return ctrl.Result{RequeueAfter: conflictPoll}, nil
	}
	pv.Status.Sync.RenderStatus = "OK"

	// Propose: Porch refuses while a readiness gate is not True. The write
	// above made a new commit; propose the latest.
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(draft), draft); err != nil {
		return ctrl.Result{}, fmt.Errorf("reading draft %s: %w", draft.Name, err)
	}
	draft.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
	if err := r.client.Update(ctx, draft); err != nil {
		return ctrl.Result{}, fmt.Errorf("proposing %s: %w", draft.Name, err)
	}
	log.FromContext(ctx).Info("proposed", "draft", draft.Name, "target", target.Revision)
	r.awaitApproval(s, draft)
	s.done = true
	return ctrl.Result{}, nil
}

func (r *Reconciler) awaitApproval(s *scope, draft *porchv1alpha1.PackageRevision) {
	msg := fmt.Sprintf("draft %s (upstream %s) is proposed; approve it with: porchctl rpkg approve %s -n %s", draft.Name, s.selection.Target.Revision, draft.Name, draft.Namespace)
	if s.pv.Spec.EffectiveApprovalMode() == v1.AutomaticApproval {
		msg += " (approval.mode Automatic is not acted on yet: a person approves)"
	}
	setPhase(s, v1.PhaseProposed, msg)
	setCondition(s.pv, v1.ConditionAwaitingApproval, true, "Proposed", msg)
}

// createDraft makes the target's draft: a clone on the first sync, else a
// copy of the latest published downstream revision, merged next.
func (r *Reconciler) createDraft(ctx context.Context, s *scope, ws string) (*porchv1alpha1.PackageRevision, error) {
	pv, target := s.pv, s.selection.Target
	draft := &porchv1alpha1.PackageRevision{}
	draft.Namespace = pv.Namespace
	draft.Spec = porchv1alpha1.PackageRevisionSpec{
		PackageName:    pv.Spec.DownstreamPackage(),
		RepositoryName: pv.Spec.Downstream.Repo,
		WorkspaceName:  porchv1alpha1.WorkspaceName(ws),
		Lifecycle:      porchv1alpha1.PackageRevisionLifecycleDraft,
	}
	if s.published == nil {
		draft.Spec.Tasks = []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeClone, Clone: &porchv1alpha1.PackageCloneTaskSpec{
			Upstream: porchv1alpha1.UpstreamPackage{UpstreamRef: &porchv1alpha1.PackageRevisionRef{Name: target.Name}},
		}}}
	} else {
		draft.Spec.Tasks = []porchv1alpha1.Task{{Type: porchv1alpha1.TaskTypeEdit, Edit: &porchv1alpha1.PackageEditTaskSpec{
			Source: &porchv1alpha1.PackageRevisionRef{Name: s.published.Name},
		}}}
	}
	draft.Labels, draft.Annotations = pv.Spec.Labels, pv.Spec.Annotations
	if err := controllerutil.SetControllerReference(pv, draft, r.client.Scheme()); err != nil {
		return nil, err
	}
	if err := r.client.Create(ctx, draft); err != nil {
		return nil, fmt.Errorf("creating draft %s for upstream %s: %w", ws, target.Revision, err)
	}
	started := metav1.NewTime(s.now)
	pv.Status.Sync = &v1.SyncStatus{From: s.current, To: target.Revision, Draft: draft.Name, Phase: v1.PhaseMerging, StartedAt: &started}
	r.event(pv, corev1.EventTypeNormal, "DraftCreated", "draft %s for upstream %s (from %q)", draft.Name, target.Revision, s.current)
	return draft, nil
}

// merge writes the 3-way merge of old upstream, new upstream and the
// downstream into the draft, with the Kptfile moved to the new upstream,
// the steps applied, and conflicts shown as a file and a readiness gate.
func (r *Reconciler) merge(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources) error {
	pv, target := s.pv, s.selection.Target
	setPhase(s, v1.PhaseMerging, fmt.Sprintf("merging upstream %s into %s", target.Revision, prr.Name))
	up, err := r.resources(ctx, pv.Namespace, target.Name)
	if err != nil {
		return err
	}
	var base merge.Tree
	if s.current != "" {
		for _, pr := range s.upstream {
			if pr.Spec.Revision == s.current {
				if base, err = r.resources(ctx, pv.Namespace, pr.Name); err != nil {
					return err
				}
			}
		}
		if base == nil {
			setPhase(s, v1.PhaseFailed, fmt.Sprintf("the downstream is on upstream %s, which the upstream repository no longer publishes; cannot merge without it", s.current))
			s.done = true
			return nil
		}
	}
	res, err := merge.Merge(base, up, prr.Spec.Resources, merge.Options{
		Strategy:       merge.Strategy(pv.Spec.EffectiveMergeStrategy()),
		ConflictPolicy: merge.ConflictPolicy(pv.Spec.EffectiveConflictPolicy()),
	})
	if err != nil {
		setPhase(s, v1.PhaseFailed, fmt.Sprintf("merging upstream %s: %v", target.Revision, err))
		setCondition(pv, v1.ConditionStalled, true, "MergeFailed", pv.Status.Sync.Message)
		s.done = true
		return nil
	}
	kf, err := porch.ParseKptfile(res.Tree[porch.KptfileName])
	if err != nil {
		setPhase(s, v1.PhaseFailed, err.Error())
		s.done = true
		return nil
	}
	if err := kf.SetUpstream(upstreamRef(pv, target.Revision), r.commitOf(s, target.Name)); err != nil {
		return err
	}
	prr.Spec.Resources = res.Tree
	sync := pv.Status.Sync
	sync.ConflictCount = int32(len(res.Conflicts))
	sync.Conflicts = nil
	if len(res.Conflicts) > 0 {
		content, err := porch.RenderConflicts(s.current, target.Revision, res.Conflicts)
		if err != nil {
			return err
		}
		prr.Spec.Resources[porch.ConflictsFile] = content
		msg := conflictSummary(len(res.Conflicts), nil)
		if err := kf.SetGate(porch.ConflictsGate, false, "Conflicts", msg+"; see "+porch.ConflictsFile); err != nil {
			return err
		}
		for i, c := range res.Conflicts {
			if i == 20 {
				break
			}
			sync.Conflicts = append(sync.Conflicts, v1.Conflict(c))
		}
	}
	if err := r.writeResources(ctx, s, prr, kf); err != nil {
		return err
	}
	if len(res.Conflicts) > 0 {
		setPhase(s, v1.PhaseConflicted, conflictSummary(len(res.Conflicts), sync.Conflicts))
		setCondition(pv, v1.ConditionConflicted, true, "Conflicts", sync.Message)
		s.done = true
		s.requeue = conflictPoll
	} else {
		setPhase(s, v1.PhaseRendering, "merged cleanly; rendering")
	}
	return nil
}

// writeResources puts the Kptfile back, applies the variant's mutations,
// writes the draft and records a hash of what forkline wrote.
func (r *Reconciler) writeResources(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources, kf *porch.Kptfile) error {
	content, err := kf.String()
	if err != nil {
		return err
	}
	prr.Spec.Resources[porch.KptfileName] = content
	if err := r.mutate(ctx, s.pv, prr.Spec.Resources); err != nil {
		stall(s, "MutationFailed", err.Error())
		return nil
	}
	return r.write(ctx, s, prr)
}

func (r *Reconciler) write(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources) error {
	if err := r.client.Update(ctx, prr); err != nil {
		return fmt.Errorf("writing draft %s: %w", prr.Name, err)
	}
	written, err := r.resources(ctx, prr.Namespace, prr.Name)
	if err != nil {
		return err
	}
	s.pv.Status.Sync.ContentHash = porch.Hash(written)
	return nil
}

// applySteps puts the variant's pipeline into the Kptfile, named
// forkline.<variant>.<function>.<index>.
func applySteps(pv *v1.PackageVariant, kf *porch.Kptfile) error {
	var mutators, validators []*yaml.RNode
	if p := pv.Spec.Pipeline; p != nil {
		for _, list := range []struct {
			fns []v1.Function
			out *[]*yaml.RNode
		}{{p.Mutators, &mutators}, {p.Validators, &validators}} {
			for i, fn := range list.fns {
				fn.Name = fmt.Sprintf("forkline.%s.%s.%d", pv.Name, fn.FunctionName(), i)
				// JSON field names, as the Kptfile has them (configMap, not configmap).
				b, err := sigsyaml.Marshal(fn)
				if err != nil {
					return err
				}
				n, err := yaml.Parse(string(b))
				if err != nil {
					return err
				}
				*list.out = append(*list.out, n)
			}
		}
	}
	return kf.SetPipeline(pv.Name, mutators, validators)
}

// editedByPerson says whether a draft changed since forkline last wrote
// it. A draft forkline has no record of counts as edited: never overwrite.
func (r *Reconciler) editedByPerson(ctx context.Context, s *scope, pr *porchv1alpha1.PackageRevision) (bool, error) {
	sync := s.pv.Status.Sync
	if sync == nil || sync.Draft != pr.Name || sync.ContentHash == "" {
		return true, nil
	}
	now, err := r.resources(ctx, pr.Namespace, pr.Name)
	if err != nil {
		return false, err
	}
	return porch.Hash(now) != sync.ContentHash, nil
}

func (r *Reconciler) resources(ctx context.Context, ns, name string) (merge.Tree, error) {
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, prr); err != nil {
		return nil, fmt.Errorf("reading resources of %s: %w", name, err)
	}
	return prr.Spec.Resources, nil
}

// commitOf is the git commit of an upstream revision: Porch uses it as the
// revision's resourceVersion.
func (r *Reconciler) commitOf(s *scope, name string) string {
	for _, pr := range s.upstream {
		if pr.Name == name {
			return pr.ResourceVersion
		}
	}
	return ""
}

func upstreamRef(pv *v1.PackageVariant, revision string) string {
	return pv.Spec.Upstream.Package + "/" + revision
}

func gateFalse(pr *porchv1alpha1.PackageRevision) bool {
	for _, c := range pr.Status.Conditions {
		if c.Type == porch.ConflictsGate && c.Status != porchv1alpha1.ConditionTrue {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// finalize cleans up per the deletion policy: drafts and proposals are
// deleted, published revisions proposed for deletion; never hard-deleted.
func (r *Reconciler) finalize(ctx context.Context, s *scope) error {
	pv := s.pv
	if !controllerutil.ContainsFinalizer(pv, Finalizer) {
		return nil
	}
	if pv.Spec.EffectiveDeletionPolicy() == v1.DeletionDelete {
		var down porchv1alpha1.PackageRevisionList
		if err := r.client.List(ctx, &down, client.InNamespace(pv.Namespace),
			client.MatchingFields{indexPackage: packageKey(pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())}); err != nil {
			return err
		}
		for i := range down.Items {
			pr := &down.Items[i]
			if !metav1.IsControlledBy(pr, pv) && !strings.HasPrefix(string(pr.Spec.WorkspaceName), "forkline-") {
				continue
			}
			switch pr.Spec.Lifecycle {
			case porchv1alpha1.PackageRevisionLifecycleDraft, porchv1alpha1.PackageRevisionLifecycleProposed:
				if err := r.client.Delete(ctx, pr); err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("deleting %s: %w", pr.Name, err)
				}
			case porchv1alpha1.PackageRevisionLifecyclePublished:
				if !downstreamRevision.MatchString(pr.Spec.Revision) {
					continue // the branch's placeholder
				}
				pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDeletionProposed
				if err := r.client.Update(ctx, pr); err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("proposing %s for deletion: %w", pr.Name, err)
				}
			}
		}
	}
	patch := client.MergeFrom(pv.DeepCopy())
	controllerutil.RemoveFinalizer(pv, Finalizer)
	return r.client.Patch(ctx, pv, patch)
}

func (r *Reconciler) event(pv *v1.PackageVariant, eventType, reason, format string, args ...any) {
	r.recorder.Eventf(pv, nil, eventType, reason, reason, format, args...)
}

// emitPhaseEvent tells users when the sync's phase changed.
func (r *Reconciler) emitPhaseEvent(before, after *v1.PackageVariant) {
	var was, is v1.SyncPhase
	if before.Status.Sync != nil {
		was = before.Status.Sync.Phase
	}
	if after.Status.Sync == nil {
		return
	}
	is = after.Status.Sync.Phase
	if is == was || is == "" {
		return
	}
	eventType := corev1.EventTypeNormal
	if is == v1.PhaseFailed || is == v1.PhaseConflicted {
		eventType = corev1.EventTypeWarning
	}
	r.event(after, eventType, string(is), "sync %s -> %s: %s", after.Status.Sync.From, after.Status.Sync.To, after.Status.Sync.Message)
}
