package porch

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
)

// applyTask applies a patch task to files as Porch v1.3's
// applyPatchMutation does: a create of a file that exists, or a patch of
// one that does not, is an error.
func applyTask(files map[string]string, task *porchv1alpha1.PackagePatchTaskSpec) (map[string]string, error) {
	out := maps.Clone(files)
	for _, p := range task.Patches {
		switch p.PatchType {
		case porchv1alpha1.PatchTypeCreateFile:
			if _, ok := out[p.File]; ok {
				return nil, fmt.Errorf("create of existing %s", p.File)
			}
			out[p.File] = p.Contents
		case porchv1alpha1.PatchTypeDeleteFile:
			delete(out, p.File)
		case porchv1alpha1.PatchTypePatchFile:
			old, ok := out[p.File]
			if !ok {
				return nil, fmt.Errorf("patch of missing %s", p.File)
			}
			got, err := ApplyDiff(p.File, old, p.Contents)
			if err != nil {
				return nil, err
			}
			out[p.File] = got
		default:
			return nil, fmt.Errorf("patch type %q", p.PatchType)
		}
	}
	return out, nil
}

func configMaps(n int, changed func(int) bool) string {
	var b strings.Builder
	for i := range n {
		v := "1.0.0"
		if changed(i) {
			v = "1.1.0"
		}
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  release: %q\n---\n", i, v)
	}
	return b.String()
}

func TestPatchTask(t *testing.T) {
	none := func(int) bool { return false }
	big := strings.Repeat("# filler line of a big file\n", diffBytes/28+1)
	tests := []struct {
		name      string
		from      map[string]string
		want      map[string]string
		wantTypes map[string]porchv1alpha1.PatchType // the last patch of each file
	}{{
		name:      "a changed file is a diff",
		from:      map[string]string{"cm.yaml": configMaps(100, none), "same.yaml": "a: 1\n"},
		want:      map[string]string{"cm.yaml": configMaps(100, func(i int) bool { return i%10 == 0 }), "same.yaml": "a: 1\n"},
		wantTypes: map[string]porchv1alpha1.PatchType{"cm.yaml": porchv1alpha1.PatchTypePatchFile},
	}, {
		name:      "added and removed files",
		from:      map[string]string{"old.yaml": "a: 1\n", "Kptfile": "k: 1\n"},
		want:      map[string]string{"new.yaml": "b: 2\n", "Kptfile": "k: 2\n"},
		wantTypes: map[string]porchv1alpha1.PatchType{"old.yaml": porchv1alpha1.PatchTypeDeleteFile, "new.yaml": porchv1alpha1.PatchTypeCreateFile, "Kptfile": porchv1alpha1.PatchTypePatchFile},
	}, {
		name:      "no newline at the end: sent whole",
		from:      map[string]string{"f.yaml": "a: 1\nb: 2"},
		want:      map[string]string{"f.yaml": "a: 1\nb: 3"},
		wantTypes: map[string]porchv1alpha1.PatchType{"f.yaml": porchv1alpha1.PatchTypeCreateFile},
	}, {
		name:      "a newline added at the end",
		from:      map[string]string{"f.yaml": "a: 1"},
		want:      map[string]string{"f.yaml": "a: 1\n"},
		wantTypes: map[string]porchv1alpha1.PatchType{"f.yaml": porchv1alpha1.PatchTypeCreateFile},
	}, {
		name:      "emptied",
		from:      map[string]string{"f.yaml": "a: 1\n"},
		want:      map[string]string{"f.yaml": ""},
		wantTypes: map[string]porchv1alpha1.PatchType{"f.yaml": porchv1alpha1.PatchTypeCreateFile},
	}, {
		name:      "a file over the diff bound is sent whole",
		from:      map[string]string{"big.yaml": big},
		want:      map[string]string{"big.yaml": big + "x: 1\n"},
		wantTypes: map[string]porchv1alpha1.PatchType{"big.yaml": porchv1alpha1.PatchTypeCreateFile},
	}, {
		name:      "a name with a space",
		from:      map[string]string{"my dir/f.yaml": "a: 1\nb: 2\n"},
		want:      map[string]string{"my dir/f.yaml": "a: 1\nb: 3\n"},
		wantTypes: map[string]porchv1alpha1.PatchType{"my dir/f.yaml": porchv1alpha1.PatchTypePatchFile},
	}, {
		name: "lines moved and repeated",
		from: map[string]string{"f.yaml": strings.Repeat("- a\n- b\n", 300) + "end: 1\n"},
		want: map[string]string{"f.yaml": "end: 1\n" + strings.Repeat("- b\n- a\n", 300)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, ok := PatchTask(tt.from, tt.want)
			if !ok {
				t.Fatal("task does not fit one request")
			}
			got, err := applyTask(tt.from, task)
			if err != nil {
				t.Fatalf("Porch would refuse the task: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Fatalf("applied task gives %v, want %v", got, tt.want)
			}
			last := map[string]porchv1alpha1.PatchType{}
			for _, p := range task.Patches {
				last[p.File] = p.PatchType
			}
			for file, typ := range tt.wantTypes {
				if last[file] != typ {
					t.Errorf("%s: %s, want %s", file, last[file], typ)
				}
			}
			for _, p := range task.Patches {
				if tt.from[p.File] == tt.want[p.File] && p.PatchType != porchv1alpha1.PatchTypeDeleteFile {
					t.Errorf("%s is unchanged but patched", p.File)
				}
			}
		})
	}
}

// A diff carries the change, not the file: 10% of a 100 KB file changed
// is a few KB of task.
func TestPatchTaskIsSmall(t *testing.T) {
	from := map[string]string{"cm.yaml": configMaps(1000, func(int) bool { return false })}
	want := map[string]string{"cm.yaml": configMaps(1000, func(i int) bool { return i%10 == 0 })}
	task, ok := PatchTask(from, want)
	if !ok || len(task.Patches) != 1 {
		t.Fatalf("task %v, ok %v", task, ok)
	}
	if n, whole := len(task.Patches[0].Contents), len(want["cm.yaml"]); n > whole/3 {
		t.Errorf("diff is %d bytes of a %d byte file", n, whole)
	}
}

func TestPatchTaskTooLarge(t *testing.T) {
	want := map[string]string{}
	for i := range 8 {
		want[fmt.Sprintf("f%d.yaml", i)] = strings.Repeat("x", 512<<10)
	}
	if _, ok := PatchTask(nil, want); ok {
		t.Fatal("4 MiB of new files fit one request")
	}
}
