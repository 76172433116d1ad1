package inject

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

const pkg = `apiVersion: v1
kind: ConfigMap
metadata:
  name: region-config
  annotations:
    kpt.dev/config-injection: required
data:
  region: placeholder
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: tuning
  annotations:
    kpt.dev/config-injection: optional
data:
  replicas: "1"
`

func lookupFrom(objects map[string]string) Lookup {
	return func(apiVersion, kind, name string) (*Object, error) {
		data, ok := objects[kind+"/"+name]
		if !ok {
			return nil, nil
		}
		n, err := yaml.Parse(data)
		if err != nil {
			return nil, err
		}
		return &Object{Name: name, Field: n}, nil
	}
}

func TestApply(t *testing.T) {
	cases := map[string]struct {
		injectors  []v1.Injector
		objects    map[string]string
		wantIn     []string
		wantPoints map[string]string // condition type -> injected name
		wantSaid   map[string]string // condition type -> reason: message
	}{
		"required point filled, optional left": {
			injectors:  []v1.Injector{{Name: "eu-west"}},
			objects:    map[string]string{"ConfigMap/eu-west": "region: eu-west-1\n"},
			wantIn:     []string{"region: eu-west-1", "kpt.dev/injected-resource: 'eu-west'"},
			wantPoints: map[string]string{"config.injection.ConfigMap.region-config": "eu-west", "config.injection.ConfigMap.tuning": "eu-west"},
			wantSaid:   map[string]string{"config.injection.ConfigMap.region-config": `ConfigInjected: injected resource "eu-west" from cluster`},
		},
		"first injector that exists wins": {
			injectors:  []v1.Injector{{Name: "missing"}, {Kind: "Secret", Name: "eu-west"}, {Name: "eu-central"}},
			objects:    map[string]string{"ConfigMap/eu-central": "region: eu-central-1\n", "ConfigMap/eu-west": "region: eu-west-1\n"},
			wantIn:     []string{"region: eu-central-1"},
			wantPoints: map[string]string{"config.injection.ConfigMap.region-config": "eu-central"},
		},
		"nothing selected": {
			injectors:  []v1.Injector{{Name: "missing"}},
			wantIn:     []string{"region: placeholder"},
			wantPoints: map[string]string{"config.injection.ConfigMap.region-config": ""},
			wantSaid:   map[string]string{"config.injection.ConfigMap.region-config": "NoResourceSelected: no resource matched any injection selector for this injection point"},
		},
		// Porch's PackageVariant gates a required point whether or not the
		// variant has injectors.
		"no injectors": {
			wantIn:     []string{"region: placeholder"},
			wantPoints: map[string]string{"config.injection.ConfigMap.region-config": "", "config.injection.ConfigMap.tuning": ""},
			wantSaid:   map[string]string{"config.injection.ConfigMap.region-config": "NoResourceSelected: no injectors defined"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := map[string]string{"config.yaml": pkg, "README.md": "kpt.dev/config-injection: required"}
			points, err := Apply(res, tc.injectors, lookupFrom(tc.objects))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wantIn {
				if !strings.Contains(res["config.yaml"], want) {
					t.Errorf("config.yaml lacks %q:\n%s", want, res["config.yaml"])
				}
			}
			got, said := map[string]string{}, map[string]string{}
			for _, p := range points {
				got[p.ConditionType()] = p.Injected
				said[p.ConditionType()] = p.Reason() + ": " + p.Message
				if p.Name == "region-config" && !p.Required {
					t.Error("region-config should be a required point")
				}
			}
			if len(points) != 2 {
				t.Errorf("%d points, want 2", len(points))
			}
			for ct, want := range tc.wantPoints {
				if got[ct] != want {
					t.Errorf("%s injected %q, want %q", ct, got[ct], want)
				}
			}
			for ct, want := range tc.wantSaid {
				if said[ct] != want {
					t.Errorf("%s says %q, want %q", ct, said[ct], want)
				}
			}
		})
	}
	t.Run("forkline's old annotation gives way to Porch's", func(t *testing.T) {
		res := map[string]string{"config.yaml": strings.Replace(pkg, "    kpt.dev/config-injection: required", "    kpt.dev/config-injection: required\n    kpt.dev/injected-resource-name: eu-east", 1)}
		if _, err := Apply(res, []v1.Injector{{Name: "eu-west"}}, lookupFrom(map[string]string{"ConfigMap/eu-west": "region: eu-west-1\n"})); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(res["config.yaml"], "injected-resource-name") || !strings.Contains(res["config.yaml"], "kpt.dev/injected-resource: 'eu-west'") {
			t.Errorf("config.yaml:\n%s", res["config.yaml"])
		}
	})
	t.Run("has points", func(t *testing.T) {
		if !HasPoints(map[string]string{"a.yaml": pkg}) || HasPoints(map[string]string{"README.md": "kpt.dev/config-injection: required", "b.yaml": "kind: ConfigMap\n"}) {
			t.Error("HasPoints is wrong")
		}
	})
	t.Run("invalid annotation value", func(t *testing.T) {
		res := map[string]string{"config.yaml": strings.Replace(pkg, "required", "mandatory", 1)}
		if _, err := Apply(res, nil, lookupFrom(nil)); err == nil || !strings.Contains(err.Error(), `"mandatory"; it must be required or optional`) {
			t.Errorf("error = %v", err)
		}
	})
}
