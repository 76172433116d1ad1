package merge

import (
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// resource is one KRM object of a package file.
type resource struct {
	id         string // identity used to match sides: group|kind|namespace|name
	key        string // id before a copy held twice on its side is told apart by file
	shown      string // the identity for people, with its effective namespace
	apiVersion string
	kind       string
	file       string
	node       *yaml.Node // the document's root mapping
	raw        string     // the document's text as written
	// head is the comment heading the document apart from its first
	// field (a license header followed by a blank line).
	head string
}

// display is the resource's identity for people: group/kind/namespace/name,
// or "" for a map that is not KRM (its file names it).
func (r *resource) display() string {
	if r.kind == "" {
		return ""
	}
	return displayID(r.shown)
}

func displayID(id string) string {
	parts := strings.Split(id, "|")
	if len(parts) == 4 && parts[0] == "" {
		parts[0] = "core"
	}
	return strings.Join(parts, "/")
}

// doc is one document of a KRM file: a resource, or a comment-only chunk
// kept verbatim.
type doc struct {
	res *resource
	raw string
}

// file is one package file: KRM documents, or text merged by lines.
type file struct {
	path    string
	content string
	text    bool
	docs    []doc
}

// pkg is one side of the merge.
type pkg struct {
	files map[string]*file
	byID  map[string]*resource
	order []*resource // sorted by file, then document order
	// renumbered says an identity is held twice, told apart by file.
	renumbered bool
}

// isYAMLPath says whether a file may hold KRM resources.
func isYAMLPath(p string) bool {
	base := path.Base(p)
	return base == "Kptfile" || strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")
}

func parsePackage(t Tree) (*pkg, error) { return parsePackageKnowing(t, nil) }

// parsed is a document's decoded root, for a text seen before.
type parsed struct {
	node *yaml.Node
	head string
}

// parsePackageKnowing is parsePackage that takes the decoded root of a
// document whose exact text it knows (the same text decodes the same).
func parsePackageKnowing(t Tree, known map[string]parsed) (*pkg, error) {
	p := &pkg{files: make(map[string]*file, len(t)), byID: map[string]*resource{}}
	paths := make([]string, 0, len(t))
	for fp := range t {
		paths = append(paths, fp)
	}
	sort.Strings(paths)
	for _, fp := range paths {
		f, err := parseFileKnowing(fp, t[fp], known)
		if err != nil {
			return nil, err
		}
		p.files[fp] = f
		for _, d := range f.docs {
			if d.res == nil {
				continue
			}
			// The same identity twice on one side (copies per environment,
			// patches) is told apart by its file; twice in one file, the
			// package is ambiguous, and merging would lose one of them.
			d.res.key = d.res.id
			if first, dup := p.byID[d.res.id]; dup && first.file != fp {
				d.res.id += "|" + fp
				p.renumbered = true
			}
			if _, dup := p.byID[d.res.id]; dup {
				return nil, fmt.Errorf("%s: two documents are %s; a package file holds each object once", fp, d.res.display())
			}
			p.byID[d.res.id] = d.res
			p.order = append(p.order, d.res)
		}
	}
	return p, nil
}

// keyTwiceHeldByFile tells every copy of an identity that one of the sides
// holds twice apart by its file, on every side: a copy then matches the
// copy in the same file, not whichever copy comes first in path order
// (which, where a side dropped one copy, is another file's: the merge
// would then write two copies into one file).
func keyTwiceHeldByFile(sides ...*pkg) {
	twice := map[string]bool{}
	for _, p := range sides {
		seen := map[string]bool{}
		for _, r := range p.order {
			if seen[r.key] {
				twice[r.key] = true
			}
			seen[r.key] = true
		}
	}
	if len(twice) == 0 {
		return
	}
	for _, p := range sides {
		for _, r := range p.order {
			if twice[r.key] && r.id == r.key {
				delete(p.byID, r.id)
				r.id = r.key + "|" + r.file
				p.byID[r.id] = r
			}
		}
	}
}

// parseFile reads a file's KRM documents. A YAML file holding anything that
// is not a KRM object is text; malformed YAML is an error naming the file
// and line.
func parseFile(fp, content string) (*file, error) { return parseFileKnowing(fp, content, nil) }

func parseFileKnowing(fp, content string, known map[string]parsed) (*file, error) {
	f := &file{path: fp, content: content}
	if !isYAMLPath(fp) {
		f.text = true
		return f, nil
	}
	chunks := splitDocuments(content)
	for _, chunk := range chunks {
		var root yaml.Node
		var err error
		if k, ok := known[chunk.text]; ok {
			root = yaml.Node{Kind: yaml.DocumentNode, HeadComment: k.head, Content: []*yaml.Node{k.node}}
		} else {
			err = yaml.NewDecoder(strings.NewReader(chunk.text)).Decode(&root)
		}
		if errors.Is(err, io.EOF) {
			f.docs = append(f.docs, doc{raw: chunk.text})
			continue
		}
		if err == nil {
			err = uniqueKeys(&root)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s", fp, shiftLines(err.Error(), chunk.line-1))
		}
		if len(root.Content) != 1 {
			f.docs = append(f.docs, doc{raw: chunk.text})
			continue
		}
		res, ok := newResource(fp, root.Content[0])
		if !ok && root.Content[0].Kind == yaml.MappingNode && onlyDocument(chunks, chunk) {
			// A YAML file of one map that is not KRM (a values file, a
			// partial resource) still merges key by key: the file is its
			// identity. Empty and comment-only documents beside it do not
			// count (a merge may write one before it).
			res, ok = &resource{id: "|||" + fp, file: fp, node: root.Content[0]}, true
		}
		if !ok {
			return &file{path: fp, content: content, text: true}, nil
		}
		res.raw, res.head = chunk.text, root.HeadComment
		f.docs = append(f.docs, doc{res: res, raw: chunk.text})
	}
	return f, nil
}

// onlyDocument says whether c is the only document among chunks, comments
// aside.
func onlyDocument(chunks []chunk, c chunk) bool {
	for _, other := range chunks {
		if other != c && hasResource([]string{other.text}) {
			return false
		}
	}
	return true
}

type chunk struct {
	text string
	line int // 1-based line the chunk starts on
}

// splitDocuments cuts a multi-document YAML stream at its "---" lines,
// keeping each document's text as written.
func splitDocuments(content string) []chunk {
	var out []chunk
	start, startLine, line := 0, 1, 1
	for i := 0; i < len(content); {
		end := strings.IndexByte(content[i:], '\n')
		next := len(content)
		if end >= 0 {
			next = i + end + 1
		}
		l := strings.TrimRight(content[i:next], "\r\n")
		if l == "---" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "---\t") {
			if i > start {
				out = append(out, chunk{content[start:i], startLine})
			}
			start, startLine = next, line+1
		}
		i = next
		line++
	}
	if start < len(content) {
		out = append(out, chunk{content[start:], startLine})
	}
	return out
}

var lineRef = regexp.MustCompile(`line (\d+)`)

// shiftLines renumbers "line N" in a YAML error by the lines before its
// document.
func shiftLines(msg string, offset int) string {
	return lineRef.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return "line " + strconv.Itoa(n+offset)
	})
}

// Identity annotations and comments kpt leaves so a renamed downstream
// resource still matches its upstream.
const upstreamIdentifierAnnotation = "internal.kpt.dev/upstream-identifier"

var kptMergeComment = regexp.MustCompile(`kpt-merge:\s*([^/\s]*)/(\S+)`)

func newResource(fp string, n *yaml.Node) (*resource, bool) {
	if n.Kind != yaml.MappingNode {
		return nil, false
	}
	apiVersion, kind := scalar(present(field(n, "apiVersion"))), scalar(present(field(n, "kind")))
	if apiVersion == "" || kind == "" {
		return nil, false
	}
	group := ""
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	var ns, name string
	metaKey, meta := fieldKV(n, "metadata")
	if meta != nil {
		ns, name = scalar(field(meta, "namespace")), scalar(field(meta, "name"))
	}
	switch {
	case annotation(meta, upstreamIdentifierAnnotation) != "":
		// group|kind|namespace|name, as kpt writes it.
		if parts := strings.Split(annotation(meta, upstreamIdentifierAnnotation), "|"); len(parts) == 4 {
			group, kind, ns, name = parts[0], parts[1], parts[2], parts[3]
		}
	case metaKey != nil && kptMergeComment.MatchString(metaKey.LineComment+meta.LineComment):
		m := kptMergeComment.FindStringSubmatch(metaKey.LineComment + meta.LineComment)
		ns, name = m[1], m[2]
	}
	if ns == "" {
		ns = effectiveNamespace(apiVersion, kind)
	}
	if group == "" && kind == "Kptfile" && strings.HasPrefix(apiVersion, "kpt.dev/") {
		group = "kpt.dev"
	}
	// A resource that names no namespace is the same object whatever a
	// side's identity annotation guessed for it ("default", or "~C" when
	// kpt did not know the kind's scope), so a side that dropped or never
	// had the annotation still matches.
	key := ns
	if key == "default" || key == "~C" {
		key = ""
	}
	return &resource{
		id:         strings.Join([]string{group, kind, key, name}, "|"),
		shown:      strings.Join([]string{group, kind, ns, name}, "|"),
		apiVersion: apiVersion,
		kind:       kind,
		file:       fp,
		node:       n,
	}, true
}

// effectiveNamespace is the namespace kpt and Porch record in identities
// for a resource that names none: "default" for namespaced kinds, "~C" for
// cluster-scoped and unknown ones. Matching it lets a downstream resource
// carrying Porch's upstream-identifier annotation meet its upstream.
func effectiveNamespace(apiVersion, kind string) string {
	if namespaced, found := openapi.IsNamespaceScoped(yaml.TypeMeta{APIVersion: apiVersion, Kind: kind}); found && namespaced {
		return "default"
	}
	return "~C"
}

func annotation(meta *yaml.Node, key string) string {
	if meta == nil {
		return ""
	}
	return scalar(field(field(meta, "annotations"), key))
}

// field returns the value of key in mapping n, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	_, v := fieldKV(n, key)
	return v
}

func fieldKV(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// SameContent says whether two versions of a file mean the same: equal
// resources for KRM files (comments and formatting aside), equal text
// otherwise.
func SameContent(fp, a, b string) (bool, error) {
	if a == b {
		return true, nil
	}
	fa, err := parseFile(fp, a)
	if err != nil {
		return false, err
	}
	fb, err := parseFile(fp, b)
	if err != nil {
		return false, err
	}
	if fa.text || fb.text {
		return false, nil
	}
	ra, rb := fa.resources(), fb.resources()
	if len(ra) != len(rb) {
		return false, nil
	}
	for i := range ra {
		if !equal(ra[i].node, rb[i].node) {
			return false, nil
		}
	}
	return true, nil
}

func (f *file) resources() []*resource {
	var out []*resource
	for _, d := range f.docs {
		if d.res != nil {
			out = append(out, d.res)
		}
	}
	return out
}

// uniqueKeys refuses a map that holds a key twice: YAML forbids it, and
// which of the two a merge (or Porch, or kubectl) takes is anyone's guess.
func uniqueKeys(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		twice := func(k, o *yaml.Node) error {
			return fmt.Errorf("line %d: key %q appears twice in one map (also on line %d); a YAML map holds each key once", o.Line, o.Value, k.Line)
		}
		if len(n.Content) > 32 { // many keys: by lookup, not pair by pair
			seen := make(map[string]*yaml.Node, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; k.Kind == yaml.ScalarNode {
					if first, dup := seen[k.Value]; dup {
						return twice(first, k)
					}
					seen[k.Value] = k
				}
			}
		} else {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				for j := i + 2; k.Kind == yaml.ScalarNode && j+1 < len(n.Content); j += 2 {
					if o := n.Content[j]; o.Kind == yaml.ScalarNode && o.Value == k.Value {
						return twice(k, o)
					}
				}
			}
		}
	}
	for _, c := range n.Content {
		if err := uniqueKeys(c); err != nil {
			return err
		}
	}
	return nil
}

// ResourceID is how a conflict names the resource document n holds
// (group/kind/namespace/name, e.g. apps/Deployment/default/app), with the
// key that matches it across sides whatever namespace a side's identity
// annotation guessed; ok is false for a document that is no resource.
func ResourceID(n *yaml.Node) (shown, key string, ok bool) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	r, ok := newResource("", n)
	if !ok {
		return "", "", false
	}
	return r.display(), r.id, true
}
