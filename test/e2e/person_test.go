package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// person is someone with their own ServiceAccount and only the rights a
// Role gives them, running porchctl with a kubeconfig of their own.
type person struct {
	t          *testing.T
	ctx        context.Context
	ns         string
	kubeconfig string
}

// editorRules may read drafts and push their resources, and nothing else:
// Porch answers Forbidden to their propose or approve.
var editorRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"porch.kpt.dev"}, Resources: []string{"packagerevisions"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"porch.kpt.dev"}, Resources: []string{"packagerevisionresources"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
}

// newPerson makes a ServiceAccount name in ns with a Role of rules, and a
// kubeconfig that authenticates as it (a TokenRequest token).
func newPerson(ctx context.Context, t *testing.T, ns, name string, rules []rbacv1.PolicyRule) *person {
	t.Helper()
	meta := metav1.ObjectMeta{Namespace: ns, Name: name}
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &rbacv1.Role{ObjectMeta: meta, Rules: rules}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta,
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}}); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	hour := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Token = tr.Status.Token
	}
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return &person{t: t, ctx: ctx, ns: ns, kubeconfig: path}
}

// porchctl runs porchctl as the person; it returns the output and error
// instead of failing, so a refusal can be checked.
func (p *person) porchctl(args ...string) (string, error) {
	p.t.Helper()
	cmd := exec.CommandContext(p.ctx, env.Bin.Porchctl, append(args, "--namespace", p.ns, "--kubeconfig", p.kubeconfig)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must runs porchctl as the person and fails the test on an error.
func (p *person) must(args ...string) string {
	p.t.Helper()
	out, err := p.porchctl(args...)
	if err != nil {
		p.t.Fatalf("porchctl %v as %s: %v\n%s", args, filepath.Base(p.kubeconfig), err, out)
	}
	return out
}
