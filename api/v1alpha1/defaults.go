package v1alpha1

import "strings"

// The effective defaults live here, not in the CRD schema, so that the
// controllers, the functions and the UpstreamPolicy's generated specs agree
// and a defaulted field never looks like a change.

// DownstreamPackage is the downstream package path in force.
func (s PackageVariantSpec) DownstreamPackage() string {
	if s.Downstream.Package != "" {
		return s.Downstream.Package
	}
	return s.Upstream.Package
}

// EffectiveAdoptionPolicy is adoptNone unless set.
func (t PackageVariantTemplate) EffectiveAdoptionPolicy() AdoptionPolicy {
	if t.AdoptionPolicy == "" {
		return AdoptNone
	}
	return t.AdoptionPolicy
}

// EffectiveDeletionPolicy is delete unless set.
func (t PackageVariantTemplate) EffectiveDeletionPolicy() DeletionPolicy {
	if t.DeletionPolicy == "" {
		return DeletionDelete
	}
	return t.DeletionPolicy
}

// EffectiveMergeStrategy is resource-merge unless set.
func (t PackageVariantTemplate) EffectiveMergeStrategy() MergeStrategy {
	if t.Merge == nil || t.Merge.Strategy == "" {
		return ResourceMerge
	}
	return t.Merge.Strategy
}

// EffectiveConflictPolicy is Report unless set.
func (t PackageVariantTemplate) EffectiveConflictPolicy() ConflictPolicy {
	if t.Merge == nil || t.Merge.ConflictPolicy == "" {
		return ReportConflicts
	}
	return t.Merge.ConflictPolicy
}

// EffectiveApprovalMode is Manual unless set.
func (t PackageVariantTemplate) EffectiveApprovalMode() ApprovalMode {
	if t.Approval == nil || t.Approval.Mode == "" {
		return ManualApproval
	}
	return t.Approval.Mode
}

// EffectiveTimeZone is UTC unless set.
func (w ApprovalWindow) EffectiveTimeZone() string {
	if w.TimeZone == "" {
		return "UTC"
	}
	return w.TimeZone
}

// FunctionName is the function's name in force: its name, or the image's
// last path element without tag or digest.
func (f Function) FunctionName() string {
	if f.Name != "" {
		return f.Name
	}
	image := f.Image[strings.LastIndex(f.Image, "/")+1:]
	if i := strings.IndexAny(image, ":@"); i >= 0 {
		return image[:i]
	}
	return image
}
