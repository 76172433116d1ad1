// What a proposal changes.
//
// recordChanges counts, when forkline proposes a draft, what it changes
// against the downstream's last published revision and where each change
// came from (status.sync.changes); the Proposed message says it in one
// line. kubectl forkline diff shows the same report in full.

package packagevariant

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/changes"
	"github.com/forkline/forkline/internal/porch"
	"github.com/forkline/forkline/internal/review"
)

// allClasses are every class of change that can need a person: status
// names each the release makes, whatever approval.requirePersonFor holds.
var allClasses = []v1.ChangeClass{review.Pipeline, review.CRDs, review.Webhooks, review.RBAC, review.ClusterScoped}

// recordChanges sets status.sync.changes; a report it cannot make says
// why instead of holding the proposal back.
func (r *Reconciler) recordChanges(ctx context.Context, s *scope) {
	sum, err := r.changesOf(ctx, s)
	if err != nil {
		log.FromContext(ctx).Error(err, "counting the proposal's changes")
		sum = &v1.ChangeSummary{Summary: trim("changes not counted: "+err.Error(), 500)}
	}
	s.pv.Status.Sync.Changes = sum
}

func (r *Reconciler) changesOf(ctx context.Context, s *scope) (*v1.ChangeSummary, error) {
	upTo, err := r.upstreamResources(ctx, s, s.selection.Target.Name)
	if err != nil {
		return nil, err
	}
	upFrom, err := r.baseResources(ctx, s)
	if err != nil {
		return nil, err
	}
	proposed := s.stored
	if proposed == nil && s.prr != nil {
		proposed = s.prr.Spec.Resources
	}
	switch {
	case proposed != nil:
	case s.cloned:
		proposed = upTo // a clone made now holds upstream's content
	default:
		// A proposal met again with no count recorded (the write of the
		// status that held it lost a race): read what it holds.
		if proposed, err = r.resources(ctx, s.pv.Namespace, s.draft.Name); err != nil {
			return nil, err
		}
	}
	var published map[string]string
	switch {
	case s.published == nil:
	case s.mergedFrom != nil:
		published = s.mergedFrom // the merge's downstream side: the published content
	default:
		if published, err = r.resources(ctx, s.pv.Namespace, s.published.Name); err != nil {
			return nil, err
		}
	}
	// What a person changed: seen in this reconcile, or recorded on the
	// draft by the one that went on from their push (a resolution).
	person := porch.RecordedFiles(cmp.Or(s.personFiles, s.draft.Annotations[v1.AnnotationChangedByPerson]))
	// Flattening a big package's resources costs what a merge does.
	weight := min(int64(packageBytes(proposed)+packageBytes(published)+packageBytes(upFrom)+packageBytes(upTo)), mergeBudget)
	if err := r.merging.Acquire(ctx, weight); err != nil {
		return nil, err
	}
	rep, err := changes.Compare(changes.Inputs{Published: published, Proposed: proposed, UpstreamFrom: upFrom, UpstreamTo: upTo, PersonFiles: person})
	r.merging.Release(weight)
	if err != nil {
		return nil, err
	}
	c := rep.Counts()
	sum := &v1.ChangeSummary{
		Files:     &v1.ChangeCounts{Added: int32(c.FilesAdded), Removed: int32(c.FilesRemoved), Changed: int32(c.FilesChanged)},
		Resources: &v1.ChangeCounts{Added: int32(c.ResourcesAdded), Removed: int32(c.ResourcesRemoved), Changed: int32(c.ResourcesChanged)},
		Upstream:  int32(c.ByOrigin[changes.Upstream]),
		Steps:     int32(c.ByOrigin[changes.Steps]),
		Person:    int32(c.ByOrigin[changes.Person]),
	}
	found, err := review.Classify(upFrom, upTo, allClasses, r.scope)
	if err != nil {
		return nil, err
	}
	for _, f := range found {
		if !slices.Contains(sum.NeedsPerson, f.Class) {
			sum.NeedsPerson = append(sum.NeedsPerson, f.Class)
		}
	}
	sum.Summary = summaryLine(c.Summary(), sum.NeedsPerson)
	if moved := pipelineOrderMoved(s.pv.Name, published, proposed); moved != "" {
		sum.Summary = trim(sum.Summary+"; "+moved, 500)
	}
	return sum, nil
}

// pipelineOrderMoved says when the variant's mutators change places with
// the package's own between the published revision and the proposal (the
// variant's spec.pipeline.position, or forkline's default moving to
// Porch's order): the rendered result can differ with nothing else
// changing.
func pipelineOrderMoved(variant string, published, proposed map[string]string) string {
	before, err1 := porch.ParseKptfile(published[porch.KptfileName])
	after, err2 := porch.ParseKptfile(proposed[porch.KptfileName])
	if published == nil || err1 != nil || err2 != nil {
		return ""
	}
	wasFirst, was := before.VariantFunctionsFirst(variant)
	isFirst, is := after.VariantFunctionsFirst(variant)
	switch {
	case !was || !is || wasFirst == isFirst:
		return ""
	case isFirst:
		return "the variant's functions now run before the package's own"
	default:
		return "the variant's functions now run after the package's own"
	}
}

// summaryLine is the counts, then whether upstream changed the pipeline
// and what else of it needs a person: "3 resources changed (upstream 2,
// steps 1); pipeline unchanged".
func summaryLine(counts string, classes []v1.ChangeClass) string {
	pipeline := "pipeline unchanged"
	var others []string
	for _, c := range classes {
		if c == review.Pipeline {
			pipeline = "pipeline changed upstream"
			continue
		}
		others = append(others, string(c))
	}
	line := counts + "; " + pipeline
	if len(others) > 0 {
		line += fmt.Sprintf("; upstream changes %s", strings.Join(others, ", "))
	}
	return trim(line, 500)
}
