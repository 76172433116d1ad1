package upstream

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Package is the content of directory dir at commit, each file by its
// path relative to dir: what Porch lists as a revision's resources.
func (c *Cache) Package(ctx context.Context, remote Remote, commit, dir string) (map[string]string, error) {
	var files map[string]string
	err := c.with(ctx, remote, func(repo *git.Repository) error {
		co, err := commitObject(repo, commit)
		if err != nil {
			return err
		}
		tree, err := co.Tree()
		if err != nil {
			return err
		}
		if d := strings.Trim(dir, "/"); d != "" {
			if tree, err = tree.Tree(d); err != nil {
				return fmt.Errorf("commit %s has no directory %s: %w", short(commit), d, ErrNotFound)
			}
		}
		files = map[string]string{}
		return tree.Files().ForEach(func(f *object.File) error {
			content, err := f.Contents()
			files[f.Name] = content
			return err
		})
	})
	return files, err
}

// Tag is a release tag as the clone holds it.
type Tag struct {
	Name string
	// Commit is the commit the tag names (peeled through an annotated
	// tag's object).
	Commit string
	// Annotation is an annotated tag's message; empty for a lightweight tag.
	Annotation string

	object *object.Tag    // nil for a lightweight tag
	commit *object.Commit // the commit itself, for its signature
}

// Tag reads tag name. With want set, a clone whose tag names another
// commit fetches (at most once per MinFetchInterval): the tag moved since
// the last fetch, and what the caller was told (by Porch) is newer.
func (c *Cache) Tag(ctx context.Context, remote Remote, name, want string) (Tag, error) {
	var t Tag
	err := c.with(ctx, remote, func(repo *git.Repository) error {
		var err error
		if t, err = readTag(repo, name); err != nil {
			return err
		}
		if want != "" && t.Commit != want {
			return fmt.Errorf("tag %s names commit %s, not %s: %w", name, short(t.Commit), short(want), ErrNotFound)
		}
		return nil
	})
	if err != nil && want != "" && t.Commit != "" && t.Commit != want {
		// The fetch did not bring what the caller expected: say what the
		// tag names upstream now.
		return t, nil
	}
	return t, err
}

func readTag(repo *git.Repository, name string) (Tag, error) {
	ref, err := repo.Reference(plumbing.NewTagReferenceName(name), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return Tag{}, fmt.Errorf("tag %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Tag{}, err
	}
	t := Tag{Name: name}
	hash := ref.Hash()
	if obj, err := repo.TagObject(hash); err == nil {
		t.object, t.Annotation = obj, strings.TrimSpace(obj.Message)
		co, err := obj.Commit()
		if err != nil {
			return Tag{}, fmt.Errorf("tag %s does not name a commit: %w", name, err)
		}
		t.commit = co
	} else if errors.Is(err, plumbing.ErrObjectNotFound) {
		if t.commit, err = repo.CommitObject(hash); err != nil {
			return Tag{}, fmt.Errorf("tag %s does not name a commit: %w", name, err)
		}
	} else {
		return Tag{}, err
	}
	t.Commit = t.commit.Hash.String()
	return t, nil
}

// Log is the subjects of the commits that touch dir, reachable from to and
// not from from, newest first, at most limit of them; more is true when some
// were left out.
func (c *Cache) Log(ctx context.Context, remote Remote, from, to, dir string, limit int) (subjects []string, more bool, err error) {
	err = c.with(ctx, remote, func(repo *git.Repository) error {
		subjects, more = nil, false
		toCommit, err := commitObject(repo, to)
		if err != nil {
			return err
		}
		var fromCommit *object.Commit
		if from != "" {
			if fromCommit, err = commitObject(repo, from); err != nil {
				return err
			}
		}
		prefix := strings.Trim(dir, "/")
		iter := object.NewCommitPreorderIter(toCommit, nil, nil)
		defer iter.Close()
		return iter.ForEach(func(co *object.Commit) error {
			if fromCommit != nil {
				if co.Hash == fromCommit.Hash {
					return storer.ErrStop
				}
				if ancestor, err := co.IsAncestor(fromCommit); err != nil || ancestor {
					return err
				}
			}
			if touched, err := touches(co, prefix); err != nil || !touched {
				return err
			}
			if len(subjects) == limit {
				more = true
				return storer.ErrStop
			}
			subject, _, _ := strings.Cut(strings.TrimSpace(co.Message), "\n")
			subjects = append(subjects, subject)
			return nil
		})
	})
	return subjects, more, err
}

// touches says whether commit co changed anything under prefix against its
// first parent (a root commit touches what it holds).
func touches(co *object.Commit, prefix string) (bool, error) {
	if prefix == "" {
		return true, nil
	}
	entry := func(c *object.Commit) (plumbing.Hash, error) {
		tree, err := c.Tree()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		e, err := tree.FindEntry(prefix)
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			return plumbing.ZeroHash, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		return e.Hash, nil
	}
	mine, err := entry(co)
	if err != nil {
		return false, err
	}
	parent, err := co.Parent(0)
	if errors.Is(err, object.ErrParentNotFound) {
		return !mine.IsZero(), nil
	}
	if err != nil {
		return false, err
	}
	theirs, err := entry(parent)
	return mine != theirs, err
}

func commitObject(repo *git.Repository, commit string) (*object.Commit, error) {
	if !plumbing.IsHash(commit) {
		return nil, fmt.Errorf("%q is not a commit id", commit)
	}
	co, err := repo.CommitObject(plumbing.NewHash(commit))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("commit %s: %w", short(commit), ErrNotFound)
	}
	return co, err
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// Dir is the repository directory of package pkg in a Porch Repository
// registered at directory.
func Dir(directory, pkg string) string { return strings.Trim(path.Join("/", directory, pkg), "/") }

// Tags are the clone's tags whose names start with prefix, sorted.
func (c *Cache) Tags(ctx context.Context, remote Remote, prefix string) ([]string, error) {
	var names []string
	err := c.with(ctx, remote, func(repo *git.Repository) error {
		names = nil
		refs, err := repo.Tags()
		if err != nil {
			return err
		}
		if err := refs.ForEach(func(ref *plumbing.Reference) error {
			if name := ref.Name().Short(); strings.HasPrefix(name, prefix) {
				names = append(names, name)
			}
			return nil
		}); err != nil {
			return err
		}
		if len(names) == 0 {
			return fmt.Errorf("no tag %s*: %w", prefix, ErrNotFound)
		}
		return nil
	})
	slices.Sort(names)
	return names, err
}

// HasFile says whether the package directory dir at tag's commit holds
// the file name.
func (c *Cache) HasFile(ctx context.Context, remote Remote, tag, dir, name string) (bool, error) {
	t, err := c.Tag(ctx, remote, tag, "")
	if err != nil {
		return false, err
	}
	files, err := c.Package(ctx, remote, t.Commit, dir)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	_, ok := files[name]
	return ok, err
}
