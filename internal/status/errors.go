package status

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// gitTrouble is how Porch words a git server it cannot reach or that
// refuses it, inside its own error.
var gitTrouble = regexp.MustCompile(`(?i)repository not found|unexpected client error|unexpected EOF|connection refused|connection reset|no such host|i/o timeout|authentication required|503 Service Unavailable|remote repository is empty|error fetching|failed to (fetch|clone|push|open repository)`)

// GitTrouble says msg, Porch's own words (a Repository's condition, say),
// tells of a git server it cannot reach or that refuses it.
func GitTrouble(msg string) bool { return gitTrouble.MatchString(msg) }

// Classify tells how to react to an error a reconcile returned, naming what
// is unavailable. Every returned error is retried with backoff; the
// outcome says whether it is an outage (Unavailable) or forkline racing
// another writer (Progressing).
func Classify(err error) Result {
	msg := err.Error()
	var status apierrors.APIStatus
	fromServer := errors.As(err, &status)
	porchGroup := strings.Contains(msg, "porch.kpt.dev")
	if fromServer {
		if d := status.Status().Details; d != nil && strings.HasSuffix(d.Group, "porch.kpt.dev") {
			porchGroup = true
		}
	}
	switch {
	case apierrors.IsConflict(err):
		return Result{Progressing, "Conflict", "another writer changed the object first; retrying: " + msg}
	case fromServer && gitTrouble.MatchString(status.Status().Message):
		return Result{Unavailable, "GitUnavailable", "a git repository Porch reads or pushes to is unavailable; retrying with backoff: " + msg}
	case porchGroup && (apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsUnexpectedServerError(err) || isNetwork(err) ||
		strings.Contains(msg, "currently unable to handle the request") || strings.Contains(msg, "error trying to reach service")):
		return Result{Unavailable, "PorchUnavailable", "Porch's API is unavailable; retrying with backoff: " + msg}
	case apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTooManyRequests(err) || isNetwork(err):
		return Result{Unavailable, "APIServerUnavailable", "the Kubernetes API is unavailable; retrying with backoff: " + msg}
	}
	return Result{Progressing, "Retrying", "retrying with backoff: " + msg}
}

func isNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "EOF")
}

// Since says in an Unavailable result's message when the outage began
// ("Porch's API is unavailable since <time>; ..."), carried over from the
// previous Ready condition while the same outage lasts.
func Since(r Result, prevReason, prevMessage string, now time.Time) Result {
	if r.Outcome != Unavailable {
		return r
	}
	since := now.UTC().Format(time.RFC3339)
	if prevReason == r.Reason {
		if _, rest, ok := strings.Cut(prevMessage, "unavailable since "); ok {
			if t, _, ok := strings.Cut(rest, ";"); ok {
				since = t
			}
		}
	}
	what, rest, _ := strings.Cut(r.Message, "; ")
	r.Message = fmt.Sprintf("%s since %s; %s", what, since, rest)
	return r
}

// fromError classes err, dating an outage from the Ready condition the
// object had before this reconcile.
func fromError(err error, before []metav1.Condition, now time.Time) Result {
	r := Classify(err)
	if prev := meta.FindStatusCondition(before, v1.ConditionReady); prev != nil {
		return Since(r, prev.Reason, prev.Message, now)
	}
	return Since(r, "", "", now)
}
