package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// GitServer serves bare repositories under Root over git's smart HTTP
// protocol, through the system's git-http-backend, so Porch reads and pushes
// them exactly as it would a hosted git server.
type GitServer struct {
	Root string
	URL  string // http://127.0.0.1:port
	srv  *http.Server
	down sync.Map // repository name -> true while it answers 503
	// auth holds the basic credentials a private repository requires.
	auth sync.Map // repository name -> [2]string{user, password}
	// fetches counts, per repository, the requests of forkline's own git
	// reads (its User-Agent), apart from Porch's.
	fetches sync.Map // repository name -> *atomic.Int64
}

func startGitServer(root string) (*GitServer, error) {
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git is required (git --exec-path: %w)", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return nil, fmt.Errorf("git-http-backend not found next to git: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	handler := &cgi.Handler{
		Path: backend,
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	g := &GitServer{Root: root, URL: "http://" + ln.Addr().String()}
	g.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), ".git")
		if _, down := g.down.Load(name); down {
			http.Error(w, "repository unavailable", http.StatusServiceUnavailable)
			return
		}
		if want, private := g.auth.Load(name); private {
			user, password, ok := r.BasicAuth()
			if creds := want.([2]string); !ok || user != creds[0] || password != creds[1] {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		if strings.HasPrefix(r.UserAgent(), "forkline") {
			n, _ := g.fetches.LoadOrStore(name, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
		handler.ServeHTTP(w, r)
	})}
	go func() {
		if err := g.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "stack: git server: %v\n", err)
		}
	}()
	return g, nil
}

func (g *GitServer) stop() { _ = g.srv.Shutdown(context.Background()) }

// SetDown makes the repository name.git answer every request with 503, as
// a hosted git server in an outage does, until SetDown(name, false).
func (g *GitServer) SetDown(name string, down bool) {
	if down {
		g.down.Store(name, true)
	} else {
		g.down.Delete(name)
	}
}

// RequireAuth makes the repository name.git private: every request needs
// these basic credentials, as a hosted private repository does.
func (g *GitServer) RequireAuth(name, user, password string) {
	g.auth.Store(name, [2]string{user, password})
}

// ForklineRequests is how many HTTP requests forkline's own git reads
// (not Porch's) made to the repository name.git.
func (g *GitServer) ForklineRequests(name string) int64 {
	if n, ok := g.fetches.Load(name); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// RepoURL is the clone URL of the bare repository name.git.
func (g *GitServer) RepoURL(name string) string { return g.URL + "/" + name + ".git" }

// CreateRepo makes an empty bare repository name.git on branch main that
// accepts pushes over HTTP.
func (g *GitServer) CreateRepo(name string) error {
	dir := filepath.Join(g.Root, name+".git")
	if err := Git("", "init", "--quiet", "--bare", "--initial-branch=main", dir); err != nil {
		return err
	}
	if err := Git(dir, "config", "http.receivepack", "true"); err != nil {
		return err
	}
	// Porch v1.4+ keeps a Repository on a repository with no commit
	// Ready=False ("remote repository is empty") for half a minute or more:
	// main starts with an empty commit, as a repository made on a git
	// host with a README would.
	tree, err := GitOutput(dir, "hash-object", "-t", "tree", "-w", "--stdin")
	if err != nil {
		return err
	}
	commit, err := GitOutput(dir, "commit-tree", strings.TrimSpace(tree), "-m", "init")
	if err != nil {
		return err
	}
	return Git(dir, "update-ref", "refs/heads/main", strings.TrimSpace(commit))
}

// Git runs git in dir with a fixed identity and returns its error with its
// output.
func Git(dir string, args ...string) error {
	_, err := GitOutput(dir, args...)
	return err
}

// GitOutput runs git in dir and returns its standard output.
func GitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=forkline", "GIT_AUTHOR_EMAIL=forkline@localhost",
		"GIT_COMMITTER_NAME=forkline", "GIT_COMMITTER_EMAIL=forkline@localhost",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
