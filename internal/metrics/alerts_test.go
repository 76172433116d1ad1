package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"
)

var (
	fqName    = regexp.MustCompile(`fqName: "([^"]+)"`)
	metricRef = regexp.MustCompile(`forkline_[a-z_]+`)
)

// The alerts and the dashboard shipped in config/prometheus name only
// metrics the manager serves (a renamed metric would silence an alert),
// and every alert says what it is about.
func TestAlertsAndDashboardUseServedMetrics(t *testing.T) {
	served := map[string]bool{}
	for _, c := range []prometheus.Collector{Phase, Behind, Conflicts, TargetAge, Stalled, DraftsCreated, Merges, Approvals, Rollbacks, ReleaseToProposed, ReleaseToPublished} {
		ch := make(chan *prometheus.Desc, 4)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				served[m[1]] = true
			}
		}
	}
	check := func(where, text string) {
		for _, ref := range metricRef.FindAllString(text, -1) {
			name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(ref, "_bucket"), "_sum"), "_count")
			if !served[name] {
				t.Errorf("%s uses %s, which the manager does not serve", where, ref)
			}
		}
	}

	var rule struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Alert       string            `json:"alert"`
					Expr        string            `json:"expr"`
					For         string            `json:"for"`
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	b, err := os.ReadFile("../../config/prometheus/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &rule); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	alerts := 0
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts++
			check("alert "+r.Alert, r.Expr)
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" || r.For == "" {
				t.Errorf("alert %s lacks a summary, a description or a for", r.Alert)
			}
		}
	}
	if alerts < 3 {
		t.Errorf("%d alerts, want the conflict, failed and behind alerts", alerts)
	}
	dash, err := os.ReadFile("../../config/prometheus/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]any
	if err := yaml.Unmarshal(dash, &parsed); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	check("the dashboard", string(dash))
}
