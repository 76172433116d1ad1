// Package approval decides whether forkline may approve a proposal by
// itself now: the gates of automatic approval in their order, which one
// blocks, and when it can open, so the controller requeues at that moment
// instead of polling.
package approval

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is a weekly time range, in its own time zone, in which automatic
// approval may act. End at or before Start runs past midnight into the
// next day; the days are the days a window opens.
type Window struct {
	Days       map[time.Weekday]bool // empty: every day
	Start, End int                   // minutes after local midnight; End may be 1440
	Loc        *time.Location
}

// ParseWindow reads a window as the API spells it: day names, "HH:MM"
// start and end ("24:00" for midnight), an IANA time zone (UTC if empty).
func ParseWindow(days []string, start, end, timeZone string) (Window, error) {
	w := Window{Days: map[time.Weekday]bool{}, Loc: time.UTC}
	for _, d := range days {
		wd, ok := weekdays[d]
		if !ok {
			return w, fmt.Errorf("unknown day %q", d)
		}
		w.Days[wd] = true
	}
	var err error
	if w.Start, err = minutes(start); err != nil {
		return w, err
	}
	if w.End, err = minutes(end); err != nil {
		return w, err
	}
	if w.Start == w.End {
		return w, fmt.Errorf("window %s-%s is empty", start, end)
	}
	if timeZone != "" {
		if w.Loc, err = time.LoadLocation(timeZone); err != nil {
			return w, fmt.Errorf("time zone %q: %w", timeZone, err)
		}
	}
	return w, nil
}

var weekdays = map[string]time.Weekday{
	"Sunday": time.Sunday, "Monday": time.Monday, "Tuesday": time.Tuesday, "Wednesday": time.Wednesday,
	"Thursday": time.Thursday, "Friday": time.Friday, "Saturday": time.Saturday,
}

func minutes(hhmm string) (int, error) {
	h, m, ok := strings.Cut(hhmm, ":")
	hours, err1 := strconv.Atoi(h)
	mins, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hours < 0 || mins < 0 || mins > 59 || hours*60+mins > 24*60 {
		return 0, fmt.Errorf("time %q is not HH:MM", hhmm)
	}
	return hours*60 + mins, nil
}

// open says whether the window's wall clock at t shows a time inside it:
// on one of its days, from Start until End; past midnight, until End on
// the day after. This is the rule whatever the zone's clock does: an hour
// a daylight-saving change skips is not in the window (and a window the
// change cuts into opens when the clock comes back into it), an hour it
// repeats is in the window both times.
func (w Window) open(t time.Time) bool {
	local := t.In(w.Loc)
	mins := local.Hour()*60 + local.Minute()
	day := local.Weekday()
	if w.Start < w.End {
		return w.on(day) && mins >= w.Start && mins < w.End
	}
	return (w.on(day) && mins >= w.Start) || (w.on((day+6)%7) && mins < w.End)
}

// on says whether the window opens on day.
func (w Window) on(day time.Weekday) bool { return len(w.Days) == 0 || w.Days[day] }

// maxClockJump bounds how far a daylight-saving change moves the wall
// clock (Troll's is two hours).
const maxClockJump = 3 * time.Hour

// at reports whether the window is open at now, and else when it next
// opens: the first minute after now at which open holds. A day's opening
// is its start placed with time.Date on its local calendar day; on a day
// the zone's clock changes near or inside the window, the clock may skip
// the start, pass it twice, or come back into the window after it closed,
// so there the first open minute is looked for minute by minute.
func (w Window) at(now time.Time) (open bool, next time.Time) {
	if w.open(now) {
		return true, time.Time{}
	}
	local := now.In(w.Loc)
	y, m, d := local.Date()
	after := now.Truncate(time.Minute).Add(time.Minute)
	for offset := 0; offset <= 8; offset++ {
		start := time.Date(y, m, d+offset, 0, w.Start, 0, 0, w.Loc)
		endDay := d + offset
		if w.End <= w.Start {
			endDay++
		}
		end := time.Date(y, m, endDay, 0, w.End, 0, 0, w.Loc)
		from, to := start.Add(-maxClockJump), end.Add(maxClockJump)
		var opens time.Time
		if offsetAt(from) == offsetAt(to) {
			if w.open(start) && start.After(now) {
				opens = start
			}
		} else {
			for t := later(from, after); t.Before(to); t = t.Add(time.Minute) {
				if w.open(t) {
					opens = t
					break
				}
			}
		}
		if !opens.IsZero() && (next.IsZero() || opens.Before(next)) {
			next = opens
		}
	}
	return false, next
}

// offsetAt is the zone's offset from UTC at t, in t's location.
func offsetAt(t time.Time) int {
	_, offset := t.Zone()
	return offset
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Input is what the gates look at.
type Input struct {
	// Unclean says why the draft may not be approved by forkline (a render
	// error, a False readiness gate, a person's edit); empty when clean.
	Unclean string
	// ChangedByPerson names what a person changed in the draft since
	// forkline wrote it (files, or how it knows); empty when the draft
	// holds only forkline's own content. forkline never publishes a
	// person's content with its own right: only a person approves it.
	ChangedByPerson string
	// UpstreamMoved says which release tag forkline took or proposed now
	// names another commit: a trust anomaly a person looks at.
	UpstreamMoved string
	// RequiresPerson lists what the upstream release changes of the kinds
	// a person approves (approval.requirePersonFor); empty when none.
	RequiresPerson string
	// Held is the reason of a hold on the variant or its draft.
	Held string
	// Soaking says what the previous automatic publish's soak waits for;
	// SoakRetry when to look again.
	Soaking   string
	SoakRetry time.Time
	// Windows are the approval windows; none means any time.
	Windows []Window
	// Recent are this variant's automatic publishes; MaxPerHour its limit
	// (0: none).
	Recent     []time.Time
	MaxPerHour int
	// PolicyRecent are the automatic publishes of every variant of the
	// variant's policy; PolicyMax the policy's budget per hour (0: none).
	PolicyRecent []time.Time
	PolicyMax    int
	Policy       string
}

// Gate names the gate that blocks an automatic approval.
type Gate string

// The gates, in the order Decide checks them.
const (
	NotClean          Gate = "NotClean"
	ChangedByPerson   Gate = "ChangedByPerson"
	UpstreamMoved     Gate = "UpstreamMoved"
	RequiresPerson    Gate = "RequiresPerson"
	Held              Gate = "Held"
	Soaking           Gate = "Soaking"
	OutsideWindow     Gate = "OutsideWindow"
	RateLimited       Gate = "RateLimited"
	PolicyRateLimited Gate = "PolicyRateLimited"
)

// Decision is what the gates say: approve, or which gate blocks, in words
// a person reads, and when it can open (zero: only a person's action or a
// new event opens it).
type Decision struct {
	Approve bool
	Gate    Gate
	Message string
	RetryAt time.Time
}

// Decide runs the gates in order: clean, nobody else's content, no change
// that needs a person, not held, the previous automatic
// publish done soaking, inside a window, under the variant's rate limit,
// under the policy's budget.
func Decide(in Input, now time.Time) Decision {
	if in.Unclean != "" {
		return Decision{Gate: NotClean, Message: "not clean: " + in.Unclean}
	}
	if in.ChangedByPerson != "" {
		return Decision{Gate: ChangedByPerson, Message: "changed by a person: " + in.ChangedByPerson + "; forkline approves only content it made itself, so a person with approval rights approves it"}
	}
	if in.UpstreamMoved != "" {
		return Decision{Gate: UpstreamMoved, Message: "upstream moved: " + in.UpstreamMoved + "; a person with approval rights approves it"}
	}
	if in.RequiresPerson != "" {
		return Decision{Gate: RequiresPerson, Message: "needs a person: " + in.RequiresPerson + " (approval.requirePersonFor); a person with approval rights approves it"}
	}
	if in.Held != "" {
		return Decision{Gate: Held, Message: "held: " + in.Held}
	}
	if in.Soaking != "" {
		return Decision{Gate: Soaking, Message: "soaking: " + in.Soaking, RetryAt: in.SoakRetry}
	}
	if len(in.Windows) > 0 {
		var next time.Time
		var loc *time.Location
		open := false
		for _, w := range in.Windows {
			o, n := w.at(now)
			if o {
				open = true
				break
			}
			if !n.IsZero() && (next.IsZero() || n.Before(next)) {
				next, loc = n, w.Loc
			}
		}
		if !open {
			if next.IsZero() {
				return Decision{Gate: OutsideWindow, Message: "outside window: no window opens in the coming week"}
			}
			return Decision{Gate: OutsideWindow, Message: "outside window: next opens " + next.In(loc).Format("Mon 15:04") + " " + loc.String(), RetryAt: next}
		}
	}
	zone := time.UTC
	if len(in.Windows) > 0 {
		zone = in.Windows[0].Loc
	}
	if n, next := limited(in.Recent, in.MaxPerHour, now); n > 0 {
		return Decision{Gate: RateLimited, Message: fmt.Sprintf("rate limit: %d publishes in the last hour, next at %s", n, next.In(zone).Format("15:04")), RetryAt: next}
	}
	if n, next := limited(in.PolicyRecent, in.PolicyMax, now); n > 0 {
		return Decision{Gate: PolicyRateLimited, Message: fmt.Sprintf("policy %s rate limit: %d publishes across its variants in the last hour, next at %s", in.Policy, n, next.In(zone).Format("15:04")), RetryAt: next}
	}
	return Decision{Approve: true}
}

// limited counts the publishes of the last hour; at or above max, it
// returns that count and when enough of them have left the hour for one
// more.
func limited(publishes []time.Time, limit int, now time.Time) (int, time.Time) {
	if limit <= 0 {
		return 0, time.Time{}
	}
	var inHour []time.Time
	for _, t := range publishes {
		if now.Sub(t) < time.Hour && !t.After(now) {
			inHour = append(inHour, t)
		}
	}
	if len(inHour) < limit {
		return 0, time.Time{}
	}
	slices.SortFunc(inHour, time.Time.Compare)
	return len(inHour), inHour[len(inHour)-limit].Add(time.Hour)
}
