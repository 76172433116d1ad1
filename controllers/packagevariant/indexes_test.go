package packagevariant

import (
	"testing"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/forkline/forkline/internal/porch"
)

// A watch renewal's replay of a revision the cache already holds is not a
// change; anything a person or Porch changed is.
func TestReplayedRevisionIsNotAChange(t *testing.T) {
	cached := func() *porchv1alpha1.PackageRevision {
		pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{
			Name: "d", ResourceVersion: "c1", Annotations: map[string]string{"a": "1"},
			Labels: map[string]string{porchv1alpha1.LatestPackageRevisionKey: porchv1alpha1.LatestPackageRevisionValue},
		}}
		pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleProposed
		pr.Status.Conditions = []porchv1alpha1.Condition{{Type: "forkline.dev/conflicts-resolved", Status: porchv1alpha1.ConditionTrue}}
		return pr
	}
	now := metav1.Now()
	for _, c := range []struct {
		name     string
		change   func(*porchv1alpha1.PackageRevision)
		replayed bool
	}{
		{"the same revision again", func(*porchv1alpha1.PackageRevision) {}, true},
		{"only managed fields differ", func(pr *porchv1alpha1.PackageRevision) {
			pr.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "porch"}}
		}, true},
		{"no longer the latest revision (Porch sends no event for that)", func(pr *porchv1alpha1.PackageRevision) {
			pr.Labels = nil
		}, true},
		{"a label a person set", func(pr *porchv1alpha1.PackageRevision) { pr.Labels["team"] = "web" }, false},
		{"a new commit", func(pr *porchv1alpha1.PackageRevision) { pr.ResourceVersion = "c2" }, false},
		{"rejected: same commit, back to Draft", func(pr *porchv1alpha1.PackageRevision) {
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDraft
		}, false},
		{"an annotation, same commit", func(pr *porchv1alpha1.PackageRevision) { pr.Annotations["a"] = "2" }, false},
		{"being deleted", func(pr *porchv1alpha1.PackageRevision) { pr.DeletionTimestamp = &now }, false},
		{"a condition turned", func(pr *porchv1alpha1.PackageRevision) {
			pr.Status.Conditions[0].Status = porchv1alpha1.ConditionFalse
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			next := cached()
			c.change(next)
			if got := replayed(cached(), next); got != c.replayed {
				t.Errorf("replayed = %v, want %v", got, c.replayed)
			}
		})
	}
}

// Porch re-lists a revision it published with the approval commit's time
// and author: news for an upstream release's age when its publishedAt
// moves, never for the branch that wrote it.
func TestWakesOnlyWhomTheUpdateConcerns(t *testing.T) {
	published := func() *porchv1alpha1.PackageRevision {
		pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Name: "v1", ResourceVersion: "c1", CreationTimestamp: metav1.Unix(100, 0)}}
		pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecyclePublished
		porch.SetRevision(pr, "v1")
		pr.Status.PublishedAt = metav1.Unix(100, 0)
		return pr
	}
	both := sides{upstream: true, downstream: true}
	for _, c := range []struct {
		name   string
		change func(*porchv1alpha1.PackageRevision)
		want   sides
	}{
		{"the same revision replayed", func(*porchv1alpha1.PackageRevision) {}, sides{}},
		{"commit time and author only", func(pr *porchv1alpha1.PackageRevision) {
			pr.CreationTimestamp, pr.Status.PublishedBy = metav1.Unix(103, 0), "porch@kpt.dev"
		}, sides{}},
		{"a new publish time", func(pr *porchv1alpha1.PackageRevision) {
			pr.CreationTimestamp, pr.Status.PublishedAt, pr.Status.PublishedBy = metav1.Unix(103, 0), metav1.Unix(103, 0), "porch@kpt.dev"
		}, sides{upstream: true}},
		{"a lifecycle change with a new publish time", func(pr *porchv1alpha1.PackageRevision) {
			pr.Status.PublishedAt = metav1.Unix(103, 0)
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDeletionProposed
		}, both},
		{"a new commit", func(pr *porchv1alpha1.PackageRevision) { pr.ResourceVersion = "c2" }, both},
		{"an annotation", func(pr *porchv1alpha1.PackageRevision) {
			pr.Annotations = map[string]string{"forkline.dev/variant": "u"}
		}, both},
	} {
		t.Run(c.name, func(t *testing.T) {
			next := published()
			c.change(next)
			if got := wakes(published(), next); got != c.want {
				t.Errorf("wakes = %+v, want %+v (changed: %v)", got, c.want, changedParts(published(), next))
			}
		})
	}
}

// Each approval in a repository moves its branch's head, and with it the
// resourceVersion of every package's placeholder ("main"): news for no
// variant. A placeholder that becomes a release, or a release, still is.
func TestPlaceholderMovesWakeNobody(t *testing.T) {
	revision := func(rev, commit string) *porchv1alpha1.PackageRevision {
		pr := &porchv1alpha1.PackageRevision{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: commit}}
		pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecyclePublished
		porch.SetRevision(pr, rev)
		return pr
	}
	both := sides{upstream: true, downstream: true}
	for _, c := range []struct {
		name     string
		old, new *porchv1alpha1.PackageRevision
		want     sides
	}{
		{"main moved", revision("main", "c1"), revision("main", "c2"), sides{}},
		{"a release moved", revision("v1", "c1"), revision("v1", "c2"), both},
		{"a draft moved", func() *porchv1alpha1.PackageRevision {
			pr := revision("", "c1")
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDraft
			return pr
		}(), func() *porchv1alpha1.PackageRevision {
			pr := revision("", "c2")
			pr.Spec.Lifecycle = porchv1alpha1.PackageRevisionLifecycleDraft
			return pr
		}(), both},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := wakes(c.old, c.new); got != c.want {
				t.Errorf("wakes = %+v, want %+v", got, c.want)
			}
		})
	}
}

// A variant waits on a missing or unready Repository without polling: its
// registration, spec and readiness wake it, Porch's sync bookkeeping not.
func TestRepositoryChangedIsWhatAVariantValidates(t *testing.T) {
	repo := func(generation int64, ready metav1.ConditionStatus, reason, message string) *configapi.Repository {
		r := &configapi.Repository{ObjectMeta: metav1.ObjectMeta{Name: "down", UID: "u1", Generation: generation}}
		r.Status.Conditions = []metav1.Condition{{Type: configapi.RepositoryReady, Status: ready, Reason: reason, Message: message}}
		return r
	}
	syncing := func() *configapi.Repository {
		return repo(1, metav1.ConditionFalse, configapi.ReasonReconciling, "Repository reconciliation in progress")
	}
	for _, c := range []struct {
		name      string
		seenReady bool // this process saw the Repository Ready before
		old, new  *configapi.Repository
		want      bool
	}{
		{"nothing but the message", false, repo(1, metav1.ConditionTrue, "Ready", "synced"), repo(1, metav1.ConditionTrue, "Ready", "synced again"), false},
		{"turns Ready", false, repo(1, metav1.ConditionFalse, "", ""), repo(1, metav1.ConditionTrue, "Ready", ""), true},
		// Porch keeps serving what it listed when a later sync fails: what
		// needs that git (a write, the base) says so itself.
		{"stops being Ready after a listing", false, repo(1, metav1.ConditionTrue, "Ready", ""), repo(1, metav1.ConditionFalse, "Error", "auth"), false},
		{"spec changed", false, repo(1, metav1.ConditionTrue, "Ready", ""), repo(2, metav1.ConditionTrue, "Ready", ""), true},
		{"annotated", false, repo(1, metav1.ConditionTrue, "Ready", ""), func() *configapi.Repository {
			r := repo(1, metav1.ConditionTrue, "Ready", "")
			r.Annotations = map[string]string{"porch.kpt.dev/v1alpha2-migration": "true"}
			return r
		}(), true},
		// Porch v1.4+ at every periodic sync: Ready -> Reconciling -> Ready.
		{"a periodic sync starts", true, repo(1, metav1.ConditionTrue, "Ready", ""), syncing(), false},
		{"a periodic sync ends", true, syncing(), repo(1, metav1.ConditionTrue, "Ready", ""), false},
		{"the first listing ends", false, syncing(), repo(1, metav1.ConditionTrue, "Ready", ""), true},
		{"a later sync fails", true, syncing(), repo(1, metav1.ConditionFalse, "Error", "connection refused"), false},
		{"the first listing fails", false, repo(1, metav1.ConditionFalse, configapi.ReasonReconciling, ""), repo(1, metav1.ConditionFalse, "Error", "connection refused"), true},
		{"a failing first listing says another thing", false, repo(1, metav1.ConditionFalse, "Error", "connection refused"), repo(1, metav1.ConditionFalse, "Error", "authentication required"), true},
		{"a re-pointed Repository fails its first listing", true, repo(2, metav1.ConditionFalse, configapi.ReasonReconciling, ""), repo(2, metav1.ConditionFalse, "Error", "connection refused"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			repos := &porch.Readiness{}
			if c.seenReady {
				repos.Serving(repo(1, metav1.ConditionTrue, "Ready", ""))
			}
			if got := repositoryChanged(repos).Update(event.UpdateEvent{ObjectOld: c.old, ObjectNew: c.new}); got != c.want {
				t.Errorf("passes = %v, want %v", got, c.want)
			}
		})
	}
	repos := &porch.Readiness{}
	if !repositoryChanged(repos).Create(event.CreateEvent{Object: repo(1, metav1.ConditionFalse, "", "")}) || !repositoryChanged(repos).Delete(event.DeleteEvent{Object: repo(1, metav1.ConditionTrue, "Ready", "")}) {
		t.Error("a Repository registered or removed must wake its variants")
	}
}
