package review

import (
	"slices"
	"strings"
	"testing"
)

const kptfile = `apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: app
`

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: default
spec:
  replicas: 1
`

func TestClassify(t *testing.T) {
	all := []Class{Pipeline, CRDs, Webhooks, RBAC, ClusterScoped}
	pkg := func(files ...string) map[string]string {
		out := map[string]string{"Kptfile": kptfile, "deployment.yaml": deployment}
		for i := 0; i+1 < len(files); i += 2 {
			out[files[i]] = files[i+1]
		}
		return out
	}
	withPipeline := func(fns string) string { return kptfile + "pipeline:\n  mutators:\n" + fns }
	cases := map[string]struct {
		base, target map[string]string
		classes      []Class
		scope        Scope
		want         []string
	}{
		"a plain change needs nobody": {
			base: pkg(), target: pkg("deployment.yaml", strings.Replace(deployment, "replicas: 1", "replicas: 2", 1)), classes: all,
		},
		"a new mutator": {
			base:    pkg(),
			target:  pkg("Kptfile", withPipeline("  - image: ghcr.io/forkline/bump-version:v0.1.0\n    configMap:\n      version: 6.6.6\n")),
			classes: all,
			want:    []string{"pipeline: mutator bump-version added (ghcr.io/forkline/bump-version:v0.1.0)"},
		},
		"a mutator's image and config changed, one removed": {
			base:    pkg("Kptfile", withPipeline("  - image: ghcr.io/a/set-labels:v1\n  - name: tidy\n    image: ghcr.io/a/tidy:v1\n")),
			target:  pkg("Kptfile", withPipeline("  - image: ghcr.io/a/set-labels:v2\n")),
			classes: all,
			want:    []string{"pipeline: mutator set-labels changed (ghcr.io/a/set-labels:v1 -> ghcr.io/a/set-labels:v2)", "pipeline: mutator tidy removed (ghcr.io/a/tidy:v1)"},
		},
		"a ClusterRoleBinding is RBAC first": {
			base:    pkg(),
			target:  pkg("escalate.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: escalate\n"),
			classes: all,
			want:    []string{"rbac: ClusterRoleBinding escalate added"},
		},
		"without RBAC it is still cluster-scoped": {
			base:    pkg(),
			target:  pkg("escalate.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: escalate\n"),
			classes: []Class{ClusterScoped},
			want:    []string{"cluster-scoped: ClusterRoleBinding escalate added"},
		},
		"a Role in a namespace, changed": {
			base:    pkg("role.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\n  namespace: default\nrules: []\n"),
			target:  pkg("role.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\n  namespace: default\nrules:\n- verbs: ['*']\n"),
			classes: all,
			want:    []string{"rbac: Role r changed"},
		},
		"a namespace, a CRD and a webhook": {
			base: pkg(),
			target: pkg("extra.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n---\n"+
				"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: foos.example.com\n---\n"+
				"apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: guard\n"),
			classes: all,
			want:    []string{"crds: CustomResourceDefinition foos.example.com added", "webhooks: ValidatingWebhookConfiguration guard added", "cluster-scoped: Namespace team-a added"},
		},
		"a custom kind the cluster says is cluster-scoped": {
			base:    pkg(),
			target:  pkg("x.yaml", "apiVersion: example.com/v1\nkind: Fleet\nmetadata:\n  name: all\n"),
			classes: all,
			scope:   func(apiVersion, kind string) (bool, bool) { return kind == "Fleet", true },
			want:    []string{"cluster-scoped: Fleet all added"},
		},
		"a first sync: everything is added": {
			base:    nil,
			target:  pkg("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"),
			classes: all,
			want:    []string{"cluster-scoped: Namespace team-a added"},
		},
		"a removed object": {
			base:    pkg("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"),
			target:  pkg(),
			classes: all,
			want:    []string{"cluster-scoped: Namespace team-a removed"},
		},
		"turned off": {
			base:   pkg(),
			target: pkg("Kptfile", withPipeline("  - image: ghcr.io/forkline/bump-version:v0.1.0\n"), "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"),
		},
		"moving a resource to another file is no change": {
			base:    pkg("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"),
			target:  pkg("namespaces.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"),
			classes: all,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			changes, err := Classify(tc.base, tc.target, tc.classes, tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range changes {
				got = append(got, c.What)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Classify =\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}
