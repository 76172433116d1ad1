// Package metrics holds forkline's Prometheus metrics, served on the
// manager's metrics endpoint with controller-runtime's. Labels stay
// bounded: per variant (namespace, variant), never per release.
package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Phase is 1 for the sync phase each variant is in.
	Phase = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "forkline_variant_phase",
		Help: "1 for the sync phase the variant is in (Merging, Conflicted, Proposed, Published, Failed, ...).",
	}, []string{"namespace", "variant", "phase"})
	// Behind counts the matching upstream releases newer than the one a
	// variant's downstream is on.
	Behind = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "forkline_variant_releases_behind",
		Help: "Matching upstream releases newer than the one the downstream is on.",
	}, []string{"namespace", "variant"})
	// Conflicts counts a variant's unresolved merge conflicts.
	Conflicts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "forkline_variant_unresolved_conflicts",
		Help: "Unresolved merge conflicts in the variant's draft.",
	}, []string{"namespace", "variant"})
	// TargetAge is how long the release a variant syncs to has been out.
	TargetAge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "forkline_variant_target_release_age_seconds",
		Help: "Seconds since the upstream release the variant syncs to was published; 0 when up to date.",
	}, []string{"namespace", "variant"})

	// PorchUnsupported is 1 while the manager cannot read the Porch it runs
	// against (its answers do not decode): no variant moves then.
	PorchUnsupported = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "forkline_porch_api_unsupported",
		Help: "1 while forkline cannot read the Porch it runs against (a Porch version it does not speak); every variant says so in its Ready condition (PorchAPIUnsupported).",
	})
	// Stalled is 1 while a variant waits for a person to fix its spec or
	// content (its Stalled condition), whatever its phase.
	Stalled = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "forkline_variant_stalled",
		Help: "1 while the variant is Stalled: a person must fix its spec or content (the Ready condition says what).",
	}, []string{"namespace", "variant"})

	// DraftsCreated counts the drafts forkline created.
	DraftsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "forkline_drafts_created_total",
		Help: "Drafts forkline created.",
	})
	// Merges counts merges by result: clean or conflicted.
	Merges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "forkline_merges_total",
		Help: "Merges of an upstream release into a draft, by result (clean, conflicted, audit-failed: refused by the audit, nothing written).",
	}, []string{"result"})
	// Approvals counts publishes by who approved them: forkline or a person.
	Approvals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "forkline_approvals_total",
		Help: "Published syncs, by who approved them (forkline, person).",
	}, []string{"by"})
	// Rollbacks counts automatic rollbacks.
	Rollbacks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "forkline_rollbacks_total",
		Help: "Rollbacks published (a pin back, or a failed health check).",
	})

	// WriteBytes sizes forkline's writes of draft content: only what
	// changes is sent, so they stay far under the API server's 3 MiB.
	WriteBytes = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "forkline_draft_write_bytes",
		Help:    "Bytes of each write of a draft's files forkline sent (a merge patch of the files that change).",
		Buckets: prometheus.ExponentialBuckets(1024, 4, 9), // 1 KiB .. 64 MiB
	})

	// ReleaseToProposed times a release from its upstream publish to a
	// variant's proposal.
	ReleaseToProposed = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "forkline_release_to_proposed_seconds",
		Help:    "Seconds from an upstream release's publish to forkline proposing it in a branch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 s .. ~3 days
	})
	// ReleaseToPublished times a release from its upstream publish to a
	// variant's publish.
	ReleaseToPublished = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "forkline_release_to_published_seconds",
		Help:    "Seconds from an upstream release's publish to its publish in a branch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 10),
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(PorchUnsupported, Phase, Behind, Conflicts, TargetAge, Stalled, DraftsCreated, Merges, Approvals, Rollbacks, WriteBytes, ReleaseToProposed, ReleaseToPublished, APIRequests)
}

// Forget drops a deleted variant's series.
func Forget(namespace, variant string) {
	labels := prometheus.Labels{"namespace": namespace, "variant": variant}
	for _, g := range []*prometheus.GaugeVec{Phase, Behind, Conflicts, TargetAge, Stalled} {
		g.DeletePartialMatch(labels)
	}
}

// SetPhase makes phase the variant's only phase series.
func SetPhase(namespace, variant, phase string) {
	Phase.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "variant": variant})
	if phase != "" {
		Phase.WithLabelValues(namespace, variant, phase).Set(1)
	}
}

// APIRequests counts the manager's requests to the API server by API
// group and verb: those to porch.kpt.dev are what forkline costs Porch.
var APIRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "forkline_api_requests_total",
	Help: "Requests the manager sent the API server, by API group (porch.kpt.dev, forkline.dev, core, ...) and verb (WATCH for watches, LIST for reads of a collection).",
}, []string{"group", "verb"})

// CountRequests wraps a client transport so APIRequests counts what it
// sends (rest.Config.Wrap).
func CountRequests(next http.RoundTripper) http.RoundTripper {
	return countingTransport{next: next}
}

type countingTransport struct{ next http.RoundTripper }

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	APIRequests.WithLabelValues(apiGroup(req.URL.Path), requestVerb(req)).Inc()
	return c.next.RoundTrip(req)
}

// apiGroup is the API group a request path addresses: "core" for /api,
// the group for /apis/<group>, "other" for the rest (discovery, health).
func apiGroup(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		return "core"
	case len(parts) >= 3 && parts[0] == "apis":
		return parts[1]
	}
	return "other"
}

// requestVerb is the request's HTTP method, but WATCH for a watch and
// LIST for a GET of a collection: an informer's re-list is not a read of
// one object, and the two cost Porch very differently.
func requestVerb(req *http.Request) string {
	if req.Method != http.MethodGet {
		return req.Method
	}
	if req.URL.Query().Get("watch") == "true" {
		return "WATCH"
	}
	if isCollection(req.URL.Path) {
		return "LIST"
	}
	return req.Method
}

// isCollection says a resource path names a collection
// (/apis/g/v/namespaces/ns/things, /api/v1/things), not one object or a
// discovery document.
func isCollection(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:] // api, v1
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:] // apis, group, version
	default:
		return false
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	return len(parts) == 1
}
