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

func TestPersonFiles(t *testing.T) {
	written := FileDigests(map[string]string{"a.yaml": "a", "b.yaml": "b"})
	now := map[string]string{"a.yaml": "a, edited", "b.yaml": "b"}
	for _, tc := range []struct {
		name, written, record string
		want                  []string
		known                 bool
	}{
		{"a push", written, "", []string{"a.yaml"}, true},
		{"a push after a recorded one", written, "b.yaml, c.yaml", []string{"a.yaml", "b.yaml", "c.yaml"}, true},
		{"a record of commits names no file", written, MovedRecord("abc", "def"), []string{"a.yaml"}, true},
		{"no fingerprints", "", "c.yaml", []string{"c.yaml"}, false},
	} {
		got, known := PersonFiles(tc.written, tc.record, now)
		if !slices.Equal(got, tc.want) || known != tc.known {
			t.Errorf("%s: %v, %t; want %v, %t", tc.name, got, known, tc.want, tc.known)
		}
	}
}
