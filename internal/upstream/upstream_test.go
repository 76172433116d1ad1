package upstream

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// origin is an upstream repository made in the test, with a worktree.
type origin struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newOrigin(t *testing.T) *origin {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &origin{t: t, dir: dir, repo: repo}
}

func sig() *object.Signature {
	return &object.Signature{Name: "upstream", Email: "up@example.com", When: time.Unix(1700000000, 0)}
}

// commit writes files (path -> content; "" deletes) and commits them,
// signed by key when one is given.
func (o *origin) commit(msg string, files map[string]string, key *openpgp.Entity) string {
	o.t.Helper()
	wt, err := o.repo.Worktree()
	if err != nil {
		o.t.Fatal(err)
	}
	for p, content := range files {
		full := filepath.Join(o.dir, p)
		if content == "" {
			if _, err := wt.Remove(p); err != nil {
				o.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			o.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			o.t.Fatal(err)
		}
		if _, err := wt.Add(p); err != nil {
			o.t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig(), AllowEmptyCommits: true, SignKey: key})
	if err != nil {
		o.t.Fatal(err)
	}
	return h.String()
}

// tag tags commit: lightweight without a message, annotated with one,
// signed by key when one is given; an existing tag is moved.
func (o *origin) tag(name, commit, msg string, key *openpgp.Entity) {
	o.t.Helper()
	_ = o.repo.DeleteTag(name)
	var opts *git.CreateTagOptions
	if msg != "" {
		opts = &git.CreateTagOptions{Tagger: sig(), Message: msg, SignKey: key}
	}
	if _, err := o.repo.CreateTag(name, plumbing.NewHash(commit), opts); err != nil {
		o.t.Fatal(err)
	}
}

func newKey(t *testing.T, name string) (*openpgp.Entity, string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return e, buf.String()
}

func newCache(t *testing.T) *Cache {
	c := NewCache(t.TempDir())
	c.MinFetchInterval = 0
	return c
}

func TestPackageAtTheLockedCommitNotTheTag(t *testing.T) {
	o := newOrigin(t)
	c1 := o.commit("app v1", map[string]string{"app/Kptfile": "kind: Kptfile\n", "app/deploy.yaml": "replicas: 1\n", "other/x.yaml": "x\n"}, nil)
	o.tag("app/v1.0.1", c1, "", nil)
	cache := newCache(t)
	remote := Remote{URL: o.dir}
	ctx := context.Background()

	files, err := cache.Package(ctx, remote, c1, "app")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"Kptfile": "kind: Kptfile\n", "deploy.yaml": "replicas: 1\n"}; !equalMaps(files, want) {
		t.Fatalf("package at %s = %v, want %v", c1, files, want)
	}

	// The maintainer force-moves the tag: the tag follows, the commit does not.
	c2 := o.commit("app v1 fix-up", map[string]string{"app/deploy.yaml": "replicas: 3\n"}, nil)
	o.tag("app/v1.0.1", c2, "", nil)
	tag, err := cache.Tag(ctx, remote, "app/v1.0.1", c2)
	if err != nil || tag.Commit != c2 {
		t.Fatalf("moved tag reads %s (%v), want %s", tag.Commit, err, c2)
	}
	files, err = cache.Package(ctx, remote, c1, "app")
	if err != nil || files["deploy.yaml"] != "replicas: 1\n" {
		t.Fatalf("locked commit after the move reads %q (%v), want replicas: 1", files["deploy.yaml"], err)
	}

	// The tag deleted upstream: the locked commit is still read.
	if err := o.repo.DeleteTag("app/v1.0.1"); err != nil {
		t.Fatal(err)
	}
	// (Porch says the release is gone; the clone learns it when asked
	// for what it does not hold.)
	if _, err := cache.Tag(ctx, remote, "app/v1.0.1", "0123456789012345678901234567890123456789"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted tag: err %v, want ErrNotFound", err)
	}
	if files, err = cache.Package(ctx, remote, c1, "app"); err != nil || files["deploy.yaml"] != "replicas: 1\n" {
		t.Fatalf("locked commit after the tag's deletion reads %v (%v)", files, err)
	}
}

func TestOneFetchServesEveryReader(t *testing.T) {
	o := newOrigin(t)
	c1 := o.commit("v1", map[string]string{"app/a.yaml": "a\n"}, nil)
	o.tag("app/v1", c1, "", nil)
	cache := NewCache(t.TempDir()) // default MinFetchInterval
	remote := Remote{URL: o.dir}
	for range 50 {
		if _, err := cache.Package(context.Background(), remote, c1, "app"); err != nil {
			t.Fatal(err)
		}
		if _, err := cache.Tag(context.Background(), remote, "app/v1", c1); err != nil {
			t.Fatal(err)
		}
	}
	if got := cache.Fetches(); got != 1 {
		t.Fatalf("50 readers of one release fetched %d times, want 1", got)
	}
	// A commit the clone lacks is fetched once, then the interval holds.
	missing := "0123456789012345678901234567890123456789"
	for range 3 {
		if _, err := cache.Package(context.Background(), remote, missing, "app"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing commit: err %v, want ErrNotFound", err)
		}
	}
	if got := cache.Fetches(); got != 1 {
		t.Fatalf("within MinFetchInterval, fetches = %d, want 1", got)
	}
}

func TestCredentialsKeepClonesApart(t *testing.T) {
	o := newOrigin(t)
	c1 := o.commit("v1", map[string]string{"app/a.yaml": "a\n"}, nil)
	cache := newCache(t)
	if _, err := cache.Package(context.Background(), Remote{URL: o.dir, Username: "team-a", Password: "s3cret"}, c1, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Package(context.Background(), Remote{URL: o.dir}, c1, "app"); err != nil {
		t.Fatal(err)
	}
	if got := cache.Fetches(); got != 2 {
		t.Fatalf("a reader without the credentials shared the clone made with them (fetches = %d, want 2)", got)
	}
}

func TestLogBetweenLockedCommits(t *testing.T) {
	o := newOrigin(t)
	from := o.commit("app: first", map[string]string{"app/a.yaml": "1\n"}, nil)
	o.commit("other: unrelated", map[string]string{"other/x.yaml": "1\n"}, nil)
	o.commit("app: raise replicas\n\nbody", map[string]string{"app/a.yaml": "2\n"}, nil)
	to := o.commit("app: add service", map[string]string{"app/b.yaml": "1\n"}, nil)
	cache := newCache(t)
	remote := Remote{URL: o.dir}
	for _, tc := range []struct {
		name     string
		from     string
		max      int
		want     []string
		wantMore bool
	}{
		{"between the two", from, 50, []string{"app: add service", "app: raise replicas"}, false},
		{"capped", from, 1, []string{"app: add service"}, true},
		{"first sync: the whole history of the package", "", 50, []string{"app: add service", "app: raise replicas", "app: first"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := cache.Log(context.Background(), remote, tc.from, to, "app", tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) || more != tc.wantMore {
				t.Fatalf("Log = %q more=%v, want %q more=%v", got, more, tc.want, tc.wantMore)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	trusted, trustedRing := newKey(t, "release-bot")
	other, otherRing := newKey(t, "someone-else")
	o := newOrigin(t)
	unsignedCommit := o.commit("unsigned", map[string]string{"app/a.yaml": "1\n"}, nil)
	signedCommit := o.commit("signed", map[string]string{"app/a.yaml": "2\n"}, trusted)
	o.tag("app/lightweight", signedCommit, "", nil)
	o.tag("app/annotated", signedCommit, "release notes", nil)
	o.tag("app/signed", signedCommit, "v1.0.0: signed", trusted)
	o.tag("app/by-other", signedCommit, "v1.0.0: signed by another", other)
	o.tag("app/signed-unsigned-commit", unsignedCommit, "signed tag, unsigned commit", trusted)
	o.tag("app/unsigned-commit", unsignedCommit, "", nil)
	strangersCommit := o.commit("signed by a stranger", map[string]string{"app/a.yaml": "3\n"}, other)
	o.tag("app/strangers-commit", strangersCommit, "", nil)
	cache := newCache(t)
	remote := Remote{URL: o.dir}

	for _, tc := range []struct {
		tag   string
		mode  Mode
		rings []string
		ok    bool
	}{
		{"app/signed", ModeTag, []string{trustedRing}, true},
		{"app/signed", ModeTag, []string{otherRing, trustedRing}, true},
		{"app/signed", ModeTagAndCommit, []string{trustedRing}, true},
		{"app/signed", ModeTag, []string{otherRing}, false},
		{"app/signed", ModeTag, nil, false},
		{"app/by-other", ModeTag, []string{trustedRing}, false},
		{"app/lightweight", ModeTag, []string{trustedRing}, false},
		{"app/annotated", ModeTag, []string{trustedRing}, false},
		{"app/signed-unsigned-commit", ModeTag, []string{trustedRing}, true},
		{"app/signed-unsigned-commit", ModeTagAndCommit, []string{trustedRing}, false},
		// Commit: what Porch v1.3.0 can serve, a lightweight tag on a signed commit.
		{"app/lightweight", ModeCommit, []string{trustedRing}, true},
		{"app/unsigned-commit", ModeCommit, []string{trustedRing}, false},
		{"app/strangers-commit", ModeCommit, []string{trustedRing}, false},
		{"app/strangers-commit", ModeCommit, []string{otherRing}, true},
		{"app/signed", Mode("Bogus"), []string{trustedRing}, false},
	} {
		t.Run(tc.tag+"/"+string(tc.mode), func(t *testing.T) {
			tag, err := cache.Tag(context.Background(), remote, tc.tag, "")
			if err != nil {
				t.Fatal(err)
			}
			signer, err := Verify(tag, tc.mode, tc.rings)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify = %q, %v; want ok=%v", signer, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrNotVerified) {
				t.Fatalf("refusal %v does not wrap ErrNotVerified", err)
			}
			if tc.ok && signer == "" {
				t.Fatal("verified without naming the signer")
			}
		})
	}
	tag, err := cache.Tag(context.Background(), remote, "app/signed", "")
	if err != nil || tag.Annotation != "v1.0.0: signed" {
		t.Fatalf("annotation = %q (%v)", tag.Annotation, err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
