package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
)

func (s *Stack) startFunctionRunner(ctx context.Context, fns []Function) error {
	dir := s.path("functions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var cfg strings.Builder
	cfg.WriteString("functions:\n")
	for i, fn := range fns {
		bin, err := filepath.Abs(fn.Binary)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%02d-%s", i, filepath.Base(bin))
		if err := os.Symlink(bin, filepath.Join(dir, name)); err != nil {
			return err
		}
		fmt.Fprintf(&cfg, "- function: %q\n  images: [%q]\n", name, fn.Image)
	}
	if len(fns) == 0 {
		cfg.Reset()
		cfg.WriteString("functions: []\n")
	}
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o644); err != nil {
		return err
	}
	port := freePort()
	p, err := s.start("function-runner", s.Bin.FunctionRunner,
		"--port", fmt.Sprint(port), "--functions", dir, "--config", config, "--disable-runtimes=pod")
	if err != nil {
		return err
	}
	s.functionRunner = fmt.Sprintf("127.0.0.1:%d", port)
	return waitTCP(ctx, p, s.functionRunner, 30*time.Second)
}

// startPorch runs porch-server standalone and aggregates it into
// kube-apiserver, so one client (kubectl, porchctl, the manager) sees Porch's
// API next to everything else.
func (s *Stack) startPorch(ctx context.Context) error {
	if s.porchPort == 0 {
		s.porchPort = freePort()
	}
	port := s.porchPort
	p, err := s.start("porch-server", s.Bin.Porch,
		"--standalone-debug-mode",
		"--kubeconfig", s.Kubeconfig,
		"--secure-port", fmt.Sprint(port),
		"--bind-address", "127.0.0.1",
		"--cert-dir", s.path("porch", "certs"),
		"--cache-directory", s.path("porch", "cache"),
		"--function-runner", s.functionRunner,
		"--repo-sync-frequency", s.repoSync.String())
	if err != nil {
		return err
	}
	s.porch = p
	if err := waitTCP(ctx, p, fmt.Sprintf("127.0.0.1:%d", port), 60*time.Second); err != nil {
		return err
	}
	if err := EnsureNamespace(ctx, s.Client, "porch-system"); err != nil {
		return err
	}
	svc := &corev1.Service{}
	svc.Namespace, svc.Name = "porch-system", "api"
	svc.Spec = corev1.ServiceSpec{
		Type:         corev1.ServiceTypeExternalName,
		ExternalName: "localhost",
		Ports:        []corev1.ServicePort{{Name: "api", Port: int32(port), Protocol: corev1.ProtocolTCP}},
	}
	if err := s.Client.Create(ctx, svc); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Service porch-system/api: %w", err)
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": "v1alpha1.porch.kpt.dev"},
		"spec": map[string]any{
			"group":                 "porch.kpt.dev",
			"version":               "v1alpha1",
			"groupPriorityMinimum":  int64(1000),
			"versionPriority":       int64(15),
			"insecureSkipTLSVerify": true,
			"service":               map[string]any{"namespace": "porch-system", "name": "api", "port": int64(port)},
		},
	}}
	if err := s.Client.Create(ctx, apiService); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating APIService v1alpha1.porch.kpt.dev: %w", err)
	}
	return s.waitPorchAPI(ctx, p)
}

// waitPorchAPI waits until kube-apiserver serves Porch's resources.
func (s *Stack) waitPorchAPI(ctx context.Context, p *process) error {
	dc, err := discovery.NewDiscoveryClientForConfig(s.Config)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := p.exited(); err != nil {
			return false, err
		}
		res, err := dc.ServerResourcesForGroupVersion("porch.kpt.dev/v1alpha1")
		if err != nil {
			last = err
			return false, nil
		}
		for _, r := range res.APIResources {
			if r.Name == "packagerevisions" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for porch.kpt.dev/v1alpha1 through kube-apiserver (last: %w): %w\n%s", last, err, Tail(p.log, 15))
	}
	return nil
}

func waitTCP(ctx context.Context, p *process, addr string, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := p.exited(); err != nil {
			return false, err
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s on %s: %w\n%s", p.name, addr, err, Tail(p.log, 15))
	}
	return nil
}
