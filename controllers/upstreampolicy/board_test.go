package upstreampolicy

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestBoardIsWrittenAtMostOnceASecond(t *testing.T) {
	var b boardWrites
	key := types.NamespacedName{Namespace: "ns", Name: "app"}
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	if w := b.wait(key, t0); w != 0 {
		t.Fatalf("first write waits %s", w)
	}
	b.wrote(key, t0)
	for _, c := range []struct {
		after time.Duration
		want  time.Duration
	}{
		{0, time.Second},
		{300 * time.Millisecond, 700 * time.Millisecond},
		{999 * time.Millisecond, time.Millisecond},
		{time.Second, 0},
		{5 * time.Second, 0},
	} {
		if got := b.wait(key, t0.Add(c.after)); got != c.want {
			t.Errorf("%s after a write: wait %s, want %s", c.after, got, c.want)
		}
	}
	if w := b.wait(types.NamespacedName{Namespace: "ns", Name: "other"}, t0); w != 0 {
		t.Errorf("another policy waits %s", w)
	}
}
