package devstack

import (
	"os"
	"path/filepath"
	"sort"
)

// Release is one tagged version of a package: its files, relative to the
// package directory.
type Release struct {
	Version string // tagged <package>/v<Version>
	Files   map[string]string
}

// PushReleases commits each release of package pkg in order to the git
// repository name (created if missing) and tags it <pkg>/v<version>, the
// way an upstream publishes releases Porch lists as Published revisions.
// Each release replaces the package directory's whole content. It pushes
// through the file system, so an upstream can publish while its HTTP
// endpoint is down (GitServer.SetDown).
func (s *Stack) PushReleases(name, pkg string, releases ...Release) error {
	if _, err := os.Stat(filepath.Join(s.Git.Root, name+".git")); os.IsNotExist(err) {
		if err := s.Git.CreateRepo(name); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp(s.Dir, "work-"+name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := Git("", "clone", "--quiet", filepath.Join(s.Git.Root, name+".git"), work); err != nil {
		return err
	}
	if err := Git(work, "checkout", "--quiet", "-B", "main"); err != nil {
		return err
	}
	dir := filepath.Join(work, filepath.FromSlash(pkg))
	for _, r := range releases {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		paths := make([]string, 0, len(r.Files))
		for p := range r.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			target := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(target, []byte(r.Files[p]), 0o644); err != nil {
				return err
			}
		}
		for _, args := range [][]string{
			{"add", "-A"},
			{"commit", "--quiet", "--allow-empty", "-m", pkg + " v" + r.Version},
			{"tag", pkg + "/v" + r.Version},
		} {
			if err := Git(work, args...); err != nil {
				return err
			}
		}
	}
	return Git(work, "push", "--quiet", "origin", "main", "--tags")
}
