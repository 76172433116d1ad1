package manager

// The manager's own needs: leader election and Events. Each controller
// declares what it reads and writes next to its Reconcile; the e2e suite
// runs the manager with exactly the resulting ClusterRole.
//
// Leader election's lease lives in the manager's namespace: a Role there,
// not a ClusterRole.
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=forkline-system,resources=leases,verbs=get;create;update
// The leader-election Event ("... became leader") is a core Event there.
// +kubebuilder:rbac:groups="",namespace=forkline-system,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
