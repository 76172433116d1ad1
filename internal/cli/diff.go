package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/changes"
	"github.com/forkline/forkline/internal/porch"
)

func (o *options) diffCommand() *cobra.Command {
	var upstreamOnly bool
	cmd := &cobra.Command{
		Use:               "diff VARIANT",
		ValidArgsFunction: o.completeVariants,
		Short:             "What the open draft or proposal changes against the last published downstream revision, and where each change came from",
		Long: `diff compares the variant's open draft or proposal with the downstream's last published
revision: a summary per resource (added, removed, changed, with the changed field paths), each
change attributed to upstream (the upstream package changed it between the two releases), a
person (who pushed it to the draft) or steps (the variant's pipeline, injection and package
context), then a unified diff per file. The upstream release notes forkline recorded head it.
With --upstream it shows upstream's own change between the two releases instead.`,
		Example: "  kubectl forkline diff app-release-4-8 -n platform\n  kubectl forkline diff app-release-4-8 --upstream",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.newClient()
			if err != nil {
				return err
			}
			return o.diff(cmd.Context(), c, args[0], upstreamOnly)
		},
	}
	cmd.Flags().BoolVar(&upstreamOnly, "upstream", false, "show upstream's own change between the release the branch is on and the one proposed")
	return cmd
}

// diffReport is diff's -o yaml/json output.
type diffReport struct {
	Variant      string             `json:"variant"`
	Draft        string             `json:"draft"`
	Published    string             `json:"published,omitempty"`
	From         string             `json:"from,omitempty"`
	To           string             `json:"to"`
	ReleaseNotes *v1.ReleaseNotes   `json:"releaseNotes,omitempty"`
	Summary      string             `json:"summary"`
	Resources    []changes.Resource `json:"resources"`
	Files        []changes.File     `json:"files"`
	PersonFiles  []string           `json:"personFiles,omitempty"`
}

func (o *options) diff(ctx context.Context, c client.Client, name string, upstreamOnly bool) error {
	pv, draft, err := o.variantDraft(ctx, c, name)
	if err != nil {
		return err
	}
	proposed, err := resources(ctx, c, draft)
	if err != nil {
		return err
	}
	downstream, err := revisions(ctx, c, pv.Namespace, pv.Spec.Downstream.Repo, pv.Spec.DownstreamPackage())
	if err != nil {
		return err
	}
	published := porch.LatestPublished(downstream)
	before, err := resources(ctx, c, published)
	if err != nil {
		return err
	}
	sync := pv.Status.Sync
	up, err := revisions(ctx, c, pv.Namespace, pv.Spec.Upstream.Repo, pv.Spec.Upstream.Package)
	if err != nil {
		return err
	}
	var upFrom, upTo map[string]string
	if sync.From != "" {
		if upFrom, err = resources(ctx, c, release(up, sync.From)); err != nil {
			return err
		}
	}
	if upTo, err = resources(ctx, c, release(up, sync.To)); err != nil {
		return err
	}
	in := changes.Inputs{Published: before, Proposed: proposed, UpstreamFrom: upFrom, UpstreamTo: upTo, PersonFiles: personFiles(draft, proposed)}
	if upstreamOnly {
		in = changes.Inputs{Published: upFrom, Proposed: upTo, UpstreamFrom: upFrom, UpstreamTo: upTo}
	}
	rep, err := changes.Compare(in)
	if err != nil {
		return err
	}
	out := diffReport{Variant: pv.Name, Draft: draft.Name, From: sync.From, To: sync.To, ReleaseNotes: sync.ReleaseNotes,
		Summary: rep.Counts().Summary(), Resources: rep.Resources, Files: rep.Files, PersonFiles: in.PersonFiles}
	if published != nil {
		out.Published = published.Name
	}
	if ok, err := o.printStructured(out); ok {
		return err
	}
	printDiff(o.Out, out, upstreamOnly)
	return nil
}

// printDiff writes the report as a person reads it: what and why first,
// the summary per resource, then the files' diffs.
func printDiff(w io.Writer, r diffReport, upstreamOnly bool) {
	from := or(r.From, "nothing (first sync)")
	if upstreamOnly {
		say(w, "upstream %s -> %s: %s", from, r.To, r.Summary)
	} else {
		say(w, "%s: draft %s (upstream %s -> %s) against %s: %s", r.Variant, r.Draft, from, r.To, or(r.Published, "no published revision"), r.Summary)
	}
	if n := r.ReleaseNotes; n != nil {
		say(w, "")
		say(w, "release notes (%s):", or(n.Tag, r.To))
		if n.Annotation != "" {
			for _, l := range strings.Split(strings.TrimRight(n.Annotation, "\n"), "\n") {
				say(w, "    %s", l)
			}
		}
		for _, c := range n.Commits {
			say(w, "  * %s", c)
		}
		if n.More {
			say(w, "  * ...")
		}
	}
	if len(r.PersonFiles) > 0 && !upstreamOnly {
		say(w, "")
		say(w, "changed by a person in the draft: %s", strings.Join(r.PersonFiles, ", "))
	}
	if len(r.Resources) > 0 {
		say(w, "")
		say(w, "resources:")
	}
	for _, res := range r.Resources {
		origins := make([]string, len(res.Origins))
		for i, o := range res.Origins {
			origins[i] = string(o)
		}
		say(w, "  %-8s %s (%s) [%s]", res.Kind, res.ID, res.File, strings.Join(origins, ", "))
		for _, f := range res.Fields {
			say(w, "           %-8s %s [%s]", f.Kind, f.Path, f.Origin)
		}
	}
	for _, f := range r.Files {
		say(w, "")
		say(w, "--- %s %s [%s]", f.Kind, f.Name, f.Origin)
		fmt.Fprint(w, f.Diff)
	}
}
