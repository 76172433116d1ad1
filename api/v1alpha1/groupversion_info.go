// Package v1alpha1 holds forkline's API: PackageVariant (one upstream package
// followed into one downstream repository) and UpstreamPolicy (one upstream
// fanned out to a PackageVariant per downstream branch).
//
// +kubebuilder:object:generate=true
// +groupName=forkline.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of forkline's resources.
	GroupVersion = schema.GroupVersion{Group: "forkline.dev", Version: "v1alpha1"}

	// SchemeBuilder registers forkline's types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds forkline's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
