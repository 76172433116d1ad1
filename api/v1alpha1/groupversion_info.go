// Package v1alpha1 holds forkline's API: PackageVariant (one upstream package
// followed into one downstream repository) and UpstreamPolicy (one upstream
// fanned out to a PackageVariant per downstream branch).
//
// +kubebuilder:object:generate=true
// +groupName=forkline.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of forkline's resources.
	GroupVersion = schema.GroupVersion{Group: "forkline.dev", Version: "v1alpha1"}

	// SchemeBuilder registers forkline's types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds forkline's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers forkline's kinds, as apimachinery's own API
// packages do: an API package needs nothing beyond apimachinery.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &PackageVariant{}, &PackageVariantList{}, &UpstreamPolicy{}, &UpstreamPolicyList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
