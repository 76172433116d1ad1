package porch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestResourcesPatches(t *testing.T) {
	stored := map[string]string{"Kptfile": "k1", "a.yaml": "a", "b.yaml": "b", "gone.yaml": "g"}
	want := map[string]string{"Kptfile": "k2", "a.yaml": "a", "b.yaml": "b", "new.yaml": "n"}
	patches, err := ResourcesPatches(stored, want)
	if err != nil || len(patches) != 1 {
		t.Fatalf("patches = %+v, %v; want one", patches, err)
	}
	raw, err := patches[0].JSON("abc123")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	wantPatch := map[string]any{
		"metadata": map[string]any{"resourceVersion": "abc123"},
		"spec":     map[string]any{"resources": map[string]any{"Kptfile": "k2", "new.yaml": "n", "gone.yaml": nil}},
	}
	if !reflect.DeepEqual(got, wantPatch) {
		t.Fatalf("patch = %s, want %v", raw, wantPatch)
	}
	// Nothing changed: one empty patch.
	patches, _ = ResourcesPatches(stored, stored)
	if len(patches) != 1 || len(patches[0].Files) != 0 {
		t.Fatalf("an unchanged package patched %+v", patches)
	}
}

func TestResourcesPatchesSplitToFit(t *testing.T) {
	// 5 MiB of changes in 50 files of 100 KiB, and the Kptfile.
	stored, want := map[string]string{"Kptfile": "old"}, map[string]string{"Kptfile": "new"}
	for i := range 50 {
		name := strings.Repeat("f", 3) + string(rune('A'+i%26)) + string(rune('a'+i/26)) + ".yaml"
		stored[name] = strings.Repeat("1", 100<<10)
		want[name] = strings.Repeat("2", 100<<10)
	}
	patches, err := ResourcesPatches(stored, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(patches) < 2 {
		t.Fatalf("5 MiB of changes in %d writes, want at least 2", len(patches))
	}
	seen := 0
	for i, p := range patches {
		raw, err := p.JSON("c")
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > MaxRequestBytes-(32<<10) {
			t.Errorf("write %d is %d bytes, over the limit", i, len(raw))
		}
		if _, ok := p.Files["Kptfile"]; ok && i != len(patches)-1 {
			t.Errorf("the Kptfile is in write %d of %d, not the last", i+1, len(patches))
		}
		seen += len(p.Files)
	}
	if seen != 51 {
		t.Errorf("the writes carry %d files, want 51", seen)
	}
	if _, ok := patches[len(patches)-1].Files["Kptfile"]; !ok {
		t.Error("the last write lacks the Kptfile")
	}
	// One file over the limit cannot be written.
	want["huge.yaml"] = strings.Repeat("x", MaxRequestBytes)
	if _, err := ResourcesPatches(stored, want); err == nil || !strings.Contains(err.Error(), "huge.yaml") {
		t.Errorf("a 3 MiB file: err %v, want one naming it", err)
	}
}
