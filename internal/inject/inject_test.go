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
		wantErr    string
	}{
		"required point filled, optional left": {
			injectors:  []v1.Injector{{Name: "eu-west"}},
			objects:    map[string]string{"ConfigMap/eu-west": "region: eu-west-1\n"},
			wantIn:     []string{"region: eu-west-1", "kpt.dev/injected-resource-name: 'eu-west'"},
			wantPoints: map[string]string{"config.injection.ConfigMap.region-config": "eu-west", "config.injection.ConfigMap.tuning": "eu-west"},
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
			got := map[string]string{}
			for _, p := range points {
				got[p.ConditionType()] = p.Injected
				if p.Name == "region-config" && !p.Required {
					t.Error("region-config should be a required point")
				}
			}
			for ct, want := range tc.wantPoints {
				if got[ct] != want {
					t.Errorf("%s injected %q, want %q", ct, got[ct], want)
				}
			}
		})
	}
	t.Run("invalid annotation value", func(t *testing.T) {
		res := map[string]string{"config.yaml": strings.Replace(pkg, "required", "mandatory", 1)}
		if _, err := Apply(res, nil, lookupFrom(nil)); err == nil || !strings.Contains(err.Error(), `"mandatory"; it must be required or optional`) {
			t.Errorf("error = %v", err)
		}
	})
}
