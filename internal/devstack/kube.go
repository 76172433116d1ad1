package devstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/forkline/forkline/internal/manager"
	"github.com/forkline/forkline/internal/porch"
)

// Scheme knows every type the manager uses, plus CRDs for installing them.
func Scheme() *runtime.Scheme {
	s, err := manager.Scheme()
	if err == nil {
		err = apiextensionsv1.AddToScheme(s)
	}
	if err != nil {
		panic(err) // only a programming error gets here
	}
	return s
}

// NewWatchClient is NewClient that can also watch.
func NewWatchClient(cfg *rest.Config) (client.WithWatch, error) {
	cfg = rest.CopyConfig(cfg)
	porch.Speak(cfg)
	return client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
}

// NewClient is a client for the stack's kube-apiserver, Porch included.
// It reads an older Porch's answers as the current one's (porch.Speak).
func NewClient(cfg *rest.Config) (client.Client, error) {
	cfg = rest.CopyConfig(cfg)
	porch.Speak(cfg)
	return client.New(cfg, client.Options{Scheme: Scheme()})
}

// waitHTTP polls url until it answers 200, failing early if p dies.
func waitHTTP(ctx context.Context, p *process, url string, cfg *rest.Config, timeout time.Duration) error {
	httpClient := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test stack
	}}
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := p.exited(); err != nil {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			return false, err
		}
		if cfg != nil && cfg.BearerToken != "" {
			req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s (last: %s): %w\n%s", url, last, err, Tail(p.log, 15))
	}
	return nil
}

// installCRDs applies Porch's CRDs (from the pinned module sources) and
// forkline's own (from config/crd/bases), then waits until all are served.
func (s *Stack) installCRDs(ctx context.Context) error {
	files, err := porchCRDFiles(s.Root, s.Bin.PorchVersion)
	if err != nil {
		return err
	}
	own, err := filepath.Glob(filepath.Join(s.Root, "config", "crd", "bases", "*.yaml"))
	if err != nil {
		return err
	}
	return ApplyCRDs(ctx, s.Client, append(files, own...)...)
}

// ApplyCRDs creates or updates the CRDs in files and waits until they are
// Established.
func ApplyCRDs(ctx context.Context, c client.Client, files ...string) error {
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(b, crd); err != nil {
			return fmt.Errorf("reading CRD %s: %w", f, err)
		}
		existing := &apiextensionsv1.CustomResourceDefinition{}
		switch err := c.Get(ctx, client.ObjectKeyFromObject(crd), existing); {
		case apierrors.IsNotFound(err):
			if err := c.Create(ctx, crd); err != nil {
				return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
			}
		case err != nil:
			return err
		default:
			crd.ResourceVersion = existing.ResourceVersion
			if err := c.Update(ctx, crd); err != nil {
				return fmt.Errorf("updating CRD %s: %w", crd.Name, err)
			}
		}
		names = append(names, crd.Name)
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, name := range names {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
				return false, nil
			}
			established := false
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			if !established {
				return false, nil
			}
		}
		return true, nil
	})
}

// porchCRDFiles are the CRDs porch-server needs, read from the module
// sources the porch tool module pins.
func porchCRDFiles(root, version string) ([]string, error) {
	ts, err := porchTools(version)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/nephio-project/porch")
	cmd.Dir = filepath.Join(root, ts.dir)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("locating Porch sources (go list in %s): %w", ts.dir, err)
	}
	dir := strings.TrimSpace(string(out))
	internal := filepath.Join(dir, "internal", "api", "porchinternal", "v1alpha1", "config.porch.kpt.dev_packagerevs.yaml")
	if version == PorchOlder {
		// v1.3 shipped its API (and a Function CRD) as a module of its own.
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/nephio-project/porch/api")
		cmd.Dir, cmd.Env = filepath.Join(root, ts.dir), append(os.Environ(), "GOWORK=off")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("locating Porch's API module (go list in %s): %w", ts.dir, err)
		}
		api := strings.TrimSpace(string(out))
		return []string{
			filepath.Join(api, "porchconfig", "v1alpha1", "config.porch.kpt.dev_repositories.yaml"),
			filepath.Join(api, "porchconfig", "v1alpha1", "config.porch.kpt.dev_functions.yaml"),
			internal,
		}, nil
	}
	return []string{filepath.Join(dir, "api", "porchconfig", "v1alpha1", "config.porch.kpt.dev_repositories.yaml"), internal}, nil
}

// EnsureNamespace creates a namespace if it does not exist.
func EnsureNamespace(ctx context.Context, c client.Client, name string) error {
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
