package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

func count(group, verb string) float64 {
	var m dto.Metric
	_ = APIRequests.WithLabelValues(group, verb).Write(&m)
	return m.GetCounter().GetValue()
}

// Each request counts once, under the API group its path addresses and
// its verb; a watch is not a GET.
func TestCountRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	client := &http.Client{Transport: CountRequests(http.DefaultTransport)}
	cases := map[string]struct {
		method, path string
		group, verb  string
	}{
		"porch create":    {http.MethodPost, "/apis/porch.kpt.dev/v1alpha1/namespaces/ns/packagerevisions", "porch.kpt.dev", "POST"},
		"status patch":    {http.MethodPatch, "/apis/forkline.dev/v1alpha1/namespaces/ns/packagevariants/a/status", "forkline.dev", "PATCH"},
		"core event":      {http.MethodPost, "/api/v1/namespaces/ns/events", "core", "POST"},
		"a watch":         {http.MethodGet, "/apis/porch.kpt.dev/v1alpha1/packagerevisions?watch=true", "porch.kpt.dev", "WATCH"},
		"porch read":      {http.MethodGet, "/apis/porch.kpt.dev/v1alpha1/namespaces/ns/packagerevisions/d", "porch.kpt.dev", "GET"},
		"porch re-list":   {http.MethodGet, "/apis/porch.kpt.dev/v1alpha1/packagerevisions", "porch.kpt.dev", "LIST"},
		"list in a ns":    {http.MethodGet, "/api/v1/namespaces/ns/configmaps", "core", "LIST"},
		"a namespace":     {http.MethodGet, "/api/v1/namespaces/ns", "core", "GET"},
		"namespaces":      {http.MethodGet, "/api/v1/namespaces", "core", "LIST"},
		"group discovery": {http.MethodGet, "/apis/porch.kpt.dev/v1alpha1", "porch.kpt.dev", "GET"},
		"discovery":       {http.MethodGet, "/apis", "other", "GET"},
		"health":          {http.MethodGet, "/healthz", "other", "GET"},
		"core discovery":  {http.MethodGet, "/api", "other", "GET"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := count(tc.group, tc.verb)
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, http.NoBody)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := count(tc.group, tc.verb) - before; got != 1 {
				t.Errorf("forkline_api_requests_total{group=%q,verb=%q} moved by %v, want 1", tc.group, tc.verb, got)
			}
		})
	}
}
