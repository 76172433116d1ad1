package cli

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func (o *options) eventsCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "events VARIANT",
		ValidArgsFunction: o.completeVariants,
		Short:             "The Events of a variant and of its draft, oldest first",
		Example:           "  kubectl forkline events app-release-4-8 -n platform",
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.newClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pv, err := o.variant(ctx, c, args[0])
			if err != nil {
				return err
			}
			names := []string{pv.Name}
			if pv.Status.Sync != nil && pv.Status.Sync.Draft != "" {
				names = append(names, pv.Status.Sync.Draft)
			}
			var events []corev1.Event
			for _, name := range names {
				var list corev1.EventList
				if err := c.List(ctx, &list, client.InNamespace(pv.Namespace), client.MatchingFields{"involvedObject.name": name}); err != nil {
					return err
				}
				events = append(events, list.Items...)
			}
			slices.SortStableFunc(events, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
			if ok, err := o.printStructured(events); ok {
				return err
			}
			tw := printers.GetNewTabWriter(o.Out)
			fmt.Fprintln(tw, "LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE")
			now := o.now()
			for _, e := range events {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\n", age(now, eventTime(e)), e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
			}
			return tw.Flush()
		},
	}
}

// eventTime is when an Event last happened, whichever API wrote it.
func eventTime(e corev1.Event) time.Time {
	switch {
	case e.Series != nil:
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
