package devstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	porchv1alpha1 "github.com/nephio-project/porch/api/porch/v1alpha1"
	configapi "github.com/nephio-project/porch/api/porchconfig/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/forkline/forkline/internal/porch"
)

// RegisterRepository creates the bare git repository gitName on the stack's
// git server (if needed) and registers it with Porch as Repository name in
// namespace ns, then waits until Porch reports it Ready.
func (s *Stack) RegisterRepository(ctx context.Context, ns, name, gitName string) (*configapi.Repository, error) {
	if _, err := os.Stat(filepath.Join(s.Git.Root, gitName+".git")); os.IsNotExist(err) {
		if err := s.Git.CreateRepo(gitName); err != nil {
			return nil, err
		}
	}
	repo := &configapi.Repository{}
	repo.Namespace, repo.Name = ns, name
	repo.Spec = configapi.RepositorySpec{
		Type:    configapi.RepositoryTypeGit,
		Content: ptr.To(configapi.RepositoryContentPackage),
		Git: &configapi.GitRepository{
			Repo: s.Git.RepoURL(gitName), Branch: "main", Directory: "/", CreateBranch: true,
		},
	}
	if err := s.Client.Create(ctx, repo); err != nil {
		return nil, fmt.Errorf("registering Repository %s/%s: %w", ns, name, err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := s.Client.Get(ctx, client.ObjectKeyFromObject(repo), repo); err != nil {
			return false, nil
		}
		return meta.IsStatusConditionTrue(repo.Status.Conditions, configapi.RepositoryReady), nil
	})
	if err != nil {
		return nil, fmt.Errorf("the Repository %s/%s never became Ready (conditions %+v): %w", ns, name, repo.Status.Conditions, err)
	}
	return repo, nil
}

// UnregisterRepository deletes the Repository name in namespace ns and waits
// until Porch has let it go, so that Porch no longer caches or syncs its
// packages. The git repository stays on the git server.
func (s *Stack) UnregisterRepository(ctx context.Context, ns, name string) error {
	repo := &configapi.Repository{}
	repo.Namespace, repo.Name = ns, name
	if err := s.Client.Delete(ctx, repo); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unregistering Repository %s/%s: %w", ns, name, err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		err := s.Client.Get(ctx, client.ObjectKeyFromObject(repo), repo)
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("the Repository %s/%s is still there (finalizers %v): %w", ns, name, repo.Finalizers, err)
	}
	return nil
}

// WaitPackageRevision waits until a PackageRevision of package pkg in
// repository repo matches want, and returns it.
func (s *Stack) WaitPackageRevision(ctx context.Context, ns, repo, pkg string, timeout time.Duration, want func(*porchv1alpha1.PackageRevision) bool) (*porchv1alpha1.PackageRevision, error) {
	var found *porchv1alpha1.PackageRevision
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		list := &porchv1alpha1.PackageRevisionList{}
		if err := s.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, nil
		}
		for i := range list.Items {
			pr := &list.Items[i]
			if pr.Spec.RepositoryName == repo && pr.Spec.PackageName == pkg && want(pr) {
				found = pr
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("no matching PackageRevision of %s/%s appeared: %w", repo, pkg, err)
	}
	return found, nil
}

// Published matches the published PackageRevision with the given revision
// ("v2", or a tag's version such as "v1.21.3").
func Published(revision string) func(*porchv1alpha1.PackageRevision) bool {
	return func(pr *porchv1alpha1.PackageRevision) bool { return porch.Revision(pr) == revision }
}

// Porchctl runs porchctl against the stack and returns its combined output.
// It retries, as a person would, while kube-apiserver answers that the
// aggregated Porch API is momentarily unavailable (503): such a request
// never reached porch-server; and while Porch is busy with the revision.
func (s *Stack) Porchctl(ctx context.Context, args ...string) (out string, err error) {
	return s.runRetrying(ctx, s.Bin.Porchctl, args...)
}

// Kubectl runs kubectl against the stack and returns its combined output.
func (s *Stack) Kubectl(ctx context.Context, args ...string) (string, error) {
	return s.runRetrying(ctx, s.Bin.Kubectl, args...)
}

// runRetrying runs a client again, as a person would, while the API
// server answers that Porch's API is briefly unavailable.
func (s *Stack) runRetrying(ctx context.Context, bin string, args ...string) (out string, err error) {
	for range 5 {
		out, err = s.run(ctx, bin, args...)
		// Porch v1.4+ refuses a request on a revision another request is
		// still working on ("another request is already in progress"):
		// a person tries again.
		if err == nil || !strings.Contains(out, "currently unable to handle the request") && !strings.Contains(out, "another request is already in progress") {
			return out, err
		}
		time.Sleep(2 * time.Second)
	}
	return out, err
}

func (s *Stack) run(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", s.Kubeconfig)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
