// Reading and writing drafts through Porch.
//
// Every write to a draft's content or metadata goes through here: it holds
// only at the commit forkline judged, records what forkline wrote (the
// record that tells a person's edit apart), and notes its echoes. The steps
// decide what to write; this file decides how it reaches Porch.

package packagevariant

import (
	"context"
	"errors"
	"fmt"
	"maps"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/merge"
	"github.com/forkline/forkline/internal/metrics"
	"github.com/forkline/forkline/internal/porch"
)

// writeResources puts the Kptfile back, applies the variant's mutations,
// writes the draft and records the commit forkline wrote.
func (r *Reconciler) writeResources(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources, kf *porch.Kptfile) error {
	if err := r.finishFiles(ctx, s, prr.Spec.Resources, kf); err != nil || s.done {
		return err
	}
	return r.write(ctx, s, prr)
}

// finishFiles puts the Kptfile back into files and applies the variant's
// mutations; the variant is Stalled when they fail.
func (r *Reconciler) finishFiles(ctx context.Context, s *scope, files map[string]string, kf *porch.Kptfile) error {
	content, err := kf.String()
	if err != nil {
		return err
	}
	files[porch.KptfileName] = content
	if err := r.mutate(ctx, s.pv, files); err != nil {
		stall(s, "MutationFailed", err.Error())
	}
	return nil
}

// write stores the draft's resources, as a new commit on top of the one
// forkline judged (Porch refuses the write if the draft moved since). The
// commit it makes, the record that tells a person's later edit apart, is
// recorded on the draft by the proposal or by recordWritten. A rewrite
// first drops the old record, so a crash before the new one leaves a draft
// without a record (forkline's own) rather than one that looks edited.
func (r *Reconciler) write(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources) error {
	judged := s.draft.ResourceVersion
	recorded := s.draft.Annotations[v1.AnnotationCommit]
	if recorded != "" {
		if err := r.recordCommit(ctx, s, "", judged); err != nil {
			return err
		}
		// Porch v1.4+ commits that metadata write: the draft's new commit
		// is forkline's own (the write held only at the judged one), and
		// the content write goes on top of it.
		judged = s.draft.ResourceVersion
	}
	prr.ResourceVersion = judged
	if err := r.send(ctx, s, prr); err != nil {
		if errors.Is(err, errTooLarge) {
			if recorded != "" {
				if err := r.recordCommit(ctx, s, recorded, ""); err != nil {
					return err
				}
			}
			return nil
		}
		if apierrors.IsConflict(err) && recorded != "" {
			// A person's push: put the record back, so it reads as edited.
			if err := r.recordCommit(ctx, s, recorded, ""); err != nil {
				return err
			}
		}
		return fmt.Errorf("writing draft %s: %w", prr.Name, err)
	}
	s.pv.Status.Sync.RenderStatus = renderSummary(prr.Status.RenderStatus)
	s.written = porch.FileDigests(prr.Spec.Resources)
	s.stored = maps.Clone(prr.Spec.Resources)
	// The draft is now at the new commit (Porch's resourceVersion of both
	// the revision and its resources): its event is forkline's own.
	s.draft.ResourceVersion = prr.ResourceVersion
	r.echoes.wroteDraft(s.pv, s.draft.DeepCopy())
	// What Porch stored (rendered) is what the next steps check and
	// propose.
	kf, err := porch.ParseKptfile(prr.Spec.Resources[porch.KptfileName])
	if err != nil {
		return fmt.Errorf("draft %s after writing: %w", prr.Name, err)
	}
	s.kf = kf
	// Recorded by the proposal's own write, or when the reconcile stops
	// before it (recordWritten). Until then the draft has no record, which
	// reads as forkline's own, never as a person's edit.
	s.unrecorded = true
	return nil
}

// errTooLarge: the write cannot fit one request; the variant is Stalled.
var errTooLarge = errors.New("write over the API server's request limit")

// send writes the draft's files: merge patches of only what differs from
// what Porch stores, in as many writes as it takes for each to fit one
// request (a large package's upgrade is written whatever its size), or a
// full update when forkline has not read the draft. Each write holds only
// at the commit the previous one made, the first at the judged one; the
// Kptfile goes last, so a sync stopped half way is merged again. Porch's
// answer to the last, rendered, is in prr afterwards.
func (r *Reconciler) send(ctx context.Context, s *scope, prr *porchv1alpha1.PackageRevisionResources) error {
	if s.stored == nil {
		if !porch.FitsOneRequest(prr.Spec.Resources) {
			stall(s, "DraftTooLarge", fmt.Sprintf("writing draft %s: the package is over the API server's %d MiB request limit, and forkline has not read the draft to send only what changed", prr.Name, porch.MaxRequestBytes>>20))
			return errTooLarge
		}
		return r.client.Update(ctx, prr)
	}
	patches, err := porch.ResourcesPatches(s.stored, prr.Spec.Resources)
	if err != nil {
		stall(s, "DraftTooLarge", fmt.Sprintf("writing draft %s: %v; split that file upstream, or raise --max-request-body-bytes of kube-apiserver and porch-server", prr.Name, err))
		return errTooLarge
	}
	// Porch renders and commits the whole package on each write, however
	// small the patch: big packages take turns, or three 7 MB writes at once
	// outlast the API server's timeout and Porch goes on with the abandoned
	// ones while forkline sends them again.
	weight := min(int64(packageBytes(prr.Spec.Resources)), writeBudget)
	if err := r.writing.Acquire(ctx, weight); err != nil {
		return err
	}
	defer r.writing.Release(weight)
	for _, p := range patches {
		patch, err := p.JSON(prr.ResourceVersion)
		if err != nil {
			return err
		}
		metrics.WriteBytes.Observe(float64(len(patch)))
		// Decoded into a fresh map: a file the patch removed must not linger.
		prr.Spec.Resources = nil
		err = r.client.Patch(ctx, prr, client.RawPatch(types.MergePatchType, patch))
		if apierrors.IsRequestEntityTooLargeError(err) {
			stall(s, "DraftTooLarge", fmt.Sprintf("writing draft %s: the API server refused a write of %d bytes as too large: %v", prr.Name, len(patch), err))
			return errTooLarge
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeBudget is how many bytes of package content Porch is asked to write
// at once: one big package, or several small ones side by side.
const writeBudget = 8 << 20

// packageBytes is the size of a package's content, which the semaphores
// weigh.
func packageBytes(resources map[string]string) int {
	n := 0
	for _, content := range resources {
		n += len(content)
	}
	return n
}

// recordWritten records the commit this reconcile wrote to the draft,
// unless its proposal did.
func (r *Reconciler) recordWritten(ctx context.Context, s *scope) error {
	if !s.unrecorded {
		return nil
	}
	err := r.recordCommit(ctx, s, s.draft.ResourceVersion, s.draft.ResourceVersion)
	if errors.Is(err, porch.ErrMoved) {
		err = r.recordPorchsCommit(ctx, s, err)
	}
	if err != nil {
		return err
	}
	s.unrecorded = false
	return nil
}

// recordPorchsCommit records as forkline's a commit the draft moved to
// after forkline's write when it holds, file for file, what forkline
// wrote: Porch v1.4+ can commit again after it answered a write. Anything
// else is moved, as before: a person's.
func (r *Reconciler) recordPorchsCommit(ctx context.Context, s *scope, moved error) error {
	if s.written == "" {
		return moved
	}
	fresh := &porchv1alpha1.PackageRevision{}
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(s.draft), fresh); err != nil {
		return moved
	}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(s.draft), prr); err != nil || prr.ResourceVersion != fresh.ResourceVersion {
		return moved
	}
	if files, known := porch.ChangedFiles(s.written, prr.Spec.Resources); !known || len(files) > 0 {
		return moved
	}
	s.draft = fresh
	return r.recordCommit(ctx, s, fresh.ResourceVersion, fresh.ResourceVersion)
}

// recordCommit sets (or, empty, removes) the draft's commit annotation and
// mirrors it in status; with at set, only while the draft is at that
// commit.
func (r *Reconciler) recordCommit(ctx context.Context, s *scope, commit, at string) error {
	err := r.writeDraft(ctx, s, s.draft, at, func(draft *porchv1alpha1.PackageRevision) {
		if draft.Annotations == nil {
			draft.Annotations = map[string]string{}
		}
		if commit == "" {
			delete(draft.Annotations, v1.AnnotationCommit)
			delete(draft.Annotations, v1.AnnotationWrittenFiles)
		} else {
			draft.Annotations[v1.AnnotationCommit] = commit
			switch {
			case s.written != "":
				draft.Annotations[v1.AnnotationWrittenFiles] = s.written
			case s.prr != nil && s.prr.Name == s.draft.Name && s.prr.ResourceVersion == commit:
				// The files at that commit, as read: Porch v1.4+ commits
				// this record too, and only the files then tell its
				// commit from a person's.
				draft.Annotations[v1.AnnotationWrittenFiles] = porch.FileDigests(s.prr.Spec.Resources)
			}
		}
		recordPerson(s, draft)
	})
	if err != nil {
		return fmt.Errorf("recording what forkline wrote to %s: %w", s.draft.Name, err)
	}
	s.fresh = true
	s.pv.Status.Sync.Commit = commit
	return nil
}

// writeDraft is revisions.UpdateAt of the variant's draft, its echo
// recorded as sent (Porch sends the watch event before it answers) and as
// answered; a failed write leaves the draft as nobody knows.
func (r *Reconciler) writeDraft(ctx context.Context, s *scope, draft *porchv1alpha1.PackageRevision, at string, mutate func(*porchv1alpha1.PackageRevision)) error {
	sent := draft.DeepCopy()
	mutate(sent)
	r.echoes.wroteDraft(s.pv, sent)
	if err := r.revisions.UpdateAt(ctx, draft, at, mutate); err != nil {
		r.echoes.unknown(s.pv)
		return err
	}
	// Porch's answer is an echo only in the lifecycle forkline sent: an
	// answer that shows another (Porch v1.5's cache behind its write)
	// would hide a person's later move to that lifecycle, a rejection,
	// which keeps the commit there.
	if draft.Spec.Lifecycle == sent.Spec.Lifecycle {
		r.echoes.wroteDraft(s.pv, draft)
	}
	return nil
}

func (r *Reconciler) resources(ctx context.Context, ns, name string) (merge.Tree, error) {
	prr := &porchv1alpha1.PackageRevisionResources{}
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, prr); err != nil {
		return nil, fmt.Errorf("reading resources of %s: %w", name, err)
	}
	return prr.Spec.Resources, nil
}

// upstreamResources is the content of a published upstream revision, read
// once per commit: a release fanning out to many variants is read once,
// not once a variant.
func (r *Reconciler) upstreamResources(ctx context.Context, s *scope, name string) (merge.Tree, error) {
	read := func() (any, bool, error) {
		prr := &porchv1alpha1.PackageRevisionResources{}
		if err := r.reader.Get(ctx, client.ObjectKey{Namespace: s.pv.Namespace, Name: name}, prr); err != nil {
			return nil, false, fmt.Errorf("reading resources of %s: %w", name, err)
		}
		return merge.Tree(prr.Spec.Resources), true, nil
	}
	commit := r.commitOf(s, name)
	if commit == "" {
		files, _, err := read()
		if err != nil {
			return nil, err
		}
		return files.(merge.Tree), nil
	}
	files, err := r.upstreams.Load(s.pv.Namespace+"/"+name+"@"+commit, read)
	if err != nil {
		return nil, err
	}
	return maps.Clone(files.(merge.Tree)), nil
}

// baseResources is the merge's base: the upstream package at the commit
// the published downstream locks, read from git, whatever its tag names
// today. Where git cannot be read, Porch's content of the release the
// downstream is on stands in only while its commit is the locked one.
// nil on a first sync; ErrBaseUnreadable when neither can be trusted.
func (r *Reconciler) baseResources(ctx context.Context, s *scope) (merge.Tree, error) {
	if s.current == "" {
		return nil, nil
	}
	lock := lockedCommit(s.published)
	if files, ok, err := r.gitBase(ctx, s, lock); err != nil || ok {
		return files, err
	}
	base := s.baseRelease()
	switch {
	case base == nil:
		return nil, fmt.Errorf("upstream %s, which the downstream is on, is no longer published and forkline cannot read its locked commit %s from git: %w", upstreamRef(s.pv, s.current), short(lock), errBaseUnreadable)
	case lock != "" && base.ResourceVersion != lock:
		return nil, fmt.Errorf("the downstream locks commit %s of upstream %s, which now names %s, and forkline cannot read %s from git: it merges from no other commit: %w",
			short(lock), upstreamRef(s.pv, s.current), short(base.ResourceVersion), short(lock), errBaseUnreadable)
	}
	return r.upstreamResources(ctx, s, base.Name)
}

// errBaseUnreadable: the merge's base is neither in git nor in Porch at the
// locked commit.
var errBaseUnreadable = errors.New("merge base unreadable")

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

// recordPerson marks the draft as holding a person's content, so no later
// reconcile approves it automatically. The mark is never removed: the
// draft stays a person's to approve.
func recordPerson(s *scope, draft *porchv1alpha1.PackageRevision) {
	if s.personFiles != "" {
		draft.Annotations[v1.AnnotationChangedByPerson] = s.personFiles
	}
}
