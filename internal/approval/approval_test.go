package approval

import (
	"testing"
	"time"
)

func mustWindow(t *testing.T, days []string, start, end, tz string) Window {
	t.Helper()
	w, err := ParseWindow(days, start, end, tz)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func at(t *testing.T, tz, local string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := time.ParseInLocation("2006-01-02 15:04", local, loc)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestWindows(t *testing.T) {
	weekdays := []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}
	cases := []struct {
		name     string
		window   Window
		now      time.Time
		open     bool
		nextOpen string // local "Mon 15:04" in the window's zone
	}{
		{"working hours, inside", mustWindow(t, weekdays, "09:00", "17:00", "Europe/Berlin"), at(t, "Europe/Berlin", "2026-11-24 10:00"), true, ""},
		{"working hours, at the start", mustWindow(t, weekdays, "09:00", "17:00", "Europe/Berlin"), at(t, "Europe/Berlin", "2026-11-24 09:00"), true, ""},
		{"working hours, at the end", mustWindow(t, weekdays, "09:00", "17:00", "Europe/Berlin"), at(t, "Europe/Berlin", "2026-11-24 17:00"), false, "Wed 09:00"},
		{"Friday evening waits for Monday", mustWindow(t, weekdays, "09:00", "17:00", "Europe/Berlin"), at(t, "Europe/Berlin", "2026-11-27 18:00"), false, "Mon 09:00"},
		{"Sunday waits for Monday", mustWindow(t, weekdays, "09:00", "17:00", "Europe/Berlin"), at(t, "Europe/Berlin", "2026-11-29 12:00"), false, "Mon 09:00"},
		{"another zone's clock", mustWindow(t, weekdays, "09:00", "17:00", "America/New_York"), at(t, "Europe/Berlin", "2026-11-24 10:00"), false, "Tue 09:00"},
		{"past midnight, before midnight", mustWindow(t, nil, "22:00", "04:00", "UTC"), at(t, "UTC", "2026-11-24 23:30"), true, ""},
		{"past midnight, after midnight", mustWindow(t, nil, "22:00", "04:00", "UTC"), at(t, "UTC", "2026-11-25 03:59"), true, ""},
		{"past midnight, daytime", mustWindow(t, nil, "22:00", "04:00", "UTC"), at(t, "UTC", "2026-11-25 12:00"), false, "Wed 22:00"},
		{"past midnight opening Friday runs into Saturday", mustWindow(t, []string{"Friday"}, "22:00", "04:00", "UTC"), at(t, "UTC", "2026-11-28 02:00"), true, ""},
		{"past midnight opening Friday, Saturday night", mustWindow(t, []string{"Friday"}, "22:00", "04:00", "UTC"), at(t, "UTC", "2026-11-28 23:00"), false, "Fri 22:00"},
		{"until midnight", mustWindow(t, nil, "20:00", "24:00", "UTC"), at(t, "UTC", "2026-11-24 23:59"), true, ""},
		// Europe/Berlin springs forward on 2026-03-29 (02:00 -> 03:00) and
		// falls back on 2026-10-25 (03:00 -> 02:00).
		{"Berlin spring forward: 09:00 is 07:00 UTC", mustWindow(t, nil, "09:00", "10:00", "Europe/Berlin"), time.Date(2026, 3, 29, 7, 30, 0, 0, time.UTC), true, ""},
		{"Berlin, the day before: 09:00 is 08:00 UTC", mustWindow(t, nil, "09:00", "10:00", "Europe/Berlin"), time.Date(2026, 3, 28, 7, 30, 0, 0, time.UTC), false, "Sat 09:00"},
		{"Berlin fall back: the window follows the wall clock", mustWindow(t, nil, "09:00", "10:00", "Europe/Berlin"), time.Date(2026, 10, 25, 8, 30, 0, 0, time.UTC), true, ""},
		{"Berlin, a window across the skipped hour", mustWindow(t, nil, "01:00", "04:00", "Europe/Berlin"), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), true, ""},
		// America/New_York springs forward on 2026-03-08 and falls back on 2026-11-01.
		{"New York spring forward", mustWindow(t, nil, "09:00", "17:00", "America/New_York"), time.Date(2026, 3, 8, 13, 30, 0, 0, time.UTC), true, ""},
		{"New York, before spring forward 13:30 UTC is 08:30", mustWindow(t, nil, "09:00", "17:00", "America/New_York"), time.Date(2026, 3, 7, 13, 30, 0, 0, time.UTC), false, "Sat 09:00"},
		{"New York fall back", mustWindow(t, nil, "09:00", "17:00", "America/New_York"), time.Date(2026, 11, 1, 13, 30, 0, 0, time.UTC), false, "Sun 09:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			open, next := tc.window.at(tc.now)
			if open != tc.open {
				t.Fatalf("open = %v, want %v", open, tc.open)
			}
			if got := ""; !open {
				got = next.In(tc.window.Loc).Format("Mon 15:04")
				if got != tc.nextOpen {
					t.Errorf("next opens %s, want %s", got, tc.nextOpen)
				}
			}
		})
	}
}

func TestParseWindowRejects(t *testing.T) {
	for _, tc := range []struct {
		days           []string
		start, end, tz string
	}{
		{nil, "09:00", "09:00", ""},
		{nil, "9", "10:00", ""},
		{nil, "09:00", "24:01", ""},
		{[]string{"Caturday"}, "09:00", "10:00", ""},
		{nil, "09:00", "10:00", "Mars/Olympus"},
	} {
		if _, err := ParseWindow(tc.days, tc.start, tc.end, tc.tz); err == nil {
			t.Errorf("ParseWindow(%v, %s, %s, %s) accepted", tc.days, tc.start, tc.end, tc.tz)
		}
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) // a Tuesday
	ago := func(d ...time.Duration) []time.Time {
		var out []time.Time
		for _, x := range d {
			out = append(out, now.Add(-x))
		}
		return out
	}
	open := mustWindow(t, nil, "09:00", "17:00", "UTC")
	closed := mustWindow(t, []string{"Wednesday"}, "09:00", "17:00", "Europe/Berlin")
	cases := []struct {
		name    string
		in      Input
		gate    Gate
		message string
		retryAt time.Time
	}{
		{name: "every gate open", in: Input{Windows: []Window{open}, Recent: ago(10 * time.Minute), MaxPerHour: 2}},
		{name: "no windows: any time", in: Input{}},
		{name: "a render error", in: Input{Unclean: "render: 1 error"}, gate: NotClean, message: "not clean: render: 1 error"},
		{name: "clean comes before held", in: Input{Unclean: "a person edited it", Held: "freeze"}, gate: NotClean, message: "not clean: a person edited it"},
		{name: "a person's content waits for a person, never for the clock", in: Input{ChangedByPerson: "escalate.yaml, forkline-conflicts.yaml", Windows: []Window{open}}, gate: ChangedByPerson,
			message: "changed by a person: escalate.yaml, forkline-conflicts.yaml; forkline approves only content it made itself, so a person with approval rights approves it"},
		{name: "clean comes before a person's content", in: Input{Unclean: "render: 1 error", ChangedByPerson: "deployment.yaml"}, gate: NotClean, message: "not clean: render: 1 error"},
		{name: "a change that needs a person", in: Input{RequiresPerson: "pipeline: mutator bump-version added (ghcr.io/forkline/bump-version:v0.1.0)"}, gate: RequiresPerson,
			message: "needs a person: pipeline: mutator bump-version added (ghcr.io/forkline/bump-version:v0.1.0) (approval.requirePersonFor); a person with approval rights approves it"},
		{name: "a person's content comes before a change that needs a person", in: Input{ChangedByPerson: "escalate.yaml", RequiresPerson: "rbac: Role app added", Held: "freeze"}, gate: ChangedByPerson,
			message: "changed by a person: escalate.yaml; forkline approves only content it made itself, so a person with approval rights approves it"},
		{name: "a change that needs a person comes before held", in: Input{RequiresPerson: "rbac: Role app added", Held: "freeze"}, gate: RequiresPerson,
			message: "needs a person: rbac: Role app added (approval.requirePersonFor); a person with approval rights approves it"},
		{name: "held", in: Input{Held: "release freeze until Friday", Windows: []Window{closed}}, gate: Held, message: "held: release freeze until Friday"},
		{name: "the previous publish soaks", in: Input{Soaking: "v3 soaks until 10:20:00 UTC; Kustomization/app is Current", SoakRetry: now.Add(20 * time.Minute), Windows: []Window{closed}}, gate: Soaking,
			message: "soaking: v3 soaks until 10:20:00 UTC; Kustomization/app is Current", retryAt: now.Add(20 * time.Minute)},
		{name: "held comes before soaking", in: Input{Held: "freeze", Soaking: "v3 soaks"}, gate: Held, message: "held: freeze"},
		{name: "outside the window", in: Input{Windows: []Window{closed}}, gate: OutsideWindow,
			message: "outside window: next opens Wed 09:00 Europe/Berlin", retryAt: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)},
		{name: "the first window that opens", in: Input{Windows: []Window{closed, mustWindow(t, nil, "12:00", "13:00", "UTC")}}, gate: OutsideWindow,
			message: "outside window: next opens Tue 12:00 UTC", retryAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)},
		{name: "one of two windows open", in: Input{Windows: []Window{closed, open}}},
		{name: "the variant's rate limit", in: Input{Recent: ago(50*time.Minute, 20*time.Minute), MaxPerHour: 2}, gate: RateLimited,
			message: "rate limit: 2 publishes in the last hour, next at 10:10", retryAt: now.Add(10 * time.Minute)},
		{name: "publishes older than an hour do not count", in: Input{Recent: ago(61*time.Minute, 20*time.Minute), MaxPerHour: 2}},
		{name: "a burst by people: the count must fall under the limit", in: Input{Recent: ago(50*time.Minute, 40*time.Minute, 5*time.Minute), MaxPerHour: 2}, gate: RateLimited,
			message: "rate limit: 3 publishes in the last hour, next at 10:20", retryAt: now.Add(20 * time.Minute)},
		{name: "the policy's budget", in: Input{Recent: ago(30 * time.Minute), MaxPerHour: 4, PolicyRecent: ago(30*time.Minute, 15*time.Minute), PolicyMax: 2, Policy: "app"}, gate: PolicyRateLimited,
			message: "policy app rate limit: 2 publishes across its variants in the last hour, next at 10:30", retryAt: now.Add(30 * time.Minute)},
		{name: "the variant's limit comes before the policy's", in: Input{Recent: ago(30 * time.Minute), MaxPerHour: 1, PolicyRecent: ago(30 * time.Minute), PolicyMax: 1}, gate: RateLimited,
			message: "rate limit: 1 publishes in the last hour, next at 10:30", retryAt: now.Add(30 * time.Minute)},
		{name: "the window comes before the rate limit", in: Input{Windows: []Window{closed}, Recent: ago(time.Minute), MaxPerHour: 1}, gate: OutsideWindow,
			message: "outside window: next opens Wed 09:00 Europe/Berlin", retryAt: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.in, now)
			if d.Approve != (tc.gate == "") || d.Gate != tc.gate || d.Message != tc.message || !d.RetryAt.Equal(tc.retryAt) {
				t.Errorf("Decide = %+v, want gate %q message %q retry at %s", d, tc.gate, tc.message, tc.retryAt)
			}
		})
	}
}

// TestWindowsAcrossEveryClockChange checks the window minute by minute
// around daylight-saving changes of every kind against the wall-clock
// rule (is the zone's clock showing a time inside the window on a listed
// day?): a skipped midnight (Santiago), a half-hour change repeating an
// hour (Lord Howe), a two-hour jump (Troll), an odd offset (Kathmandu),
// and the common ones. At every minute the window must be open exactly
// when the rule says, and when closed, say the first minute it opens.
func TestWindowsAcrossEveryClockChange(t *testing.T) {
	days := func(ds ...string) []string { return ds }
	for _, c := range []struct {
		zone       string
		from       string // UTC; three days are checked from here
		days       []string
		start, end string
	}{
		{"America/Santiago", "2026-09-04 12:00", days("Sunday"), "00:00", "06:00"},
		{"America/Santiago", "2026-09-04 12:00", days("Saturday"), "22:00", "24:00"},
		{"America/Santiago", "2026-09-04 12:00", nil, "23:30", "00:30"},
		{"America/Santiago", "2027-04-02 12:00", days("Saturday", "Sunday"), "23:00", "01:00"},
		{"Australia/Lord_Howe", "2027-04-02 00:00", nil, "01:30", "02:00"},
		{"Australia/Lord_Howe", "2026-10-02 00:00", nil, "02:00", "02:30"},
		{"Antarctica/Troll", "2027-03-26 12:00", nil, "01:00", "03:30"},
		{"Antarctica/Troll", "2026-10-23 12:00", days("Sunday"), "00:30", "02:30"},
		{"Asia/Kathmandu", "2026-11-24 00:00", days("Tuesday"), "09:00", "17:00"},
		{"Europe/Berlin", "2026-03-27 12:00", nil, "02:00", "03:00"},
		{"Europe/Berlin", "2026-10-23 12:00", days("Sunday"), "02:15", "02:45"},
		{"America/New_York", "2026-11-30 00:00", days("Monday", "Friday"), "09:00", "17:00"},
	} {
		w := mustWindow(t, c.days, c.start, c.end, c.zone)
		from, err := time.Parse("2006-01-02 15:04", c.from)
		if err != nil {
			t.Fatal(err)
		}
		const minutes = 3 * 24 * 60
		// first[i] is the first minute after minute i at which the rule
		// says open (zero when not within the checked days).
		first := make([]time.Time, minutes)
		for i := minutes - 2; i >= 0; i-- {
			if next := from.Add(time.Duration(i+1) * time.Minute); wallClockOpen(w, next) {
				first[i] = next
			} else {
				first[i] = first[i+1]
			}
		}
		wrong := 0
		for i := range minutes - 1 {
			now := from.Add(time.Duration(i) * time.Minute)
			open, next := w.at(now)
			want := wallClockOpen(w, now)
			switch {
			case open != want:
				t.Errorf("%s %s-%s %v at %s: open %v, the wall clock says %v", c.zone, c.start, c.end, c.days, now.In(w.Loc).Format("Mon 2006-01-02 15:04 -0700"), open, want)
			case !open && !first[i].IsZero() && !next.Equal(first[i]):
				t.Errorf("%s %s-%s %v at %s: next opens %s, the wall clock opens it at %s", c.zone, c.start, c.end, c.days, now.In(w.Loc).Format("Mon 2006-01-02 15:04 -0700"),
					next.In(w.Loc).Format("Mon 2006-01-02 15:04 -0700"), first[i].In(w.Loc).Format("Mon 2006-01-02 15:04 -0700"))
			default:
				continue
			}
			wrong++
			if wrong == 5 {
				break
			}
		}
	}
}

// wallClockOpen is the rule, stated on its own: the local weekday and
// time of day t shows, against the window's days and hours.
func wallClockOpen(w Window, t time.Time) bool {
	local := t.In(w.Loc)
	hhmm := local.Hour()*60 + local.Minute()
	listed := func(d time.Weekday) bool { return len(w.Days) == 0 || w.Days[d] }
	if w.Start < w.End {
		return listed(local.Weekday()) && w.Start <= hhmm && hhmm < w.End
	}
	yesterday := local.AddDate(0, 0, -1).Weekday()
	return listed(local.Weekday()) && hhmm >= w.Start || listed(yesterday) && hhmm < w.End
}
