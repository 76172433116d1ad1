package porch

import (
	"sync"

	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
)

// Readiness tells whether Porch serves a Repository's packages. Porch v1.3
// keeps a Repository Ready while it re-lists it; Porch v1.4+ turns it
// Ready=False (reason Reconciling) at the start of every sync and Ready
// again at its end, while it keeps serving the packages it listed before.
// So Reconciling means "not yet listed" only for a Repository never seen
// Ready: a variant waits for a new or re-registered Repository's first
// listing, not for every periodic sync.
type Readiness struct {
	seen sync.Map // types.UID -> struct{}: seen Ready by this process
}

// Serving says whether Porch serves repo's packages (and remembers a
// Repository it sees Ready).
func (r *Readiness) Serving(repo *configapi.Repository) bool {
	c := meta.FindStatusCondition(repo.Status.Conditions, configapi.RepositoryReady)
	if c == nil {
		return false
	}
	if c.Status == "True" {
		r.seen.Store(repo.UID, struct{}{})
		return true
	}
	_, seen := r.seen.Load(repo.UID)
	return seen && c.Reason == configapi.ReasonReconciling
}

// Forget drops a deleted Repository.
func (r *Readiness) Forget(uid types.UID) { r.seen.Delete(uid) }

// NotReadyMessage is Porch's own word on a Repository it does not serve
// ("" when it says none).
func NotReadyMessage(repo *configapi.Repository) string {
	if c := meta.FindStatusCondition(repo.Status.Conditions, configapi.RepositoryReady); c != nil && c.Status != "True" {
		return c.Message
	}
	return ""
}
