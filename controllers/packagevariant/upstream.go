// Trusting the commit, not the tag.
//
// checkUpstream reads the upstream's git history itself (internal/upstream)
// so the merge's base is the commit the downstream locks, whatever its tag
// names today; it states a release tag that moved or was deleted, verifies
// signed releases when the spec asks, and records the target's release
// notes. checkMovedTarget stops a proposal whose own tag moved under it.

package packagevariant

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
	"github.com/forkline/forkline/internal/upstream"
)

// gitSource is where the upstream package lives in git.
type gitSource struct {
	remote upstream.Remote
	dir    string // the package's directory in the repository
}

// maxNotes caps the commit subjects kept per sync.
const maxNotes = 50

// checkUpstream runs after resolve: where forkline can read the upstream's
// git, it says so (LockedCommit); a release forkline took that moved or
// was deleted upstream is stated; the target is verified when
// spec.upstream.verify asks and its release notes are read.
func (r *Reconciler) checkUpstream(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv := s.pv
	if err := r.openGit(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if s.git != nil {
		setCondition(pv, v1.ConditionLockedCommit, true, "GitRead", fmt.Sprintf("forkline reads %s itself and merges from the commit the downstream locks", s.git.remote.URL))
	} else {
		setCondition(pv, v1.ConditionLockedCommit, false, "IntegrityChecksOff", s.gitOff)
	}
	if target := s.selection.Target; target != nil && s.configKey == "" {
		if pv.Spec.Upstream.Verify != nil {
			if res, err := r.verifyTarget(ctx, s); err != nil || s.done {
				return res, err
			}
			target = s.selection.Target
		}
		if s.git != nil {
			s.notes = r.releaseNotes(ctx, s, target)
		}
	}
	// After the target's reads: they fetch what the clone lacks, which
	// brings any move of the base's tag pushed with the target.
	r.checkBase(ctx, s)
	return ctrl.Result{}, nil
}

// openGit finds the upstream's git repository and credentials from its
// Porch Repository. An OCI upstream, or credentials forkline may not read,
// leave git nil and say why.
func (r *Reconciler) openGit(ctx context.Context, s *scope) error {
	repo := s.upstreamRepo
	if repo == nil || repo.Spec.Git == nil {
		s.gitOff = fmt.Sprintf("upstream Repository %q is not a git repository: forkline cannot read its history, so the locked-commit merge base, moved-tag detection and signature checks are off for it", s.pv.Spec.Upstream.Repo)
		return nil
	}
	remote, unreadable, err := r.gitRemote(ctx, s.pv.Namespace, repo)
	if err != nil {
		return err
	}
	if unreadable != "" {
		s.gitOff = fmt.Sprintf("forkline cannot read Secret %q, the credentials of upstream Repository %q (%s): grant it get on that Secret in namespace %q (docs/install.md) so it merges from the locked commit; until then it merges from Porch's content of a release only while its commit is the one locked",
			repo.Spec.Git.SecretRef.Name, s.pv.Spec.Upstream.Repo, unreadable, s.pv.Namespace)
		return nil
	}
	s.git = &gitSource{remote: remote, dir: upstream.Dir(repo.Spec.Git.Directory, s.pv.Spec.Upstream.Package)}
	return nil
}

// gitRemote is a git Repository's URL with the credentials of its
// secretRef; unreadable says why forkline may not read them.
func (r *Reconciler) gitRemote(ctx context.Context, ns string, repo *configapi.Repository) (remote upstream.Remote, unreadable string, err error) {
	remote.URL = repo.Spec.Git.Repo
	name := repo.Spec.Git.SecretRef.Name
	if name == "" {
		return remote, "", nil
	}
	secret, unreadable, err := r.secret(ctx, ns, name)
	if err != nil || unreadable != "" {
		return remote, unreadable, err
	}
	remote.Username, remote.Password = string(secret.Data["username"]), string(secret.Data["password"])
	return remote, "", nil
}

// secret reads a Secret of the variant's namespace uncached (the shipped
// RBAC may not watch Secrets); unreadable says why a person must act
// ("forbidden", "not found"), err is anything else.
func (r *Reconciler) secret(ctx context.Context, ns, name string) (secret *corev1.Secret, unreadable string, err error) {
	secret = &corev1.Secret{}
	err = r.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, secret)
	switch {
	case apierrors.IsForbidden(err):
		return nil, "forbidden", nil
	case apierrors.IsNotFound(err):
		return nil, "not found", nil
	case err != nil:
		return nil, "", fmt.Errorf("reading Secret %q: %w", name, err)
	}
	return secret, "", nil
}

// whyNoRelease looks in git for what Porch does not list: release tags of
// the package that hold no Kptfile (Porch lists a tag only where the
// package's Kptfile is). "" when git says nothing more.
func (r *Reconciler) whyNoRelease(ctx context.Context, s *scope) string {
	if err := r.openGit(ctx, s); err != nil || s.git == nil {
		return ""
	}
	tags, err := r.git.Tags(ctx, s.git.remote, s.pv.Spec.Upstream.Package+"/")
	if err != nil || len(tags) == 0 {
		return ""
	}
	newest := tags[len(tags)-1]
	has, err := r.git.HasFile(ctx, s.git.remote, newest, s.git.dir, porch.KptfileName)
	if err != nil || has {
		return ""
	}
	return fmt.Sprintf(": git has tag %s (%d tags of it in all), but it holds no Kptfile in %s/, and Porch lists a tag as a release only where the package's Kptfile is; add one upstream (kpt pkg init)", newest, len(tags), s.git.dir)
}

// lockedCommit is the upstream commit a downstream revision's Kptfile
// locks: what it was merged or cloned from.
func lockedCommit(pr *porchv1alpha1.PackageRevision) string {
	if pr == nil || pr.Status.UpstreamLock == nil || pr.Status.UpstreamLock.Git == nil {
		return ""
	}
	return pr.Status.UpstreamLock.Git.Commit
}

// checkBase states a move or deletion of the release the downstream is on.
// Neither stops the sync: the merge's base is the locked commit.
func (r *Reconciler) checkBase(ctx context.Context, s *scope) {
	lock := lockedCommit(s.published)
	if s.current == "" || lock == "" {
		return
	}
	tag := upstreamRef(s.pv, s.current)
	base := s.baseRelease()
	if base == nil {
		r.eventOnce(s.pv, corev1.EventTypeNormal, "UpstreamReleaseDeleted", "upstream tag %s, the release the downstream is on, was deleted upstream; forkline merges from the commit the downstream locks, %s", tag, short(lock))
		return
	}
	now := base.ResourceVersion
	if now == lock && s.git != nil {
		// Porch can list a new release before it re-reads an old one's
		// moved tag; git, as last fetched, can say it first.
		if t, err := r.git.Tag(ctx, s.git.remote, tag, ""); err == nil {
			now = t.Commit
		}
	}
	if now != lock {
		msg := fmt.Sprintf("upstream tag %s moved from commit %s, which the downstream locks, to %s; forkline merges from %s, and approves nothing automatically while the move stands", tag, short(lock), short(now), short(lock))
		s.moved = append(s.moved, msg)
		setCondition(s.pv, v1.ConditionUpstreamReleaseMoved, true, "BaseMoved", msg)
		r.eventOnce(s.pv, corev1.EventTypeWarning, "UpstreamReleaseMoved", "%s", msg)
	}
}

// baseRelease is the upstream revision the downstream is on, if Porch
// still lists it.
func (s *scope) baseRelease() *porchv1alpha1.PackageRevision {
	for i := range s.upstream {
		if porch.Revision(&s.upstream[i]) == s.current {
			return &s.upstream[i]
		}
	}
	return nil
}

// verifyTarget checks the target release's signature. An unverified
// release is never merged: OldestFirst stops there (Stalled: a person
// skips it or has it signed); Latest takes the newest verified release.
func (r *Reconciler) verifyTarget(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv := s.pv
	verify := pv.Spec.Upstream.Verify
	if s.git == nil {
		stall(s, "ReleaseNotVerified", "spec.upstream.verify needs forkline to read the upstream's git itself: "+s.gitOff)
		return ctrl.Result{}, nil
	}
	keys, res, err := r.trustedKeys(ctx, s, verify.SecretRef.Name)
	if err != nil || s.done {
		return res, err
	}
	// One Event for every release passed over: the Events API folds
	// Events of one reason into a series that keeps the first message.
	var refused []string
	defer func() {
		if len(refused) > 0 {
			r.eventOnce(pv, corev1.EventTypeWarning, "ReleaseNotVerified", "%s", strings.Join(refused, "; "))
		}
	}()
	for s.selection.Target != nil {
		target := s.selection.Target
		signer, why, err := r.verifyRelease(ctx, s, target, verify.Mode, keys)
		if err != nil {
			return ctrl.Result{}, err
		}
		if why == "" {
			msg := fmt.Sprintf("upstream %s is signed by %s", upstreamRef(pv, target.Revision), signer)
			if len(refused) > 0 {
				msg += "; passed over: " + strings.Join(refused, "; ")
			}
			setCondition(pv, v1.ConditionReleaseVerified, true, "Verified", msg)
			return ctrl.Result{}, nil
		}
		msg := fmt.Sprintf("upstream release %s is not verified: %s; forkline merges and proposes nothing from it", upstreamRef(pv, target.Revision), why)
		refused = append(refused, msg)
		if pv.Spec.Upstream.EffectiveOrder() != v1.Latest {
			setCondition(pv, v1.ConditionReleaseVerified, false, "ReleaseNotVerified", msg)
			stall(s, "ReleaseNotVerified", fmt.Sprintf("%s. The walk waits here: skip it (spec.upstream.skip: [%s]) or have it signed by a key in Secret %q", msg, target.Revision, verify.SecretRef.Name))
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		// Latest: the newest release that verifies.
		s.track.Skip = append(slices.Clone(s.track.Skip), target.Revision)
		sel, err := release.Select(s.track, s.current, s.revisions, s.now)
		if err != nil {
			return ctrl.Result{}, err
		}
		s.selection.Target, s.selection.LatestMatching = sel.Target, sel.LatestMatching
		if sel.Target == nil {
			setCondition(pv, v1.ConditionReleaseVerified, false, "ReleaseNotVerified", msg)
			stall(s, "ReleaseNotVerified", msg+"; no newer release verifies either")
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		s.key = sel.Target.Revision
		pv.Status.Upstream.Target = sel.Target.Revision
	}
	return ctrl.Result{}, nil
}

// trustedKeys are the armored key rings of the verify Secret.
func (r *Reconciler) trustedKeys(ctx context.Context, s *scope, name string) ([]string, ctrl.Result, error) {
	secret, unreadable, err := r.secret(ctx, s.pv.Namespace, name)
	if err != nil {
		return nil, ctrl.Result{}, err
	}
	if unreadable != "" {
		stall(s, "ReleaseNotVerified", fmt.Sprintf("spec.upstream.verify.secretRef: forkline cannot read Secret %q in namespace %q (%s); create it with the trusted OpenPGP public keys, and grant forkline get on it (docs/install.md)", name, s.pv.Namespace, unreadable))
		return nil, ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	keys := make([]string, 0, len(secret.Data))
	for _, k := range slices.Sorted(maps.Keys(secret.Data)) {
		keys = append(keys, string(secret.Data[k]))
	}
	return keys, ctrl.Result{}, nil
}

// verifyRelease answers who signed the release, or why it is not
// verified; err is an outage (git unreachable).
func (r *Reconciler) verifyRelease(ctx context.Context, s *scope, target *release.Revision, mode v1.VerificationMode, keys []string) (signer, why string, err error) {
	commit := r.commitOf(s, target.Name)
	tag, err := r.git.Tag(ctx, s.git.remote, upstreamRef(s.pv, target.Revision), commit)
	switch {
	case errors.Is(err, upstream.ErrNotFound):
		return "", fmt.Sprintf("git has no tag %s", upstreamRef(s.pv, target.Revision)), nil
	case err != nil:
		return "", "", err
	case tag.Commit != commit:
		return "", fmt.Sprintf("Porch lists it at commit %s, git's tag names %s", short(commit), short(tag.Commit)), nil
	}
	signer, err = upstream.Verify(tag, upstream.Mode(mode), keys)
	if err != nil {
		return "", strings.TrimSuffix(err.Error(), ": "+upstream.ErrNotVerified.Error()), nil
	}
	return signer, "", nil
}

// releaseNotes are the target tag's annotation and the subjects of the
// upstream commits since the locked one; nil when git cannot tell.
func (r *Reconciler) releaseNotes(ctx context.Context, s *scope, target *release.Revision) *v1.ReleaseNotes {
	commit := r.commitOf(s, target.Name)
	from := lockedCommit(s.published)
	key := "notes:" + s.pv.Namespace + "/" + s.git.remote.URL + "@" + from + ".." + commit
	if cached, ok := r.upstreams.Get(key); ok {
		return cached.(*v1.ReleaseNotes).DeepCopy()
	}
	tagName := upstreamRef(s.pv, target.Revision)
	notes := &v1.ReleaseNotes{Tag: tagName}
	if tag, err := r.git.Tag(ctx, s.git.remote, tagName, commit); err == nil && tag.Commit == commit {
		notes.Annotation = trim(tag.Annotation, 2000)
	}
	subjects, more, err := r.git.Log(ctx, s.git.remote, from, commit, s.git.dir, maxNotes)
	if err != nil {
		return nil
	}
	for _, sub := range subjects {
		notes.Commits = append(notes.Commits, trim(sub, 250))
	}
	notes.More = more
	r.upstreams.Add(key, notes.DeepCopy())
	return notes
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// gitBase is the content of the upstream package at the commit the
// downstream locks, read from git; ok is false when git cannot be read.
func (r *Reconciler) gitBase(ctx context.Context, s *scope, lock string) (merge.Tree, bool, error) {
	if s.git == nil || lock == "" {
		return nil, false, nil
	}
	key := "git:" + s.pv.Namespace + "/" + s.git.remote.URL + "@" + lock + ":" + s.git.dir
	files, err := r.upstreams.Load(key, func() (any, bool, error) {
		files, err := r.git.Package(ctx, s.git.remote, lock, s.git.dir)
		return merge.Tree(files), err == nil, err
	})
	if errors.Is(err, upstream.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return copyResources(files.(merge.Tree)), true, nil
}

// checkMovedTarget stops at a draft whose own release tag moved since
// forkline built it: it is not approved by forkline, and it is rebuilt
// from the tag's new commit only when a person accepts the move
// (forkline.dev/accept-moved) or spec.upstream.onMovedTag is Follow.
func (r *Reconciler) checkMovedTarget(ctx context.Context, s *scope) (ctrl.Result, error) {
	pv, target := s.pv, s.selection.Target
	lock := s.draft.Status.UpstreamLock
	if s.configKey != "" || lock == nil || lock.Git == nil || lock.Git.Ref != upstreamRef(pv, target.Revision) {
		return ctrl.Result{}, nil
	}
	built, now := lock.Git.Commit, r.commitOf(s, target.Name)
	pv.Status.Sync.UpstreamCommit = built
	if now == "" || built == now {
		return ctrl.Result{}, nil
	}
	tag := upstreamRef(pv, target.Revision)
	msg := fmt.Sprintf("upstream tag %s moved: draft %s was built from commit %s, the tag now names %s", tag, s.draft.Name, short(built), short(now))
	s.moved = append(s.moved, msg)
	baseMoved := meta.FindStatusCondition(pv.Status.Conditions, v1.ConditionUpstreamReleaseMoved)
	if baseMoved != nil {
		baseMoved = baseMoved.DeepCopy()
	}
	setCondition(pv, v1.ConditionUpstreamReleaseMoved, true, "TargetMoved", msg)
	r.eventOnce(pv, corev1.EventTypeWarning, "UpstreamReleaseMoved", "%s; affected: draft %s", msg, s.draft.Name)
	accepted := pv.Spec.Upstream.EffectiveOnMovedTag() == v1.MovedTagFollow || acceptsMove(pv.Annotations[v1.AnnotationAcceptMoved], tag, now)
	if !accepted {
		stall(s, "UpstreamReleaseMoved", fmt.Sprintf("%s; forkline approves nothing built from the old commit. Rebuild it from %s: kubectl annotate packagevariant %s -n %s %s=%s@%s (or set spec.upstream.onMovedTag: Follow); or keep %s by approving %s yourself",
			msg, short(now), pv.Name, pv.Namespace, v1.AnnotationAcceptMoved, tag, short(now), short(built), s.draft.Name))
		return ctrl.Result{RequeueAfter: conflictPoll}, nil
	}
	edited, err := r.editedNow(ctx, s)
	if err != nil || s.done {
		return ctrl.Result{}, err
	}
	if edited {
		stall(s, "UpstreamReleaseMoved", fmt.Sprintf("%s; a person changed the draft since forkline wrote it, so forkline does not rebuild it: merge %s into it yourself, or delete it and forkline builds a new one", msg, short(now)))
		return ctrl.Result{RequeueAfter: conflictPoll}, nil
	}
	if s.draft.Spec.Lifecycle == porchv1alpha1.PackageRevisionLifecycleProposed {
		// Back to Draft, and not as a person's rejection: forkline's own
		// mark of the proposal goes in the same write.
		if err := r.writeDraft(ctx, s, s.draft, s.draft.ResourceVersion, func(d *porchv1alpha1.PackageRevision) {
			d.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDraft
			delete(d.Annotations, v1.AnnotationProposed)
		}); err != nil {
			return ctrl.Result{}, fmt.Errorf("returning %s to Draft to rebuild it: %w", s.draft.Name, err)
		}
	}
	r.event(pv, corev1.EventTypeNormal, "RebuildingMoved", "rebuilding %s from commit %s of %s", s.draft.Name, short(now), tag)
	s.rebuild = true
	// The rebuild settles the target's move in this reconcile: the status
	// it ends with says only what is left (the base's move, if any).
	s.moved = s.moved[:len(s.moved)-1]
	meta.RemoveStatusCondition(&pv.Status.Conditions, v1.ConditionUpstreamReleaseMoved)
	if baseMoved != nil {
		meta.SetStatusCondition(&pv.Status.Conditions, *baseMoved)
	}
	return ctrl.Result{}, nil
}

// acceptsMove reads forkline.dev/accept-moved: "<tag>" accepts the tag's
// move to whatever it names, "<tag>@<commit prefix>" its move to that
// commit only.
func acceptsMove(value, tag, commit string) bool {
	name, at, pinned := strings.Cut(strings.TrimSpace(value), "@")
	if name != tag {
		return false
	}
	return !pinned || (len(at) >= 7 && strings.HasPrefix(commit, at))
}

// eventOnce records an Event the first time this manager sees it for the
// variant: a fact stated each reconcile is not an Event each reconcile.
func (r *Reconciler) eventOnce(pv *v1.PackageVariant, eventType, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if _, seen := r.stated.LoadOrStore(string(pv.UID)+"\x00"+reason+"\x00"+msg, true); seen {
		return
	}
	r.event(pv, eventType, reason, "%s", msg)
}
