package devstack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// ManagerIdentity installs the ServiceAccount, ClusterRole and binding of
// config/rbac and returns a client config authenticated as that
// ServiceAccount (a TokenRequest token), so the manager runs with exactly
// the permissions forkline ships, not as cluster-admin. Forbidden counts
// every 403 the manager is answered.
func (s *Stack) ManagerIdentity(ctx context.Context) (cfg *rest.Config, forbidden *atomic.Int64, err error) {
	dir := filepath.Join(s.Root, "config", "rbac")
	sa := &corev1.ServiceAccount{}
	role := &rbacv1.ClusterRole{}
	binding := &rbacv1.ClusterRoleBinding{}
	for file, obj := range map[string]client.Object{"service_account.yaml": sa, "role.yaml": role, "role_binding.yaml": binding} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return nil, nil, err
		}
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", file, err)
		}
	}
	if err := EnsureNamespace(ctx, s.Client, sa.Namespace); err != nil {
		return nil, nil, err
	}
	for _, obj := range []client.Object{sa, role, binding} {
		if err := s.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, nil, fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	cs, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return nil, nil, err
	}
	day := int64(24 * 60 * 60)
	tr, err := cs.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &day}}, metav1.CreateOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	cfg = rest.AnonymousClientConfig(s.Config)
	cfg.BearerToken = tr.Status.Token
	cfg.QPS, cfg.Burst = s.Config.QPS, s.Config.Burst
	forbidden = &atomic.Int64{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && resp.StatusCode == http.StatusForbidden {
				forbidden.Add(1)
				s.logf("stack: the manager was forbidden: %s %s", req.Method, req.URL.Path)
			}
			return resp, err
		})
	})
	return cfg, forbidden, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
