package upstreampolicy

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// boardInterval is the least time between two writes of one policy's
// status board.
const boardInterval = time.Second

// boardWrites remembers when each policy's board was last written.
type boardWrites struct {
	mu   sync.Mutex
	last map[types.NamespacedName]time.Time
}

// wait is how long the board of key must wait before its next write.
func (b *boardWrites) wait(key types.NamespacedName, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if last, ok := b.last[key]; ok && now.Sub(last) < boardInterval {
		return boardInterval - now.Sub(last)
	}
	return 0
}

func (b *boardWrites) wrote(key types.NamespacedName, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		b.last = map[types.NamespacedName]time.Time{}
	}
	b.last[key] = now
}

// boardFeed enqueues a variant's policy: at once when the variant was
// created, deleted or its spec or labels changed (the policy may have to
// act), a second later when only its status changed (the board shows it;
// the queue folds every change within that second into one reconcile).
type boardFeed struct{}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

func (boardFeed) Create(_ context.Context, e event.CreateEvent, q queue) {
	enqueueOwner(e.Object, q, 0)
}
func (boardFeed) Delete(_ context.Context, e event.DeleteEvent, q queue) {
	enqueueOwner(e.Object, q, 0)
}
func (boardFeed) Generic(_ context.Context, e event.GenericEvent, q queue) {
	enqueueOwner(e.Object, q, 0)
}

func (boardFeed) Update(_ context.Context, e event.UpdateEvent, q queue) {
	old, cur := e.ObjectOld, e.ObjectNew
	delay := boardInterval
	if old.GetGeneration() != cur.GetGeneration() || !equality.Semantic.DeepEqual(old.GetLabels(), cur.GetLabels()) ||
		!equality.Semantic.DeepEqual(old.GetAnnotations(), cur.GetAnnotations()) || !cur.GetDeletionTimestamp().IsZero() {
		delay = 0
	}
	enqueueOwner(cur, q, delay)
}

func enqueueOwner(o client.Object, q queue, delay time.Duration) {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != "UpstreamPolicy" || ref.APIVersion != v1.GroupVersion.String() {
		return
	}
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}}
	if delay == 0 {
		q.Add(req)
		return
	}
	q.AddAfter(req, delay)
}
