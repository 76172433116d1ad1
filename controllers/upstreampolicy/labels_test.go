package upstreampolicy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// A variant carries its policy's name and shard, whatever it had; labels a
// person set stay.
func TestVariantLabels(t *testing.T) {
	cases := map[string]struct {
		policy map[string]string
		have   map[string]string
		want   map[string]string
	}{
		"new variant, unsharded policy": {
			want: map[string]string{"forkline.dev/upstream-policy": "app"},
		},
		"new variant, sharded policy": {
			policy: map[string]string{v1.LabelShard: "a"},
			want:   map[string]string{"forkline.dev/upstream-policy": "app", v1.LabelShard: "a"},
		},
		"policy moved to another shard": {
			policy: map[string]string{v1.LabelShard: "b"},
			have:   map[string]string{"forkline.dev/upstream-policy": "app", v1.LabelShard: "a", "team": "payments"},
			want:   map[string]string{"forkline.dev/upstream-policy": "app", v1.LabelShard: "b", "team": "payments"},
		},
		"policy left sharding": {
			have: map[string]string{"forkline.dev/upstream-policy": "app", v1.LabelShard: "a"},
			want: map[string]string{"forkline.dev/upstream-policy": "app"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := &v1.UpstreamPolicy{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: tc.policy}}
			before := map[string]string{}
			for k, v := range tc.have {
				before[k] = v
			}
			got := variantLabels(p, tc.have)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.have, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("variantLabels changed the variant's own map (-before +after):\n%s", diff)
			}
		})
	}
}
