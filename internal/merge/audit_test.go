package merge

import (
	"errors"
	"strings"
	"testing"
)

// TestAuditRefuses tampers with right merges the way the merge engine's
// past defects did, and worse: the audit must refuse each, naming where.
func TestAuditRefuses(t *testing.T) {
	cases := map[string]struct {
		dir     string
		tamper  func(res *Result)
		where   string
		problem string
	}{
		"a keyed element that lost its key (the sidecar defect)": {
			dir: "testdata/keyed-element-modify-delete",
			tamper: func(res *Result) {
				res.Tree["deploy.yaml"] = strings.Replace(res.Tree["deploy.yaml"], "      - name: sidecar\n        image: mirror.example/sidecar:1\n        args: [--verbose]\n", "      - image: mirror.example/sidecar:1\n", 1)
				res.Conflicts[0].Path += ".image"
			},
			where:   "spec.template.spec.containers",
			problem: "lacks its key name",
		},
		"upstream's other hunks of a string dropped (the multi-line defect)": {
			dir: "testdata/multiline-hunks",
			tamper: func(res *Result) {
				res.Tree["nginx.yaml"] = strings.Replace(res.Tree["nginx.yaml"], "worker_processes 2;", "worker_processes 1;", 1)
			},
			where:   "data.nginx.conf",
			problem: `line "worker_processes 1;" is in the result 1 time(s); base has it 1, upstream 0, downstream 1`,
		},
		"an upstream change silently lost": {
			dir: "testdata/clean-field-changes",
			tamper: func(res *Result) {
				for f, c := range res.Tree {
					if strings.Contains(c, "replicas: ") {
						res.Tree[f] = replaceReplicas(c)
						return
					}
				}
				t.Fatal("no replicas in clean-field-changes")
			},
			problem: "replicas",
		},
		"a conflict not reported": {
			dir:     "testdata/field-conflict",
			tamper:  func(res *Result) { res.Conflicts = nil },
			problem: "both sides changed it",
		},
		"a document that no longer parses": {
			dir: "testdata/clean-field-changes",
			tamper: func(res *Result) {
				for f := range res.Tree {
					if strings.HasSuffix(f, ".yaml") {
						res.Tree[f] += "\nbroken: [\n"
						return
					}
				}
			},
			problem: "does not parse",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := Merge(readTree(t, tc.dir, "base"), readTree(t, tc.dir, "upstream"), readTree(t, tc.dir, "downstream"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := Audit(res); err != nil {
				t.Fatalf("the audit refuses the untampered merge: %v", err)
			}
			tc.tamper(res)
			err = Audit(res)
			if err == nil {
				t.Fatal("the audit passes the tampered merge")
			}
			var ae *AuditError
			if !errors.As(err, &ae) || !strings.Contains(ae.Path, tc.where) || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("audit = %v; want it at %q saying %q", err, tc.where, tc.problem)
			}
			t.Logf("%v", err)
		})
	}
}

// replaceReplicas sets every replicas field to 42, a value no side has.
func replaceReplicas(content string) string {
	lines := strings.Split(content, "\n")
	for i, l := range lines {
		if k, _, ok := strings.Cut(l, "replicas: "); ok {
			lines[i] = k + "replicas: 42"
		}
	}
	return strings.Join(lines, "\n")
}
