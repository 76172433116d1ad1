package merge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// randomPackage is a small package: Deployments with keyed containers,
// env and ports, and ConfigMaps holding multi-line scripts.
func randomPackage(r *rand.Rand) map[string]map[string]any {
	out := map[string]map[string]any{}
	for i := range 1 + r.IntN(3) {
		var containers []any
		for c := range 1 + r.IntN(3) {
			containers = append(containers, map[string]any{
				"name":  fmt.Sprintf("c%d", c),
				"image": fmt.Sprintf("img%d:1", c),
				"args":  []any{"--v", fmt.Sprint(r.IntN(3))},
				"env":   []any{map[string]any{"name": "A", "value": "1"}, map[string]any{"name": "B", "value": "2"}},
				"ports": []any{map[string]any{"containerPort": 8080 + c, "protocol": "TCP"}},
			})
		}
		out[fmt.Sprintf("deploy-%d.yaml", i)] = map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": fmt.Sprintf("app-%d", i), "labels": map[string]any{"team": "a"}},
			"spec":     map[string]any{"replicas": 1, "template": map[string]any{"spec": map[string]any{"containers": containers}}},
		}
	}
	for i := range 1 + r.IntN(2) {
		var lines []string
		for l := range 3 + r.IntN(6) {
			lines = append(lines, fmt.Sprintf("line %d", l))
		}
		out[fmt.Sprintf("cm-%d.yaml", i)] = map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%d", i)},
			"data":     map[string]any{"script": strings.Join(lines, "\n") + "\n", "mode": "fast"},
		}
	}
	return out
}

// edit changes a copy of a package at random: scalars, keys and list
// elements added, changed and deleted, keyed lists reordered, lines of
// scripts changed, added and removed, whole resources added and deleted.
func edit(r *rand.Rand, pkg map[string]map[string]any, tag string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for f, res := range pkg {
		out[f] = deepCopy(res).(map[string]any)
	}
	files := slices.Sorted(func(yield func(string) bool) {
		for f := range out {
			if !yield(f) {
				return
			}
		}
	})
	for range 1 + r.IntN(5) {
		f := files[r.IntN(len(files))]
		res := out[f]
		if res == nil {
			continue
		}
		switch res["kind"] {
		case "Deployment":
			spec := res["spec"].(map[string]any)
			pod := spec["template"].(map[string]any)["spec"].(map[string]any)
			containers, _ := pod["containers"].([]any)
			switch r.IntN(8) {
			case 0:
				spec["replicas"] = r.IntN(5)
			case 1:
				if len(containers) > 0 {
					c := containers[r.IntN(len(containers))].(map[string]any)
					c["image"] = "img:" + tag
				}
			case 2:
				if len(containers) > 0 {
					i := r.IntN(len(containers))
					pod["containers"] = slices.Delete(slices.Clone(containers), i, i+1)
				}
			case 3:
				pod["containers"] = append(slices.Clone(containers), map[string]any{"name": "new-" + tag, "image": "n:" + tag})
			case 4:
				if len(containers) > 1 {
					rev := slices.Clone(containers)
					slices.Reverse(rev)
					pod["containers"] = rev
				}
			case 5:
				if len(containers) > 0 {
					c := containers[r.IntN(len(containers))].(map[string]any)
					env, _ := c["env"].([]any)
					c["env"] = append(slices.Clone(env), map[string]any{"name": "X" + tag, "value": tag})
				}
			case 6:
				labels := res["metadata"].(map[string]any)["labels"].(map[string]any)
				if r.IntN(2) == 0 {
					delete(labels, "team")
				} else {
					labels["by-"+tag] = tag
				}
			case 7:
				delete(out, f)
			}
		case "ConfigMap":
			data := res["data"].(map[string]any)
			lines := strings.Split(strings.TrimSuffix(data["script"].(string), "\n"), "\n")
			i := r.IntN(len(lines))
			switch r.IntN(5) {
			case 0:
				lines[i] = "changed by " + tag
			case 1:
				lines = slices.Insert(lines, i, "added by "+tag)
			case 2:
				if len(lines) > 1 {
					lines = slices.Delete(lines, i, i+1)
				}
			case 3:
				data["mode"] = tag
			case 4:
				delete(data, "mode")
			}
			data["script"] = strings.Join(lines, "\n") + "\n"
		}
	}
	if r.IntN(4) == 0 {
		out["extra-"+tag+".yaml"] = map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "extra-" + tag}, "data": map[string]any{"k": tag}}
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func toTree(t testing.TB, pkg map[string]map[string]any) Tree {
	out := Tree{}
	for f, res := range pkg {
		b, err := yaml.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	return out
}

// auditRandomEdits merges random edits of a random package on both sides,
// under every conflict policy: each merge passes its audit.
func auditRandomEdits(t testing.TB, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := randomPackage(r)
	b, u, d := toTree(t, base), toTree(t, edit(r, base, "up")), toTree(t, edit(r, base, "down"))
	for _, policy := range []ConflictPolicy{Report, PreferUpstream, PreferDownstream} {
		res, err := Merge(b, u, d, Options{ConflictPolicy: policy})
		if err != nil {
			t.Fatalf("seed %d, %s: %v", seed, policy, err)
		}
		if err := Audit(res); err != nil {
			t.Fatalf("seed %d, %s: %v\nbase:\n%v\nupstream:\n%v\ndownstream:\n%v\nresult:\n%v\nconflicts: %v", seed, policy, err, b, u, d, res.Tree, res.Conflicts)
		}
	}
}

// TestAuditRandomEdits: 500 random packages edited on both sides (make
// fuzz goes on with FuzzAuditedEdits).
func TestAuditRandomEdits(t *testing.T) {
	for seed := range uint64(500) {
		auditRandomEdits(t, seed)
	}
}

// FuzzAuditedEdits lets the fuzzer pick the seeds (make fuzz).
func FuzzAuditedEdits(f *testing.F) {
	f.Add(uint64(1))
	f.Fuzz(func(t *testing.T, seed uint64) { auditRandomEdits(t, seed) })
}
