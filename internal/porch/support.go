package porch

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ReasonUnsupported is the condition reason of a variant whose Porch, or
// one of whose Repositories, forkline does not speak.
const ReasonUnsupported = "PorchAPIUnsupported"

// MigrationAnnotation marks a Repository whose packages Porch v1.6 serves
// as CRD-based porch.kpt.dev/v1alpha2 PackageRevisions; the v1alpha1 API
// forkline speaks refuses them.
const MigrationAnnotation = "porch.kpt.dev/v1alpha2-migration"

// Spoken names the Porch API forkline speaks, for messages.
const Spoken = "porch.kpt.dev/v1alpha1 as Porch v1.3 to v1.5 (and v1.6 for Repositories not migrated to v1alpha2) serve it"

// Unspoken says why forkline cannot work with repo's packages, "" when it can.
func Unspoken(repo *configapi.Repository) string {
	if repo.Annotations[MigrationAnnotation] != "true" {
		return ""
	}
	return fmt.Sprintf("Porch Repository %q is annotated %s: \"true\": Porch serves its packages as porch.kpt.dev/v1alpha2 PackageRevisions, which refuse the API forkline speaks (%s); "+
		"register the git repository again as a Repository without the annotation for forkline's variants, or remove the annotation", repo.Name, MigrationAnnotation, Spoken)
}

// Support is what the manager has seen of Porch's answers: whether it can
// read them. A Porch whose PackageRevisions do not decode leaves the
// manager's cache unsynced and every variant unreconciled; Support is how
// that becomes a condition, an Event, a metric and a failing readiness
// check instead of silence.
type Support struct {
	mu      sync.Mutex
	problem string
	since   time.Time
}

// Unreadable records that reading Porch's kind failed with err, when err
// says the answer could not be decoded (not an outage, not a refusal);
// it reports whether it did.
func (s *Support) Unreadable(kind string, err error) bool {
	if err == nil || !undecodable(err) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.problem == "" {
		s.since = time.Now()
	}
	s.problem = fmt.Sprintf("forkline cannot read this Porch's %s: %v; forkline speaks %s. Run a Porch version forkline supports (docs/install.md, Porch versions) or a forkline that speaks this one",
		kind, firstLine(err.Error()), Spoken)
	return true
}

// Problem is what keeps forkline from reading Porch, "" if nothing does.
func (s *Support) Problem() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.problem
}

// Readyz fails while forkline cannot read Porch (the manager's readiness
// check).
func (s *Support) Readyz(*http.Request) error {
	if p := s.Problem(); p != "" {
		return errors.New(p)
	}
	return nil
}

// undecodable says err is a decoding failure: Porch answered, and the
// answer is not what forkline's types read.
func undecodable(err error) bool {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "cannot unmarshal") || strings.Contains(msg, "unable to decode") ||
		strings.Contains(msg, "json: unknown field") || strings.Contains(msg, "is not registered")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
