package porch

import (
	"sync"

	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
)

// Readiness tells whether Porch serves a Repository's packages. Porch v1.3
// keeps a Repository Ready while it re-lists it; Porch v1.4+ turns it
// Ready=False at the start of every sync (reason Reconciling) and when a
// sync fails (reason Error: its git is unreachable), and Ready again at
// the end of the next good one, while it keeps serving the packages it
// listed before. So Ready=False means "not listed" only for a Repository
// never seen Ready at its current generation: a variant waits for a new,
// re-registered or re-pointed Repository's first listing, not for every
// periodic sync, and a git outage stops only what needs that git (a write,
// a read of the base), which says so itself.
type Readiness struct {
	seen sync.Map // types.UID -> int64: the generation this process saw Ready
}

// Serving says whether Porch serves repo's packages (and remembers a
// Repository it sees Ready).
func (r *Readiness) Serving(repo *configapi.Repository) bool {
	c := meta.FindStatusCondition(repo.Status.Conditions, configapi.RepositoryReady)
	if c == nil {
		return false
	}
	if c.Status == "True" {
		r.seen.Store(repo.UID, repo.Generation)
		return true
	}
	generation, seen := r.seen.Load(repo.UID)
	return seen && generation.(int64) == repo.Generation
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
