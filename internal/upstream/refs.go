package upstream

import (
	"context"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

// HasBranch says whether the repository has the branch now, asking the
// server for its refs (git ls-remote) without fetching anything: what a
// downstream repository holds, where Porch's listing of it may trail.
func HasBranch(ctx context.Context, remote Remote, branch string) (bool, error) {
	identify.Do(installTransport)
	r := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{remote.URL}})
	opts := &git.ListOptions{}
	if remote.Username != "" || remote.Password != "" {
		opts.Auth = &githttp.BasicAuth{Username: remote.Username, Password: remote.Password}
	}
	refs, err := r.ListContext(ctx, opts)
	if err != nil {
		return false, &FetchError{URL: remote.URL, Err: err}
	}
	want := "refs/heads/" + strings.TrimPrefix(branch, "refs/heads/")
	for _, ref := range refs {
		if ref.Name().String() == want {
			return true, nil
		}
	}
	return false, nil
}
