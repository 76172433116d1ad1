package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultVersionsAnnotation is the Repository annotation that carries a
// selected branch's semver track.
const DefaultVersionsAnnotation = "forkline.dev/versions"

// RepositoryTarget is one downstream repository named explicitly.
// +kubebuilder:validation:XValidation:rule="has(self.versions) != has(self.revision)",message="set exactly one of versions (a semver constraint such as \"1.21.x\") and revision for each repository target"
type RepositoryTarget struct {
	// repo is the downstream Porch Repository.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Repo string `json:"repo"`

	// package is the downstream package path; defaults to the upstream's.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	// It is a path of names separated by '/', each of letters, digits,
	// '-', '_' and single dots, e.g. team/app.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([A-Za-z0-9_-]|[.][A-Za-z0-9_-])*(/[A-Za-z0-9]([A-Za-z0-9_-]|[.][A-Za-z0-9_-])*)*$`
	Package string `json:"package,omitempty"`

	ReleaseTrack `json:",inline"`
}

// RepositorySelectorTarget selects downstream Porch Repositories by label; each
// selected repository's track is read from an annotation on it, or all
// follow one fixed revision.
// +kubebuilder:validation:XValidation:rule="!(has(self.revision) && has(self.versionsAnnotation))",message="set revision (every selected repository follows it) or versionsAnnotation (each names its track), not both"
type RepositorySelectorTarget struct {
	// selector matches Porch Repositories in the policy's namespace.
	// +required
	Selector metav1.LabelSelector `json:"selector"`

	// versionsAnnotation names the Repository annotation holding the semver
	// track; default "forkline.dev/versions". A selected repository without
	// it is reported, not guessed.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	VersionsAnnotation string `json:"versionsAnnotation,omitempty"`

	// revision is one fixed upstream revision every selected repository
	// follows, e.g. "v1.21.3" or "v3", as a Porch PackageVariantSet's
	// upstream gives one; set instead of each repository's annotation.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Revision string `json:"revision,omitempty"`

	// package is the downstream package path; defaults to the upstream's.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:MinLength=1
	// It is a path of names separated by '/', each of letters, digits,
	// '-', '_' and single dots, e.g. team/app.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([A-Za-z0-9_-]|[.][A-Za-z0-9_-])*(/[A-Za-z0-9]([A-Za-z0-9_-]|[.][A-Za-z0-9_-])*)*$`
	Package string `json:"package,omitempty"`

	// prereleases lets the tracks match pre-releases.
	// +optional
	Prereleases bool `json:"prereleases,omitempty"`

	// order is OldestFirst (default) or Latest.
	// +optional
	Order ReleaseOrder `json:"order,omitempty"`
}

// EffectiveVersionsAnnotation is the annotation in force.
func (t RepositorySelectorTarget) EffectiveVersionsAnnotation() string {
	if t.VersionsAnnotation == "" {
		return DefaultVersionsAnnotation
	}
	return t.VersionsAnnotation
}

// ObjectSelectorTarget selects objects of any kind by label (for example one
// object per cluster or branch) and reads each target from their fields.
// +kubebuilder:validation:XValidation:rule="has(self.versionsField) != has(self.revision)",message="set exactly one of versionsField (each object names its track) and revision (every object follows it)"
type ObjectSelectorTarget struct {
	// apiVersion of the selected objects, e.g. "infra.example.com/v1".
	// +required
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`

	// kind of the selected objects.
	// +required
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`

	// selector matches objects in the policy's namespace.
	// +required
	Selector metav1.LabelSelector `json:"selector"`

	// repoField is the dotted field path holding the downstream repository
	// name, e.g. "spec.repo".
	// +required
	// +kubebuilder:validation:MinLength=1
	RepoField string `json:"repoField"`

	// versionsField is the dotted field path holding the semver track.
	// +optional
	// +kubebuilder:validation:MinLength=1
	VersionsField string `json:"versionsField,omitempty"`

	// revision is one fixed upstream revision every selected object's
	// branch follows, e.g. "v1.21.3" or "v3"; set instead of versionsField.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Revision string `json:"revision,omitempty"`

	// packageField is the dotted field path holding the downstream package;
	// defaults to the upstream's package.
	// +optional
	// +kubebuilder:validation:MinLength=1
	PackageField string `json:"packageField,omitempty"`
}

// Target is one way of naming downstream branches: set exactly one of
// repositories, repositorySelector and objectSelector.
// +kubebuilder:validation:XValidation:rule="[has(self.repositories), has(self.repositorySelector), has(self.objectSelector)].filter(x, x).size() == 1",message="each target sets exactly one of repositories, repositorySelector and objectSelector"
type Target struct {
	// repositories names downstream repositories explicitly.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	Repositories []RepositoryTarget `json:"repositories,omitempty"`

	// repositorySelector selects Porch Repositories by label.
	// +optional
	RepositorySelector *RepositorySelectorTarget `json:"repositorySelector,omitempty"`

	// objectSelector selects objects of any kind by label.
	// +optional
	ObjectSelector *ObjectSelectorTarget `json:"objectSelector,omitempty"`

	// template overrides the policy's template for this target's variants,
	// field by field.
	// +optional
	Template *PackageVariantTemplate `json:"template,omitempty"`
}

// PolicyUpstream is a policy's upstream package and the checks every
// generated variant makes of its releases.
type PolicyUpstream struct {
	PackageRef    `json:",inline"`
	UpstreamTrust `json:",inline"`
}

// UpstreamPolicySpec fans one upstream package out to many branches.
type UpstreamPolicySpec struct {
	// upstream is the package every generated variant follows, and what
	// forkline checks of its releases.
	// +required
	//nolint:kubeapilinter // its inline PackageRef holds the required repo and package.
	Upstream PolicyUpstream `json:"upstream"`

	// targets name the downstream branches.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	//nolint:kubeapilinter // a target sets exactly one of its selectors (a CEL rule says so); none is required alone.
	Targets []Target `json:"targets"`

	// template is applied to every generated PackageVariant.
	// +optional
	Template *PackageVariantTemplate `json:"template,omitempty"`

	// suspend holds every variant of the policy.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// rollout paces automatic approvals across the policy's variants.
	// +optional
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Rollout paces automatic approvals across a policy's variants, so a fleet
// of branches is not approved in one burst.
type Rollout struct {
	// maxPublishesPerHour is the budget of automatic approvals per hour
	// shared by all the policy's variants.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxPublishesPerHour *int32 `json:"maxPublishesPerHour,omitempty"`
}

// TargetStatus is one row of the policy's status board: one generated variant.
type TargetStatus struct {
	// variant is the generated PackageVariant's name.
	// +optional
	Variant string `json:"variant,omitempty"`
	// repo is the downstream repository.
	// +required
	Repo string `json:"repo"`
	// package is the downstream package.
	// +optional
	Package string `json:"package,omitempty"`
	// track is the semver constraint or fixed revision followed.
	// +optional
	Track string `json:"track,omitempty"`
	// current is the upstream revision the branch is on.
	// +optional
	Current string `json:"current,omitempty"`
	// target is the upstream revision being synced to.
	// +optional
	Target string `json:"target,omitempty"`
	// phase is the variant's sync phase.
	// +optional
	Phase SyncPhase `json:"phase,omitempty"`
	// draft is the variant's draft PackageRevision.
	// +optional
	Draft string `json:"draft,omitempty"`
	// ready is whether the variant is up to date with its track (UpToDate).
	// +required
	Ready bool `json:"ready"`
	// findings summarizes the render of the variant's draft: validators'
	// and mutators' findings by severity with the first few, or why the
	// pipeline failed; empty when clean.
	// +optional
	Findings string `json:"findings,omitempty"`
	// waiting names what a proposal waits for (AwaitingApproval's reason:
	// Proposed for a person, or Held, Soaking, OutsideWindow, RateLimited,
	// PolicyRateLimited, NotClean); the message says why and until when.
	// +optional
	Waiting string `json:"waiting,omitempty"`
	// message says why the row is not ready.
	// +optional
	Message string `json:"message,omitempty"`
}

// UpstreamPolicyStatus is the policy's status board.
type UpstreamPolicyStatus struct {
	// conditions are Ready, Reconciling and Stalled (kstatus).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type" protobuf:"bytes,1,rep,name=conditions"`

	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// variants is "ready/total", for kubectl get.
	// +optional
	Variants string `json:"variants,omitempty"`

	// lastHandledReconcileAt is the forkline.dev/reconcile annotation value
	// last acted on.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// targets has one row per generated variant or failed target.
	// +optional
	// +kubebuilder:validation:MaxItems=1024
	// +listType=atomic
	Targets []TargetStatus `json:"targets,omitempty"`
}

// UpstreamPolicy keeps one PackageVariant per downstream branch of one
// upstream package.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=upol,categories=forkline
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Upstream",type=string,JSONPath=`.spec.upstream.package`
// +kubebuilder:printcolumn:name="Variants",type=string,JSONPath=`.status.variants`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type UpstreamPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the policy's object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the upstream, its targets and the variant template.
	// +required
	Spec UpstreamPolicySpec `json:"spec"`

	// status is the policy's status board.
	// +optional
	Status UpstreamPolicyStatus `json:"status,omitempty"`
}

// UpstreamPolicyList is a list of UpstreamPolicies.
//
// +kubebuilder:object:root=true
type UpstreamPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UpstreamPolicy `json:"items"`
}
