package porch

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	"k8s.io/client-go/rest"
)

// A PackageRevision as each Porch lists it, read through the dialect: what
// forkline then names it.
func TestRevisionsOfEveryPorch(t *testing.T) {
	cases := map[string]struct {
		porch     string // the object as Porch answers it
		number    int
		revision  string
		published bool
		holder    bool // the branch's placeholder
	}{
		"v1.3 numbered":            {`{"spec":{"lifecycle":"Published","revision":"v3","workspaceName":"forkline-v1-2-0"}}`, 3, "v3", true, false},
		"v1.3 semver tag":          {`{"spec":{"lifecycle":"Published","revision":"v1.21.3","workspaceName":"ws"}}`, -1, "v1.21.3", true, false},
		"v1.3 branch placeholder":  {`{"spec":{"lifecycle":"Published","revision":"main","workspaceName":"main"}}`, -1, "", true, true},
		"v1.3 draft":               {`{"spec":{"lifecycle":"Draft","workspaceName":"forkline-v1-2-0"}}`, -1, "", false, false},
		"v1.3 deletion proposed":   {`{"spec":{"lifecycle":"DeletionProposed","revision":"v2"}}`, 2, "v2", false, false},
		"v1.5 numbered":            {`{"spec":{"lifecycle":"Published","revision":3,"workspaceName":"forkline-v1-2-0"}}`, 3, "v3", true, false},
		"v1.5 semver tag":          {`{"spec":{"lifecycle":"Published","revision":-1,"workspaceName":"v1.21.3"}}`, -1, "v1.21.3", true, false},
		"v1.5 branch placeholder":  {`{"spec":{"lifecycle":"Published","revision":-1,"workspaceName":"main"}}`, -1, "", true, true},
		"v1.5 draft":               {`{"spec":{"lifecycle":"Draft","workspaceName":"v2"}}`, -1, "", false, false},
		"v1.5 proposal":            {`{"spec":{"lifecycle":"Proposed","revision":0,"workspaceName":"v1.0.0"}}`, -1, "", false, false},
		"v1.5 a person's tag v0.9": {`{"spec":{"lifecycle":"Published","revision":-1,"workspaceName":"v0.9.0"}}`, -1, "v0.9.0", true, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			body, _ := rewrite([]byte(c.porch))
			pr := &porchv1alpha1.PackageRevision{}
			if err := json.Unmarshal(body, pr); err != nil {
				t.Fatalf("forkline's types do not read %s: %v", body, err)
			}
			if got := Number(pr); got != c.number {
				t.Errorf("Number = %d, want %d", got, c.number)
			}
			if got := Revision(pr); got != c.revision {
				t.Errorf("Revision = %q, want %q", got, c.revision)
			}
			if got := Published(pr); got != c.published {
				t.Errorf("Published = %v, want %v", got, c.published)
			}
			if got := Placeholder(pr); got != c.holder {
				t.Errorf("Placeholder = %v, want %v", got, c.holder)
			}
		})
	}
}

// SetRevision makes a revision read as Porch v1.4+ lists the one named.
func TestSetRevisionRoundTrips(t *testing.T) {
	for _, rev := range []string{"v1", "v12", "v1.21.3", "v0.9.0", ""} {
		pr := &porchv1alpha1.PackageRevision{Spec: porchv1alpha1.PackageRevisionSpec{Lifecycle: porchv1alpha1.PackageRevisionLifecyclePublished}}
		SetRevision(pr, rev)
		if got := Revision(pr); got != rev {
			t.Errorf("SetRevision(%q): Revision = %q", rev, got)
		}
	}
}

// Through a client: a list, a single object and a watch stream of Porch
// v1.3 read as v1.4+; other groups and v1.4+ answers pass byte for byte.
func TestSpeakRewritesOnlyOlderPorch(t *testing.T) {
	older := `{"kind":"PackageRevisionList","items":[{"metadata":{"name":"a","generation":12345678901},"spec":{"lifecycle":"Published","revision":"v2"}},{"spec":{"lifecycle":"Published","revision":"v1.0.0"}}]}`
	current := `{"kind":"PackageRevisionList","items":[{"spec":{"lifecycle":"Published","revision":2}}]}`
	other := `{"kind":"ConfigMap","spec":{"revision":"v2"}}`
	events := `{"type":"ADDED","object":{"spec":{"lifecycle":"Published","revision":"v4"}}}` + "\n" +
		`{"type":"MODIFIED","object":{"spec":{"lifecycle":"Published","revision":"main"}}}` + "\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Query().Get("watch") == "true":
			for _, e := range strings.SplitAfter(events, "\n") {
				_, _ = io.WriteString(w, e)
				w.(http.Flusher).Flush()
			}
		case strings.HasPrefix(r.URL.Path, "/apis/porch.kpt.dev/v1alpha1/older"):
			_, _ = io.WriteString(w, older)
		case strings.HasPrefix(r.URL.Path, "/apis/porch.kpt.dev/"):
			_, _ = io.WriteString(w, current)
		default:
			_, _ = io.WriteString(w, other)
		}
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	Speak(cfg)
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		resp, err := (&http.Client{Transport: rt}).Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := `{"items":[{"metadata":{"generation":12345678901,"name":"a"},"spec":{"lifecycle":"Published","revision":2}},{"spec":{"lifecycle":"Published","revision":-1,"workspaceName":"v1.0.0"}}],"kind":"PackageRevisionList"}`
	if diff := cmp.Diff(want, get("/apis/porch.kpt.dev/v1alpha1/older")); diff != "" {
		t.Errorf("v1.3 list (-want +got):\n%s", diff)
	}
	if got := get("/apis/porch.kpt.dev/v1alpha1/current"); got != current {
		t.Errorf("a v1.4+ answer was changed: %s", got)
	}
	if got := get("/api/v1/configmaps"); got != other {
		t.Errorf("another group's answer was changed: %s", got)
	}
	wantEvents := `{"object":{"spec":{"lifecycle":"Published","revision":4}},"type":"ADDED"}` + "\n" +
		`{"object":{"spec":{"lifecycle":"Published","revision":-1,"workspaceName":"main"}},"type":"MODIFIED"}` + "\n"
	if diff := cmp.Diff(wantEvents, get("/apis/porch.kpt.dev/v1alpha1/packagerevisions?watch=true")); diff != "" {
		t.Errorf("v1.3 watch (-want +got):\n%s", diff)
	}
}

// A decode failure is a Porch forkline does not speak; an outage or a
// refusal is not.
func TestUnreadableOnlyForDecodeFailures(t *testing.T) {
	bad := json.Unmarshal([]byte(`{"spec":{"revision":2}}`), &struct {
		Spec struct{ Revision string } `json:"spec"`
	}{})
	s := &Support{}
	if s.Unreadable("*v1alpha1.PackageRevision", io.ErrUnexpectedEOF) || s.Problem() != "" {
		t.Errorf("an outage was taken for an unsupported Porch: %q", s.Problem())
	}
	if !s.Unreadable("*v1alpha1.PackageRevision", bad) {
		t.Fatal("a decode failure was not taken for an unsupported Porch")
	}
	if err := s.Readyz(nil); err == nil || !strings.Contains(err.Error(), "PackageRevision") {
		t.Errorf("Readyz = %v", err)
	}
}
