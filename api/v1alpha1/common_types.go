package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PackageRef names a package in a Porch Repository.
type PackageRef struct {
	// repo is the name of the Porch Repository (config.porch.kpt.dev) in the
	// same namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Repo string `json:"repo"`

	// package is the package path inside the repository, e.g. "app" or
	// "network/app".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Package string `json:"package"`
}

// UpstreamTrust is what forkline checks of an upstream release before it
// merges or proposes anything from it. forkline always merges from the
// commit the downstream's Kptfile locks (upstreamLock.git.commit), never
// from what a tag names today.
type UpstreamTrust struct {
	// verify takes only releases signed by a trusted OpenPGP key, as Flux's
	// GitRepository spec.verify: an unsigned or wrongly signed release is
	// never merged or proposed.
	// +optional
	Verify *Verification `json:"verify,omitempty"`

	// onMovedTag is what forkline does when the tag of a release it
	// proposed now names another commit: Stop (default) keeps the proposal
	// unapproved and waits for a person (annotation
	// forkline.dev/accept-moved: <tag> rebuilds it from the new commit);
	// Follow rebuilds it without asking. Either way the move is stated
	// (condition and Warning Event UpstreamReleaseMoved).
	// +optional
	OnMovedTag MovedTagPolicy `json:"onMovedTag,omitempty"`
}

// EffectiveOnMovedTag is the policy in force: Stop unless set.
func (t UpstreamTrust) EffectiveOnMovedTag() MovedTagPolicy {
	if t.OnMovedTag == "" {
		return MovedTagStop
	}
	return t.OnMovedTag
}

// MovedTagPolicy is what to do with a proposal whose release tag moved.
// +kubebuilder:validation:Enum=Stop;Follow
type MovedTagPolicy string

const (
	// MovedTagStop waits for a person.
	MovedTagStop MovedTagPolicy = "Stop"
	// MovedTagFollow rebuilds the proposal from the tag's new commit.
	MovedTagFollow MovedTagPolicy = "Follow"
)

// Verification is how releases are verified.
type Verification struct {
	// mode is Commit (the commit the release's tag names is signed by a
	// trusted key), Tag (the release's annotated tag is signed) or
	// TagAndCommit (both). Porch v1.3.0 lists a release only for a
	// lightweight tag (it ignores annotated tags), so with it use Commit.
	// +required
	Mode VerificationMode `json:"mode"`

	// secretRef names a Secret in the variant's namespace; each of its data
	// values is an armored OpenPGP public key ring (one or more keys). The
	// namespace grants forkline get on it (docs/install.md).
	// +required
	SecretRef SecretReference `json:"secretRef"`
}

// VerificationMode is what a verified release carries.
// +kubebuilder:validation:Enum=Commit;Tag;TagAndCommit
type VerificationMode string

const (
	// VerifyCommit needs the tagged commit signed.
	VerifyCommit VerificationMode = "Commit"
	// VerifyTag needs the tag signed.
	VerifyTag VerificationMode = "Tag"
	// VerifyTagAndCommit needs the tag and its commit signed.
	VerifyTagAndCommit VerificationMode = "TagAndCommit"
)

// SecretReference names a Secret in the same namespace.
type SecretReference struct {
	// name is the Secret's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ReleaseOrder says how a variant walks the releases that match its track.
// +kubebuilder:validation:Enum=OldestFirst;Latest
type ReleaseOrder string

const (
	// OldestFirst takes every matching release in semver order, one at a time.
	OldestFirst ReleaseOrder = "OldestFirst"
	// Latest jumps straight to the newest matching release.
	Latest ReleaseOrder = "Latest"
)

// ReleaseTrack says which upstream revisions a downstream follows: a semver
// constraint over the upstream's published revisions, or one fixed revision.
type ReleaseTrack struct {
	// versions is a semver constraint (Masterminds syntax) matched against the
	// upstream's published revisions, e.g. "1.21.x", "~1.22" or ">=1.21 <1.23".
	// Revisions that are not semver (main, v1) never match.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Versions string `json:"versions,omitempty"`

	// revision is one fixed upstream revision to follow, e.g. "v1.21.3".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Revision string `json:"revision,omitempty"`

	// prereleases lets a versions constraint match pre-release revisions
	// such as v1.22.0-rc.1. Default false.
	// +optional
	Prereleases bool `json:"prereleases,omitempty"`

	// order is OldestFirst (default: walk every matching release in order) or
	// Latest (jump to the newest matching release).
	// +optional
	Order ReleaseOrder `json:"order,omitempty"`
}

// EffectiveOrder is the order in force: OldestFirst unless set.
func (t ReleaseTrack) EffectiveOrder() ReleaseOrder {
	if t.Order == "" {
		return OldestFirst
	}
	return t.Order
}

// Function is one kpt function in a Kptfile pipeline, as in kpt's Kptfile.
type Function struct {
	// image is the function's container image; on the local stack it maps to
	// a binary in the function runner's exec runtime.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image"`

	// name identifies the function within the variant; forkline writes it into
	// the Kptfile as forkline.<variant>.<name>.<index>. Defaults to the last
	// path element of the image without its tag.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name,omitempty"`

	// configMap is the function's inline configuration.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	ConfigMap map[string]string `json:"configMap,omitempty"`

	// configPath is a file in the package holding the function's configuration.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	ConfigPath string `json:"configPath,omitempty"`

	// selectors restrict the function to matching resources.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	//nolint:kubeapilinter // as in kpt's Kptfile, a selector matches on any of its fields; none is required.
	Selectors []ResourceSelector `json:"selectors,omitempty"`

	// exclude skips matching resources.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	//nolint:kubeapilinter // as in kpt's Kptfile, a selector matches on any of its fields; none is required.
	Exclude []ResourceSelector `json:"exclude,omitempty"`
}

// ResourceSelector matches resources in a package, as in kpt's Kptfile.
type ResourceSelector struct {
	// apiVersion of matching resources.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion,omitempty"`
	// kind of matching resources.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind,omitempty"`
	// name of matching resources.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
	// namespace of matching resources.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// labels every matching resource carries.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations every matching resource carries.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Pipeline is the list of steps forkline adds to the downstream Kptfile.
type Pipeline struct {
	// position is where the variant's functions go in the Kptfile's
	// pipeline: First (default), before the package's own, as Porch's
	// PackageVariant puts them; or Last, after them, so that a variant's
	// mutator has the last word over the upstream's (an image the branch
	// sets that an upstream set-image would otherwise overwrite).
	// +optional
	// +kubebuilder:validation:Enum=First;Last
	Position PipelinePosition `json:"position,omitempty"`

	// mutators run in order and may change resources.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	Mutators []Function `json:"mutators,omitempty"`

	// validators run after the mutators and may only report.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	Validators []Function `json:"validators,omitempty"`
}

// PipelinePosition is where a variant's functions go in the pipeline.
type PipelinePosition string

const (
	// PipelineFirst puts the variant's functions before the package's own,
	// as Porch's PackageVariant does.
	PipelineFirst PipelinePosition = "First"
	// PipelineLast puts them after the package's own.
	PipelineLast PipelinePosition = "Last"
)

// Injector selects same-namespace objects that fill the package's
// kpt.dev/config-injection points, as in Porch's PackageVariant.
// +kubebuilder:validation:XValidation:rule="has(self.group) && size(self.group) > 0 || !has(self.kind) || self.kind == 'ConfigMap'",message="an injector without a group injects a ConfigMap: set group (and version) for any other kind"
type Injector struct {
	// group of the injected object; empty means the core group.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	//nolint:kubeapilinter // empty is the core group, as in an apiVersion: unset and "" mean the same.
	Group string `json:"group,omitempty"`
	// version of the injected object.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Version string `json:"version,omitempty"`
	// kind of the injected object; defaults to ConfigMap.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind,omitempty"`
	// name of the injected object in the variant's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// PackageContext edits the package-context ConfigMap, as in Porch. The keys
// name and package-path are Porch's own (the package's name and path in its
// repository) and refused, as Porch's PackageVariant refuses them.
type PackageContext struct {
	// data keys to set in the package context; not name or package-path.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="!('name' in self) && !('package-path' in self)",message="must not contain the key \"name\" or \"package-path\": Porch sets them"
	Data map[string]string `json:"data,omitempty"`
	// removeKeys are deleted from the package context; not name or
	// package-path.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="!self.exists(k, k == 'name' || k == 'package-path')",message="must not contain the key \"name\" or \"package-path\": Porch sets them"
	// +listType=atomic
	RemoveKeys []string `json:"removeKeys,omitempty"`
}

// AdoptionPolicy says whether a variant takes over a downstream package it did
// not create.
// +kubebuilder:validation:Enum=adoptNone;adoptExisting
type AdoptionPolicy string

const (
	// AdoptNone leaves packages forkline did not create alone.
	AdoptNone AdoptionPolicy = "adoptNone"
	// AdoptExisting takes over an existing downstream package of the same name.
	AdoptExisting AdoptionPolicy = "adoptExisting"
)

// DeletionPolicy says what happens to downstream revisions when a variant is
// deleted. Published revisions are never hard-deleted.
// +kubebuilder:validation:Enum=delete;orphan
type DeletionPolicy string

const (
	// DeletionDelete deletes Drafts and Proposed revisions and proposes
	// Published ones for deletion (DeletionProposed).
	DeletionDelete DeletionPolicy = "delete"
	// DeletionOrphan leaves every downstream revision in place.
	DeletionOrphan DeletionPolicy = "orphan"
)

// MergeStrategy is how an upgrade combines old upstream, new upstream and the
// current downstream.
// +kubebuilder:validation:Enum=resource-merge;fast-forward;force-delete-replace;copy-merge
type MergeStrategy string

const (
	// ResourceMerge is a 3-way merge per resource and field that reports
	// conflicts instead of taking a side.
	ResourceMerge MergeStrategy = "resource-merge"
	// FastForward takes upstream and fails if downstream changed anything.
	FastForward MergeStrategy = "fast-forward"
	// ForceDeleteReplace takes upstream, discarding downstream changes.
	ForceDeleteReplace MergeStrategy = "force-delete-replace"
	// CopyMerge copies upstream files over downstream, keeping local-only files.
	CopyMerge MergeStrategy = "copy-merge"
)

// ConflictPolicy is what resource-merge does when both sides changed the same
// field.
// +kubebuilder:validation:Enum=Report;PreferUpstream;PreferDownstream
type ConflictPolicy string

const (
	// ReportConflicts stops and shows the conflict in the draft.
	ReportConflicts ConflictPolicy = "Report"
	// PreferUpstream takes upstream's value, as Porch does.
	PreferUpstream ConflictPolicy = "PreferUpstream"
	// PreferDownstream keeps downstream's value.
	PreferDownstream ConflictPolicy = "PreferDownstream"
)

// Merge configures upgrades.
type Merge struct {
	// strategy is resource-merge (default), fast-forward, force-delete-replace
	// or copy-merge.
	// +optional
	Strategy MergeStrategy `json:"strategy,omitempty"`

	// conflictPolicy is Report (default): conflicts are shown in the draft and
	// wait for a person; PreferUpstream or PreferDownstream resolve them.
	// +optional
	ConflictPolicy ConflictPolicy `json:"conflictPolicy,omitempty"`
}

// ApprovalMode says who approves a proposed draft.
// +kubebuilder:validation:Enum=Manual;Automatic
type ApprovalMode string

const (
	// ManualApproval waits for a person (porchctl rpkg approve).
	ManualApproval ApprovalMode = "Manual"
	// AutomaticApproval approves inside the approval windows.
	AutomaticApproval ApprovalMode = "Automatic"
)

// Weekday is a day of the week.
// +kubebuilder:validation:Enum=Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday
type Weekday string

// ApprovalWindow is a weekly time range in which automatic approval may act.
// A window whose end is before its start runs past midnight (22:00-04:00),
// counted from the days it opens.
// +kubebuilder:validation:XValidation:rule="self.start != self.end",message="window start and end must differ (an end before the start runs past midnight)"
type ApprovalWindow struct {
	// days the window is open; empty means every day.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=7
	Days []Weekday `json:"days,omitempty"`

	// start is the local time the window opens, "HH:MM".
	// +required
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	Start string `json:"start"`

	// end is the local time the window closes, "HH:MM" (24:00 for midnight).
	// +required
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:Pattern=`^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$`
	End string `json:"end"`

	// timeZone is an IANA time zone name such as "Europe/Berlin"; default UTC.
	// The API server rejects a name its time zone database does not know.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="timestamp('2000-01-01T00:00:00Z').getHours(self) >= 0",message="timeZone must be an IANA time zone name such as Europe/Berlin"
	TimeZone string `json:"timeZone,omitempty"`
}

// Approval configures who approves drafts and when.
type Approval struct {
	// mode is Manual (default) or Automatic.
	// +optional
	Mode ApprovalMode `json:"mode,omitempty"`

	// windows are the weekly ranges in which Automatic approval acts; empty
	// means any time.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	Windows []ApprovalWindow `json:"windows,omitempty"`

	// minimumReleaseAge is the soak time an upstream release must have been
	// published before a variant takes it, e.g. "72h".
	// +optional
	MinimumReleaseAge *metav1.Duration `json:"minimumReleaseAge,omitempty"`

	// maxPublishesPerHour caps automatic approvals of this variant per hour.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxPublishesPerHour *int32 `json:"maxPublishesPerHour,omitempty"`

	// healthCheck names the object whose health, read with kstatus, says
	// whether an automatic publish is good: the Flux Kustomization or
	// Config Sync RootSync that deploys this branch. If it turns Failed
	// within soakTime after forkline approved a release, forkline rolls
	// back to the previous published revision, skips the release
	// (status.skipped) and holds the variant (forkline.dev/hold). The next
	// automatic approval waits until the object is Current after the soak.
	// The manager needs read access to its kind.
	// +optional
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`

	// soakTime is how long after an automatic publish forkline watches the
	// health check; default 10m.
	// +optional
	SoakTime *metav1.Duration `json:"soakTime,omitempty"`

	// requirePersonFor are the kinds of upstream change that a person
	// approves even under Automatic approval: a Kptfile pipeline function
	// added, removed or changed (Pipeline), any RBAC object (RBAC),
	// cluster-scoped object (ClusterScoped), admission webhook or policy
	// (Webhooks) or CustomResourceDefinition (CRDs) added, removed or
	// changed between the release the branch is on and the one proposed.
	// Unset means all five; an empty list turns the check off.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=5
	//nolint:kubeapilinter // unset (all five) and empty (none) differ: the pointer tells them apart.
	RequirePersonFor *[]ChangeClass `json:"requirePersonFor,omitempty"`
}

// ChangeClass is a kind of upstream change that needs a person.
// +kubebuilder:validation:Enum=Pipeline;RBAC;ClusterScoped;Webhooks;CRDs
type ChangeClass string

// The change classes.
const (
	ChangePipeline      ChangeClass = "Pipeline"
	ChangeRBAC          ChangeClass = "RBAC"
	ChangeClusterScoped ChangeClass = "ClusterScoped"
	ChangeWebhooks      ChangeClass = "Webhooks"
	ChangeCRDs          ChangeClass = "CRDs"
)

// AllChangeClasses are the classes requirePersonFor holds unless set.
var AllChangeClasses = []ChangeClass{ChangePipeline, ChangeRBAC, ChangeClusterScoped, ChangeWebhooks, ChangeCRDs}

// EffectiveRequirePersonFor is the change classes a person approves: all
// of them unless set.
func (a *Approval) EffectiveRequirePersonFor() []ChangeClass {
	if a == nil || a.RequirePersonFor == nil {
		return AllChangeClasses
	}
	return *a.RequirePersonFor
}

// HealthCheck names one object by apiVersion, kind, name and namespace.
type HealthCheck struct {
	// apiVersion of the object, e.g. kustomize.toolkit.fluxcd.io/v1.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion"`
	// kind of the object, e.g. Kustomization.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// namespace of the object; default the variant's.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// EffectiveSoakTime is the soak time in force: 10 minutes unless set.
func (a *Approval) EffectiveSoakTime() time.Duration {
	if a == nil || a.SoakTime == nil {
		return 10 * time.Minute
	}
	return a.SoakTime.Duration
}

// Pin holds a downstream at one upstream revision, with a reason, until a
// date.
// +kubebuilder:validation:XValidation:rule="size(self.reason) > 0",message="pin.reason must say why the variant is pinned: a pin without a reason is invalid"
type Pin struct {
	// revision is the upstream revision to hold at, e.g. "v1.21.2".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Revision string `json:"revision"`

	// reason says why, for the people who will want to lift the pin.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`

	// until is when the pin lapses and the variant follows its track again;
	// unset means until someone removes the pin.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`
}

// PackageVariantTemplate is every PackageVariant setting except which
// upstream and downstream it connects; an UpstreamPolicy stamps it onto each
// variant it generates.
type PackageVariantTemplate struct {
	// pin holds the downstream at one upstream revision.
	// +optional
	Pin *Pin `json:"pin,omitempty"`

	// pipeline are the steps (kpt functions) added to the downstream Kptfile,
	// named forkline.<variant>.<function>.<index>.
	// +optional
	Pipeline *Pipeline `json:"pipeline,omitempty"`

	// injectors select the objects that fill the package's
	// kpt.dev/config-injection points.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	Injectors []Injector `json:"injectors,omitempty"`

	// packageContext edits the package's package-context ConfigMap.
	// +optional
	PackageContext *PackageContext `json:"packageContext,omitempty"`

	// labels are set on the drafts forkline creates (and so on the
	// revisions they are published as); a person's revisions are not
	// touched.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations are set on the drafts forkline creates (and so on the
	// revisions they are published as); a person's revisions are not
	// touched.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// adoptionPolicy is adoptNone (default) or adoptExisting.
	// +optional
	AdoptionPolicy AdoptionPolicy `json:"adoptionPolicy,omitempty"`

	// deletionPolicy is delete (default) or orphan.
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// merge configures how upgrades are merged.
	// +optional
	Merge *Merge `json:"merge,omitempty"`

	// approval configures who approves drafts and when.
	// +optional
	Approval *Approval `json:"approval,omitempty"`

	// suspend holds the variant: nothing is created, proposed or approved;
	// nothing is deleted.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}
