package manager

// The manager's own needs; each controller declares what it reads and writes
// next to its Reconcile.
//
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=forkline.dev,resources=packagevariants;upstreampolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=forkline.dev,resources=packagevariants/status;upstreampolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=forkline.dev,resources=packagevariants/finalizers;upstreampolicies/finalizers,verbs=update
// +kubebuilder:rbac:groups=porch.kpt.dev,resources=packagerevisions;packagerevisionresources,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=porch.kpt.dev,resources=packagerevisions/approval,verbs=get;update;patch
// +kubebuilder:rbac:groups=config.porch.kpt.dev,resources=repositories,verbs=get;list;watch
