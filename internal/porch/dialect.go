package porch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"k8s.io/client-go/rest"
)

// Porch v1.3 (mid-2024) spells spec.revision of a PackageRevision (and of
// its PackageRevisionResources) as a string: "v2" for a numbered revision,
// "v1.21.3" for a tagged release, "main" for the branch's placeholder.
// Porch v1.4 and later spell it as a number and carry a tag's version in
// workspaceName. forkline's types are the current ones; Speak rewrites a
// v1.3 server's answers into them on the way in, so one forkline runs on
// either Porch and a platform team upgrading Porch need not upgrade
// forkline in the same minute. What decides is what the server sends,
// object by object, not a version guessed from names.

// Dialects counts the objects read in each dialect, for the manager's
// readiness and the stack's report.
var Dialects struct{ V1alpha1String, V1alpha1Number atomic.Int64 }

// Speak makes every client built from cfg read Porch v1.3's answers as
// Porch v1.4+'s.
func Speak(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return dialect{next: rt} })
}

type dialect struct{ next http.RoundTripper }

func (d dialect) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/apis/porch.kpt.dev/") || resp.Body == nil ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp, err
	}
	// Porch answers a watch as application/json, not stream=watch: the
	// request says it is one.
	if w := req.URL.Query().Get("watch"); w == "true" || w == "1" {
		resp.Body = &watchRewriter{body: resp.Body, dec: json.NewDecoder(bufio.NewReader(resp.Body))}
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading Porch's answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	if out, changed := rewrite(body); changed {
		body = out
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// stringRevision is how a v1.3 answer shows itself; a v1.4+ one never
// holds a string revision, so most answers are passed on unparsed.
var stringRevision = []byte(`"revision":"`)

// rewrite turns a v1.3 object, list or watch event into the v1.4+ form.
func rewrite(body []byte) ([]byte, bool) {
	if !bytes.Contains(body, stringRevision) {
		return body, false
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return body, false // the client's decoder reports it
	}
	changed := normalize(doc)
	if obj, ok := doc["object"].(map[string]any); ok { // a watch event
		changed = normalize(obj) || changed
	}
	if items, ok := doc["items"].([]any); ok {
		for _, it := range items {
			if obj, ok := it.(map[string]any); ok {
				changed = normalize(obj) || changed
			}
		}
	}
	if !changed {
		return body, false
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body, false
	}
	return out, true
}

// normalize moves one object's v1.3 revision into the v1.4+ fields.
func normalize(obj map[string]any) bool {
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		return false
	}
	rev, ok := spec["revision"].(string)
	if !ok {
		if _, num := spec["revision"].(json.Number); num {
			Dialects.V1alpha1Number.Add(1)
		}
		return false
	}
	Dialects.V1alpha1String.Add(1)
	switch n, workspace := currentForm(rev); {
	case n == 0:
		delete(spec, "revision")
	case workspace != "":
		spec["revision"], spec["workspaceName"] = n, workspace
	default:
		spec["revision"] = n
	}
	return true
}

// watchRewriter rewrites a watch stream event by event.
type watchRewriter struct {
	body io.Closer
	dec  *json.Decoder
	buf  bytes.Buffer
}

func (w *watchRewriter) Read(p []byte) (int, error) {
	for w.buf.Len() == 0 {
		var event json.RawMessage
		if err := w.dec.Decode(&event); err != nil {
			return 0, err
		}
		out, _ := rewrite(event)
		w.buf.Write(out)
		w.buf.WriteByte('\n')
	}
	return w.buf.Read(p)
}

func (w *watchRewriter) Close() error { return w.body.Close() }
