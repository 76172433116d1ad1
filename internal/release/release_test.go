package release

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func revs(names ...string) []Revision {
	var out []Revision
	for i, n := range names {
		out = append(out, Revision{Name: "up-" + n, Revision: n, Published: now.Add(-time.Duration(len(names)-i) * 24 * time.Hour)})
	}
	return out
}

func TestSelect(t *testing.T) {
	all := revs("main", "v1", "v1.21.2", "v1.21.3", "v1.21.4", "v1.22.0-rc.1", "v1.22.0", "v1.23.1")
	cases := map[string]struct {
		track       Track
		current     string
		revisions   []Revision
		wantTarget  string
		wantLatest  string
		wantAvail   []string
		wantWaiting string
		wantMessage string
		wantErr     string
	}{
		"first sync takes the oldest match": {
			track: Track{Versions: "1.21.x"}, revisions: all,
			wantTarget: "v1.21.2", wantLatest: "v1.21.4", wantAvail: []string{"v1.21.2", "v1.21.3", "v1.21.4"},
		},
		"oldest first walks one release at a time": {
			track: Track{Versions: "1.21.x", Order: OldestFirst}, current: "v1.21.2", revisions: all,
			wantTarget: "v1.21.3", wantLatest: "v1.21.4", wantAvail: []string{"v1.21.3", "v1.21.4"},
		},
		"a skipped release is stepped over": {
			track: Track{Versions: "1.21.x", Skip: []string{"v1.21.3"}}, current: "v1.21.2", revisions: all,
			wantTarget: "v1.21.4", wantLatest: "v1.21.4", wantAvail: []string{"v1.21.4"},
		},
		"a skipped range": {
			track: Track{Versions: ">=1.21", Skip: []string{">=1.21.3 <1.23"}}, current: "v1.21.2", revisions: all,
			wantTarget: "v1.23.1", wantLatest: "v1.23.1", wantAvail: []string{"v1.23.1"},
		},
		"a pin takes a skipped release": {
			track: Track{Versions: "1.21.x", Skip: []string{"v1.21.3"}, Pin: &Pin{Revision: "v1.21.3"}}, current: "v1.21.4", revisions: all,
			wantTarget: "v1.21.3", wantLatest: "v1.21.3",
		},
		"an invalid skip entry": {
			track: Track{Versions: "1.21.x", Skip: []string{"not a version"}}, revisions: all,
			wantErr: "upstream.skip entry",
		},
		"latest jumps": {
			track: Track{Versions: "1.21.x", Order: Latest}, current: "v1.21.2", revisions: all,
			wantTarget: "v1.21.4", wantLatest: "v1.21.4", wantAvail: []string{"v1.21.3", "v1.21.4"},
		},
		"up to date": {
			track: Track{Versions: "1.21.x"}, current: "v1.21.4", revisions: all,
			wantLatest: "v1.21.4",
		},
		"range constraint": {
			track: Track{Versions: ">=1.21.4 <1.23", Order: Latest}, current: "v1.21.4", revisions: all,
			wantTarget: "v1.22.0", wantLatest: "v1.22.0", wantAvail: []string{"v1.22.0"},
		},
		"tilde constraint skips prereleases": {
			track: Track{Versions: "~1.22"}, revisions: all,
			wantTarget: "v1.22.0", wantLatest: "v1.22.0", wantAvail: []string{"v1.22.0"},
		},
		"prereleases when asked": {
			track: Track{Versions: "~1.22", Prereleases: true}, revisions: all,
			wantTarget: "v1.22.0-rc.1", wantLatest: "v1.22.0", wantAvail: []string{"v1.22.0-rc.1", "v1.22.0"},
		},
		"non-semver revisions never match": {
			track: Track{Versions: ">=0.0.0"}, revisions: revs("main", "v1", "v2"),
			wantMessage: `no published upstream revision matches ">=0.0.0"`,
		},
		"fixed revision": {
			track: Track{Revision: "v1.21.3"}, current: "v1.21.2", revisions: all,
			wantTarget: "v1.21.3", wantLatest: "v1.21.3",
		},
		"fixed revision not published": {
			track: Track{Revision: "v9.0.0"}, revisions: all,
			wantErr: `upstream.revision "v9.0.0" is not a published release of the upstream package (the newest is v1.23.1)`,
		},
		"pin holds": {
			track: Track{Versions: "1.21.x", Pin: &Pin{Revision: "v1.21.2", Until: now.Add(time.Hour)}}, current: "v1.21.2", revisions: all,
			wantLatest: "v1.21.2", wantMessage: "pinned at v1.21.2 until 2026-11-21T13:00:00Z",
		},
		"pin moves the downstream to the pinned revision": {
			track: Track{Versions: "1.21.x", Pin: &Pin{Revision: "v1.21.3"}}, current: "v1.21.2", revisions: all,
			wantTarget: "v1.21.3", wantLatest: "v1.21.3",
		},
		"expired pin releases the variant": {
			track: Track{Versions: "1.21.x", Pin: &Pin{Revision: "v1.21.2", Until: now.Add(-time.Hour)}}, current: "v1.21.2", revisions: all,
			wantTarget: "v1.21.3", wantLatest: "v1.21.4", wantAvail: []string{"v1.21.3", "v1.21.4"},
		},
		"pin on an unknown revision": {
			track: Track{Versions: "1.21.x", Pin: &Pin{Revision: "v1.21.9"}}, revisions: all,
			wantErr: `pin.revision "v1.21.9" is not a published release of the upstream package (the newest is v1.23.1)`,
		},
		"soak time holds oldest first": {
			track: Track{Versions: "1.21.x", MinimumAge: 6 * 24 * time.Hour}, current: "v1.21.2", revisions: all,
			wantLatest: "v1.21.4", wantAvail: []string{"v1.21.3", "v1.21.4"}, wantWaiting: "v1.21.3 soaks until",
		},
		"invalid constraint": {
			track: Track{Versions: "1.21.x ||| banana"}, revisions: all,
			wantErr: `upstream.versions "1.21.x ||| banana" is not a semver constraint`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sel, err := Select(tc.track, tc.current, tc.revisions, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if sel.Target != nil {
				got = sel.Target.Revision
			}
			if got != tc.wantTarget {
				t.Errorf("target = %q, want %q", got, tc.wantTarget)
			}
			if sel.LatestMatching != tc.wantLatest {
				t.Errorf("latest matching = %q, want %q", sel.LatestMatching, tc.wantLatest)
			}
			if diff := cmp.Diff(tc.wantAvail, sel.Available); diff != "" {
				t.Errorf("available (-want +got):\n%s", diff)
			}
			if !strings.Contains(sel.Waiting, tc.wantWaiting) || (tc.wantWaiting == "" && sel.Waiting != "") {
				t.Errorf("waiting = %q, want %q", sel.Waiting, tc.wantWaiting)
			}
			if sel.Message != tc.wantMessage {
				t.Errorf("message = %q, want %q", sel.Message, tc.wantMessage)
			}
		})
	}
}

func TestWorkspace(t *testing.T) {
	for rev, want := range map[string]string{
		"v1.21.3":      "forkline-v1-21-3",
		"v1.22.0-rc.1": "forkline-v1-22-0-rc-1",
		"main":         "forkline-main",
	} {
		if got := Workspace(rev); got != want {
			t.Errorf("Workspace(%q) = %q, want %q", rev, got, want)
		}
	}
}
