package v1alpha1

// Annotations people set on forkline's objects.
const (
	// AnnotationRetry on a PackageVariant asks forkline to take up again a
	// sync a person declined (rejected its proposal or deleted its draft),
	// or to go on from what Porch lists when a release forkline saw
	// published is gone (ReleaseMissing).
	// Any new value is one request, as Flux's reconcile.fluxcd.io/requestedAt:
	//   kubectl annotate packagevariant NAME forkline.dev/retry="$(date +%s)" --overwrite
	// status.lastHandledRetry records the value acted on.
	AnnotationRetry = "forkline.dev/retry"
	// AnnotationHold on a PackageVariant or on its draft PackageRevision
	// holds automatic approval of that change, with the value as the reason
	// shown in status; merging and proposing go on. Remove it to let the
	// change go on:
	//   kubectl annotate packagevariant NAME forkline.dev/hold="waiting for the CAB"
	AnnotationHold = "forkline.dev/hold"
	// AnnotationAcceptMoved on a PackageVariant names a release tag (e.g.
	// app/v1.0.2) whose move to another commit a person accepts: forkline
	// rebuilds the proposal from the tag's new commit (spec.upstream.
	// onMovedTag: Stop waits for it).
	//   kubectl annotate packagevariant NAME forkline.dev/accept-moved=app/v1.0.2
	AnnotationAcceptMoved = "forkline.dev/accept-moved"
	// AnnotationReconcile on a PackageVariant or UpstreamPolicy asks for a
	// reconcile now, as Flux's reconcile.fluxcd.io/requestedAt: any new
	// value is one request, and status.lastHandledReconcileAt records the
	// one acted on (kubectl forkline reconcile waits for it).
	//   kubectl annotate packagevariant NAME forkline.dev/reconcile="$(date +%s)" --overwrite
	AnnotationReconcile = "forkline.dev/reconcile"
)

// Annotations forkline keeps on the downstream PackageRevisions it makes.
// Porch keeps a revision's annotations through propose and approve, so they
// identify forkline's revisions by the variant's UID, never by a name, and
// carry the record that protects people's edits with the draft itself.
// forkline never puts an ownerReference on a PackageRevision: the garbage
// collector would delete published releases and people's drafts with it.
const (
	// AnnotationOwnerUID is the UID of the PackageVariant that made the
	// revision.
	AnnotationOwnerUID = "forkline.dev/owner-uid"
	// AnnotationOwner is that variant's name, for people.
	AnnotationOwner = "forkline.dev/owner"
	// AnnotationSync names what the draft holds: the upstream revision, plus
	// a hash of the variant's settings when only those changed.
	AnnotationSync = "forkline.dev/sync"
	// AnnotationCommit is the git commit the draft was at when forkline last
	// wrote or judged it (Porch's resourceVersion of a revision is its
	// commit; metadata and lifecycle writes keep it). A draft at another
	// commit was written by a person and is never overwritten.
	AnnotationCommit = "forkline.dev/commit"
	// AnnotationWrittenFiles fingerprints each file of the draft at the
	// commit forkline recorded ("name=digest,..."), so the files a person
	// changed since can be named. Absent on a package of more files than
	// an annotation holds.
	AnnotationWrittenFiles = "forkline.dev/written-files"
	// AnnotationChangedByPerson names the files a person changed in the
	// draft after forkline wrote it (a conflict resolution, any push).
	// forkline sets it when it goes on from such a push and keeps it for
	// the draft's life: it never approves a draft carrying it by itself.
	AnnotationChangedByPerson = "forkline.dev/changed-by-person"
	// AnnotationProposed is set when forkline proposes the draft; a draft
	// carrying it that is a Draft again was rejected by a person.
	AnnotationProposed = "forkline.dev/proposed"
	// AnnotationApprovedAt is set, in the same write, when forkline itself
	// approves a proposal: the record its rate limits count.
	AnnotationApprovedAt = "forkline.dev/approved-at"
	// AnnotationRollbackOf names the published revision whose content a
	// rollback draft restores, exactly.
	AnnotationRollbackOf = "forkline.dev/rollback-of"
)

// LabelShard assigns a PackageVariant or UpstreamPolicy to the manager
// started with --watch-label-selector=forkline.dev/shard=<value> (sharding,
// as Flux's sharding.fluxcd.io/key). An UpstreamPolicy copies its own value
// to the variants it generates, so a policy and its variants share a shard.
const LabelShard = "forkline.dev/shard"
