package devstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/forkline/forkline/internal/install"
)

// ManagerIdentity applies forkline's installation (config/default,
// rendered with kustomize as `make release` renders dist/install.yaml) to
// the stack and returns a client config authenticated as its
// ServiceAccount (a TokenRequest token), so the manager runs with exactly
// the permissions forkline ships, not as cluster-admin. Forbidden counts
// every 403 the manager is answered. The installation's Deployment stays
// without pods: the stack runs no kubelet; tests run the manager
// themselves, as that ServiceAccount.
func (s *Stack) ManagerIdentity(ctx context.Context) (cfg *rest.Config, forbidden *atomic.Int64, err error) {
	objects, err := install.Render(s.Root, nil)
	if err != nil {
		return nil, nil, err
	}
	var sa *unstructured.Unstructured
	for _, o := range objects {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(o.MustString()), &u.Object); err != nil {
			return nil, nil, err
		}
		if err := s.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.ForceOwnership, client.FieldOwner("forkline-install")); err != nil {
			return nil, nil, fmt.Errorf("applying %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		if u.GetKind() == "ServiceAccount" {
			sa = u
		}
	}
	if sa == nil {
		return nil, nil, fmt.Errorf("config/default installs no ServiceAccount")
	}
	cs, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return nil, nil, err
	}
	day := int64(24 * 60 * 60)
	tr, err := cs.CoreV1().ServiceAccounts(sa.GetNamespace()).CreateToken(ctx, sa.GetName(),
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &day}}, metav1.CreateOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", sa.GetNamespace(), sa.GetName(), err)
	}
	cfg = rest.AnonymousClientConfig(s.Config)
	cfg.BearerToken = tr.Status.Token
	cfg.QPS, cfg.Burst = s.Config.QPS, s.Config.Burst
	forbidden = &atomic.Int64{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && resp.StatusCode == http.StatusForbidden {
				// A namespace being deleted refuses new content (an Event)
				// with a 403 too; that is the cluster, not forkline's RBAC.
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				_ = resp.Body.Close()
				resp.Body = io.NopCloser(bytes.NewReader(body))
				if bytes.Contains(body, []byte(corev1.NamespaceTerminatingCause)) {
					s.logf("stack: the manager's %s %s was refused: its namespace is being deleted", req.Method, req.URL.Path)
					return resp, err
				}
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
