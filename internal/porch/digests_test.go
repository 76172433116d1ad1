package porch

import (
	"slices"
	"testing"
)

func TestChangedFiles(t *testing.T) {
	written := map[string]string{"Kptfile": "kf", "deployment.yaml": "replicas: 1", "forkline-conflicts.yaml": "resolved: false"}
	cases := map[string]struct {
		now  map[string]string
		want []string
	}{
		"nothing changed": {written, nil},
		"a resolution and an added file": {
			map[string]string{"Kptfile": "kf", "deployment.yaml": "replicas: 2", "forkline-conflicts.yaml": "resolved: true", "escalate.yaml": "kind: ClusterRoleBinding"},
			[]string{"deployment.yaml", "escalate.yaml", "forkline-conflicts.yaml"},
		},
		"a removed file": {
			map[string]string{"Kptfile": "kf", "deployment.yaml": "replicas: 1"},
			[]string{"forkline-conflicts.yaml (removed)"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := ChangedFiles(FileDigests(written), tc.now)
			if !ok || !slices.Equal(got, tc.want) {
				t.Errorf("ChangedFiles = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
	if _, ok := ChangedFiles("", written); ok {
		t.Error("ChangedFiles without fingerprints claims to know")
	}
	big := map[string]string{}
	for i := range maxDigestedFiles + 1 {
		big[string(rune('a'+i%26))+string(rune(i))] = "x"
	}
	if FileDigests(big) != "" {
		t.Error("a package over the cap is fingerprinted")
	}
}
