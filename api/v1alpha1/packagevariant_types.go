package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream is the package a variant follows and which of its revisions.
// +kubebuilder:validation:XValidation:rule="has(self.versions) != has(self.revision)",message="set exactly one of upstream.versions (a semver constraint such as \"1.21.x\") and upstream.revision (one fixed revision such as \"v1.21.3\")"
// +kubebuilder:validation:XValidation:rule="!has(self.revision) || (!has(self.order) && !has(self.prereleases))",message="upstream.order and upstream.prereleases apply only to upstream.versions"
type Upstream struct {
	PackageRef    `json:",inline"`
	ReleaseTrack  `json:",inline"`
	UpstreamTrust `json:",inline"`

	// skip are upstream releases forkline never syncs to by following the
	// track: revisions such as "v1.21.4", or semver constraints such as
	// ">=1.21.4 <1.21.6". A pin still takes a skipped release.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	Skip []string `json:"skip,omitempty"`
}

// Downstream is where a variant keeps its fork.
type Downstream struct {
	// repo is the Porch Repository (one git repository and branch) holding
	// the fork.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Repo string `json:"repo"`

	// package is the package path in the downstream repository; defaults to
	// the upstream package's path.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9]([A-Za-z0-9_-]|[.][A-Za-z0-9_-])*(/[A-Za-z0-9]([A-Za-z0-9_-]|[.][A-Za-z0-9_-])*)*$')",message="a package path is names separated by '/', each of letters, digits, '-', '_' and single dots, e.g. team/app: Porch turns it into git branch and tag names"
	Package string `json:"package,omitempty"`
}

// PackageVariantSpec is one upstream package followed into one downstream
// repository.
// ("package" is a CEL reserved word: the rule spells it __package__.)
// +kubebuilder:validation:XValidation:rule="self.upstream.repo != self.downstream.repo || (has(self.downstream.__package__) && self.downstream.__package__ != self.upstream.__package__)",message="downstream must differ from upstream: forkline would propose into the package it follows; set downstream.repo or downstream.package"
type PackageVariantSpec struct {
	// upstream is the package followed and which of its releases.
	// +required
	//nolint:kubeapilinter // its inline PackageRef holds the required repo and package.
	Upstream Upstream `json:"upstream"`

	// downstream is where the fork lives.
	// +required
	Downstream Downstream `json:"downstream"`

	PackageVariantTemplate `json:",inline"`
}

// SyncPhase is where the current sync stands.
// +kubebuilder:validation:Enum=Merging;Conflicted;Rendering;Proposed;Published;Declined;Edited;Failed
type SyncPhase string

// The phases of a sync; Merging, Conflicted, Rendering, Proposed and
// Published are the steps of one that goes well.
const (
	PhaseMerging    SyncPhase = "Merging"
	PhaseConflicted SyncPhase = "Conflicted"
	PhaseRendering  SyncPhase = "Rendering"
	PhaseProposed   SyncPhase = "Proposed"
	PhasePublished  SyncPhase = "Published"
	// PhaseDeclined means a person rejected the proposal or deleted the draft;
	// forkline does not propose that upstream revision again until asked
	// (see AnnotationRetry).
	PhaseDeclined SyncPhase = "Declined"
	// PhaseEdited means a person changed forkline's draft; it is theirs now and
	// forkline waits until they propose, publish or delete it.
	PhaseEdited SyncPhase = "Edited"
	// PhaseFailed means the sync cannot go on until a person fixes the spec or
	// the content named in the message (the variant is Stalled).
	PhaseFailed SyncPhase = "Failed"
)

// Conflict is one place where upstream and downstream changed the same thing
// differently.
type Conflict struct {
	// file is the package file, e.g. "deployment.yaml".
	// +required
	File string `json:"file"`
	// resource is group/kind/namespace/name, e.g. "apps/Deployment/default/app".
	// +optional
	Resource string `json:"resource,omitempty"`
	// path is the field path, e.g. "spec.template.spec.containers[name=app].image".
	// +optional
	Path string `json:"path,omitempty"`
	// base is the old upstream value.
	// +optional
	Base string `json:"base,omitempty"`
	// upstream is the new upstream value.
	// +optional
	Upstream string `json:"upstream,omitempty"`
	// downstream is the current downstream value.
	// +optional
	Downstream string `json:"downstream,omitempty"`
}

// UpstreamStatus says where the variant is and where it is going.
type UpstreamStatus struct {
	// current is the upstream revision the published downstream is based on.
	// +optional
	Current string `json:"current,omitempty"`
	// target is the upstream revision being synced to next.
	// +optional
	Target string `json:"target,omitempty"`
	// latestMatching is the newest upstream revision the track matches.
	// +optional
	LatestMatching string `json:"latestMatching,omitempty"`
	// available are the matching upstream revisions newer than current, oldest
	// first (at most 20).
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	Available []string `json:"available,omitempty"`
}

// SyncStatus is the sync in progress or last finished.
type SyncStatus struct {
	// from is the upstream revision the sync starts from (empty on first sync).
	// +optional
	From string `json:"from,omitempty"`
	// to is the upstream revision the sync moves to.
	// +optional
	To string `json:"to,omitempty"`
	// phase is Merging, Conflicted, Rendering, Proposed, Published, Declined
	// (a person rejected the proposal or deleted the draft), Edited (a person
	// changed forkline's draft) or Failed (a person must fix something).
	// +optional
	Phase SyncPhase `json:"phase,omitempty"`
	// draft is the name of the downstream PackageRevision holding the sync.
	// +optional
	Draft string `json:"draft,omitempty"`
	// conflictCount is how many conflicts the draft holds.
	// +optional
	ConflictCount int32 `json:"conflictCount,omitempty"`
	// conflicts are the first conflicts (at most 20); the draft lists all.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// renderStatus summarizes Porch's render of the draft's pipeline.
	// +optional
	RenderStatus string `json:"renderStatus,omitempty"`
	// editedByPerson is true when someone changed the draft after forkline
	// last wrote it; forkline then leaves it alone.
	// +optional
	EditedByPerson bool `json:"editedByPerson,omitempty"`
	// commit is the git commit of the draft as forkline last left it (the
	// draft's forkline.dev/commit annotation is the durable copy).
	// +optional
	Commit string `json:"commit,omitempty"`
	// upstreamCommit is the upstream commit the draft was built from: the
	// target release's commit when forkline merged or cloned it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UpstreamCommit string `json:"upstreamCommit,omitempty"`
	// releaseNotes are why upstream changed: the release tag's annotation
	// and the subjects of the upstream commits between the two locked
	// commits that touch the package.
	// +optional
	ReleaseNotes *ReleaseNotes `json:"releaseNotes,omitempty"`
	// changes are what the draft changes against the downstream's last
	// published revision, counted by origin, as of forkline's last write
	// or proposal of it.
	// +optional
	Changes *ChangeSummary `json:"changes,omitempty"`
	// missingSince is when Porch first answered NotFound for the draft; it
	// is called deleted by a person only once missing for 30 s (Porch can
	// briefly lose a draft while it re-lists its repository).
	// +optional
	MissingSince *metav1.Time `json:"missingSince,omitempty"`
	// hold is the hold that stopped this sync's automatic approval, if
	// any: its reason and when it was first seen.
	// +optional
	Hold *HoldRecord `json:"hold,omitempty"`
	// message says what the sync waits on or why it failed.
	// +optional
	Message string `json:"message,omitempty"`
	// startedAt is when the sync began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// finishedAt is when the sync was published or failed.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// ChangeSummary counts what a proposal changes against the downstream's
// last published revision (everything is added on a first sync), and
// where each change came from.
type ChangeSummary struct {
	// files counts the package files added, removed and changed.
	// +optional
	Files *ChangeCounts `json:"files,omitempty"`
	// resources counts the KRM resources added, removed and changed.
	// +optional
	Resources *ChangeCounts `json:"resources,omitempty"`
	// upstream is how many resources the upstream release changed.
	// +optional
	Upstream int32 `json:"upstream,omitempty"`
	// steps is how many resources the variant's steps, injection or
	// package context changed (changes neither upstream nor a person made).
	// +optional
	Steps int32 `json:"steps,omitempty"`
	// person is how many resources a person changed in the draft.
	// +optional
	Person int32 `json:"person,omitempty"`
	// needsPerson are the classes of change the upstream release makes
	// that approval.requirePersonFor lists (Pipeline, RBAC, ClusterScoped,
	// Webhooks, CRDs), each at most once.
	// +optional
	// +kubebuilder:validation:MaxItems=5
	// +listType=set
	NeedsPerson []ChangeClass `json:"needsPerson,omitempty"`
	// summary says it in one line, e.g. "3 resources changed (upstream 2,
	// steps 1); pipeline unchanged".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Summary string `json:"summary,omitempty"`
}

// ChangeCounts counts what was added, removed and changed.
type ChangeCounts struct {
	// added is how many were added.
	// +optional
	Added int32 `json:"added,omitempty"`
	// removed is how many were removed.
	// +optional
	Removed int32 `json:"removed,omitempty"`
	// changed is how many were changed.
	// +optional
	Changed int32 `json:"changed,omitempty"`
}

// ReleaseNotes are an upstream release's notes, trimmed.
type ReleaseNotes struct {
	// tag is the release's git tag.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Tag string `json:"tag,omitempty"`
	// annotation is the tag's message (an annotated tag), at most 2,000
	// characters.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Annotation string `json:"annotation,omitempty"`
	// commits are the subjects of the upstream commits since the locked
	// commit that touch the package, newest first, at most 50.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=atomic
	Commits []string `json:"commits,omitempty"`
	// more is true when there were more commits than listed.
	// +optional
	More bool `json:"more,omitempty"`
}

// HoldRecord is a hold on a sync's automatic approval.
type HoldRecord struct {
	// reason is the forkline.dev/hold annotation's value and where it was.
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Reason string `json:"reason"`
	// since is when forkline first saw the hold.
	// +required
	Since metav1.Time `json:"since"`
}

// SyncRecord is one finished sync.
type SyncRecord struct {
	// from is the upstream revision synced from.
	// +optional
	From string `json:"from,omitempty"`
	// to is the upstream revision synced to.
	// +required
	To string `json:"to"`
	// phase is Published or Failed.
	// +required
	Phase SyncPhase `json:"phase"`
	// revision is the downstream revision published, e.g. "v3".
	// +optional
	Revision string `json:"revision,omitempty"`
	// downstream is the repository/package it was published in.
	// +optional
	Downstream string `json:"downstream,omitempty"`
	// commit is the upstream commit the sync took (the published
	// revision's upstreamLock.git.commit).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Commit string `json:"commit,omitempty"`
	// rollback is true when the sync restored an earlier published
	// revision's content (a pin back to an older release).
	// +optional
	Rollback bool `json:"rollback,omitempty"`
	// hold is the hold that stopped the sync's automatic approval for a
	// while, if any.
	// +optional
	Hold *HoldRecord `json:"hold,omitempty"`
	// approvedBy is who approved it: forkline (automatic approval) or a
	// person.
	// +optional
	// +kubebuilder:validation:Enum=forkline;person
	ApprovedBy string `json:"approvedBy,omitempty"`
	// startedAt is when the sync began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// finishedAt is when it was published or failed.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// PackageVariantStatus is what forkline observed and did.
type PackageVariantStatus struct {
	// conditions are Ready, Reconciling and Stalled (kstatus), plus
	// UpToDate, Conflicted and AwaitingApproval.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type" protobuf:"bytes,1,rep,name=conditions"`

	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// upstream says where the variant is and where it is going.
	// +optional
	Upstream *UpstreamStatus `json:"upstream,omitempty"`

	// sync is the sync in progress or last finished.
	// +optional
	Sync *SyncStatus `json:"sync,omitempty"`

	// lastHandledRetry is the forkline.dev/retry annotation value last acted
	// on.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	LastHandledRetry string `json:"lastHandledRetry,omitempty"`
	// lastHandledReconcileAt is the forkline.dev/reconcile annotation value
	// last acted on.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
	// skipped are upstream releases forkline stopped taking by itself: a
	// health check failed after it published them. They add to
	// spec.upstream.skip; a person clears one by removing it from status
	// (or recreating the variant).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Skipped []string `json:"skipped,omitempty"`
	// rollbackTo is the upstream release an automatic rollback is taking
	// the branch back to, until it is published there.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RollbackTo string `json:"rollbackTo,omitempty"`
	// releaseMissingSince is when forkline first found Porch not listing
	// the newest downstream release history records. forkline does not
	// start a package over while Porch re-lists its repository (a
	// re-registered Repository lists nothing at first); after 2 minutes it
	// asks a person (Stalled, ReleaseMissing).
	// +optional
	ReleaseMissingSince *metav1.Time `json:"releaseMissingSince,omitempty"`
	// history are the last finished syncs, newest first (at most 10).
	// +optional
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	History []SyncRecord `json:"history,omitempty"`
}

// PackageVariant keeps one downstream package in step with one upstream
// package, following its releases by semver and holding each merge in a
// Porch Draft.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fpv,categories=forkline
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Upstream",type=string,JSONPath=`.spec.upstream.package`,priority=1
// +kubebuilder:printcolumn:name="Downstream",type=string,JSONPath=`.spec.downstream.repo`
// +kubebuilder:printcolumn:name="Current",type=string,JSONPath=`.status.upstream.current`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.status.upstream.target`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.sync.phase`
// +kubebuilder:printcolumn:name="Waiting",type=string,JSONPath=`.status.conditions[?(@.type=="AwaitingApproval")].reason`
// +kubebuilder:printcolumn:name="Draft",type=string,JSONPath=`.status.sync.draft`,priority=1
// +kubebuilder:printcolumn:name="Changes",type=string,JSONPath=`.status.sync.changes.summary`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PackageVariant struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the variant's object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the variant follows and how.
	// +required
	Spec PackageVariantSpec `json:"spec"`

	// status is what forkline observed and did.
	// +optional
	Status PackageVariantStatus `json:"status,omitempty"`
}

// PackageVariantList is a list of PackageVariants.
//
// +kubebuilder:object:root=true
type PackageVariantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PackageVariant `json:"items"`
}
