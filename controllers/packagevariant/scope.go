package packagevariant

import (
	"path"
	"sort"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/release"
	"github.com/forkline/forkline/internal/status"
)

// scope is what one reconcile learned, passed from step to step.
type scope struct {
	pv *v1.PackageVariant
	// before are the variant's conditions as the reconcile found them.
	before []metav1.Condition
	now    time.Time
	track  release.Track
	done   bool // a step decided the reconcile ends here
	// result is how the reconcile ended, for summarize.
	result status.Result
	// requeue asks to look again after this long even without an event.
	requeue time.Duration

	upstreamRepo   *configapi.Repository // the upstream's Porch Repository
	downstreamRepo *configapi.Repository // the downstream's Porch Repository
	// git is how forkline reads the upstream's history itself (nil: it
	// cannot, gitOff says why).
	git    *gitSource
	gitOff string
	// moved says which release tags forkline took or proposed now name
	// another commit; automatic approval waits for a person while set.
	moved []string
	// notes are the target release's notes, for the sync's status.
	notes *v1.ReleaseNotes
	// rebuild is set when a proposal whose tag moved is rebuilt from the
	// tag's new commit: the merge starts again from the published content.
	rebuild bool

	upstream   []porchv1alpha1.PackageRevision // published upstream revisions
	revisions  []release.Revision              // the same, as releases to select from
	downstream []porchv1alpha1.PackageRevision // every downstream revision of the package
	published  *porchv1alpha1.PackageRevision  // latest published downstream revision
	current    string                          // upstream revision the published downstream is on
	selection  release.Selection
	// configKey is set when the target is the current revision again
	// because the variant's own settings changed.
	configKey string
	// key names the sync the draft holds (AnnotationSync): the target
	// revision, or configKey.
	key string

	draft *porchv1alpha1.PackageRevision // the target's draft, read fresh
	// lookedUp is set once findDraft asked Porch itself what holds a
	// workspace the cache showed free.
	lookedUp bool
	// fresh is set while draft is what Porch answered this reconcile's own
	// read or write of it: no need to read it again.
	fresh bool
	// cloned is set when draft is the clone of the target this reconcile
	// created: its content is the target's, no need to read it.
	cloned bool
	// prr is the draft's content, when read (nil for an unread clone).
	prr *porchv1alpha1.PackageRevisionResources
	// stored is the draft's files as Porch stores them (read, or answered
	// to forkline's last write): a write sends only what differs.
	stored map[string]string
	// mergedFrom is the merge's downstream side, when this reconcile
	// merged: what the proposal's changes are counted against.
	mergedFrom map[string]string
	kf         *porch.Kptfile
	edited     bool // a person changed the draft since forkline last wrote it
	// rollback is set for a draft that restores an earlier published
	// revision exactly: no merge, no steps applied again.
	rollback bool
	// soak is the automatic publish being watched, if any.
	soak soak
	// metadataWritten is set when the reconcile patched the variant's
	// metadata (its finalizer, a hold): the status patch then compares
	// against the new resourceVersion.
	metadataWritten bool
	// onRecorded runs once the status this reconcile computed is written:
	// counting what a person did, seen once.
	onRecorded []func()
	// written fingerprints the files this reconcile wrote to the draft
	// (porch.FileDigests), recorded with its commit.
	written string
	// personFiles names what a person changed in the draft since forkline
	// wrote it, found this reconcile; recorded on the draft
	// (AnnotationChangedByPerson) by the next write forkline makes to it.
	personFiles string
	// unrecorded is set when this reconcile wrote the draft's content and
	// has not recorded its commit on the draft yet.
	unrecorded bool
}

// revisionNumber is N of a vN revision, -1 for any other (main, a draft).
func revisionNumber(pr *porchv1alpha1.PackageRevision) int {
	return porch.Number(pr)
}

// upstreamRevisionOf is the upstream revision a downstream revision was
// cloned or merged from: app/v1.21.3 -> v1.21.3.
func upstreamRevisionOf(pr *porchv1alpha1.PackageRevision) string {
	if pr == nil || pr.Status.UpstreamLock == nil || pr.Status.UpstreamLock.Git == nil {
		return ""
	}
	return path.Base(pr.Status.UpstreamLock.Git.Ref)
}

func byName(prs []porchv1alpha1.PackageRevision) {
	sort.Slice(prs, func(i, j int) bool { return prs[i].Name < prs[j].Name })
}
