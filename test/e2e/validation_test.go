package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/forkline/forkline/api/v1alpha1"
	"github.com/forkline/forkline/internal/devstack"
)

func validVariant(name string) *v1.PackageVariant {
	pv := &v1.PackageVariant{}
	pv.Namespace, pv.Name = "default", name
	pv.Spec.Upstream = v1.Upstream{
		PackageRef:   v1.PackageRef{Repo: "upstream", Package: "app"},
		ReleaseTrack: v1.ReleaseTrack{Versions: "1.21.x"},
	}
	pv.Spec.Downstream = v1.Downstream{Repo: "downstream"}
	return pv
}

// TestInvalidObjectsRejected checks that the API server itself refuses
// invalid specs with a message a person can act on.
func TestInvalidObjectsRejected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hour := metav1.Duration{Duration: time.Hour}
	cases := map[string]struct {
		obj  client.Object
		want string
	}{
		"versions and revision both set": {
			obj: func() client.Object {
				pv := validVariant("both")
				pv.Spec.Upstream.Revision = "v1.21.3"
				return pv
			}(),
			want: "set exactly one of upstream.versions",
		},
		"neither versions nor revision": {
			obj: func() client.Object {
				pv := validVariant("neither")
				pv.Spec.Upstream.Versions = ""
				return pv
			}(),
			want: "set exactly one of upstream.versions",
		},
		"downstream is the upstream": {
			obj: func() client.Object {
				pv := validVariant("loop")
				pv.Spec.Downstream = v1.Downstream{Repo: pv.Spec.Upstream.Repo}
				return pv
			}(),
			want: "downstream must differ from upstream",
		},
		"pin without a reason": {
			obj: func() client.Object {
				pv := validVariant("pin")
				pv.Spec.Pin = &v1.Pin{Revision: "v1.21.2"}
				return pv
			}(),
			want: "pin.reason must say why the variant is pinned",
		},
		"unknown merge strategy": {
			obj: func() client.Object {
				pv := validVariant("merge")
				pv.Spec.Merge = &v1.Merge{Strategy: "theirs"}
				return pv
			}(),
			want: `spec.merge.strategy: Unsupported value: "theirs"`,
		},
		"approval window ending before it starts": {
			obj: func() client.Object {
				pv := validVariant("window")
				pv.Spec.Approval = &v1.Approval{
					Mode:              v1.AutomaticApproval,
					MinimumReleaseAge: &hour,
					Windows:           []v1.ApprovalWindow{{Start: "18:00", End: "09:00"}},
				}
				return pv
			}(),
			want: "window start must be before its end",
		},
		"order with a fixed revision": {
			obj: func() client.Object {
				pv := validVariant("order")
				pv.Spec.Upstream.Versions = ""
				pv.Spec.Upstream.Revision = "v1.21.3"
				pv.Spec.Upstream.Order = v1.Latest
				return pv
			}(),
			want: "upstream.order and upstream.prereleases apply only to upstream.versions",
		},
		"policy target naming two kinds of target": {
			obj: &v1.UpstreamPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "two-kinds"},
				Spec: v1.UpstreamPolicySpec{
					Upstream: v1.PackageRef{Repo: "upstream", Package: "app"},
					Targets: []v1.Target{{
						Repositories:       []v1.RepositoryTarget{{Repo: "a", ReleaseTrack: v1.ReleaseTrack{Versions: "1.21.x"}}},
						RepositorySelector: &v1.RepositorySelectorTarget{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}},
					}},
				},
			},
			want: "each target sets exactly one of repositories, repositorySelector and objectSelector",
		},
		"policy without targets": {
			obj: &v1.UpstreamPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "no-targets"},
				Spec:       v1.UpstreamPolicySpec{Upstream: v1.PackageRef{Repo: "upstream", Package: "app"}},
			},
			want: "spec.targets: Required value",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := env.Client.Create(ctx, tc.obj)
			if err == nil {
				_ = env.Client.Delete(ctx, tc.obj)
				t.Fatalf("the API server accepted an invalid object; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}

	// The valid baseline is accepted, so the cases above fail for their own
	// reason and not because the baseline is broken.
	pv := validVariant("valid")
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatalf("a valid PackageVariant was rejected: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pv) })
}

// TestKubectlExplain checks that field docs reach kubectl.
func TestKubectlExplain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := env.Kubectl(ctx, "explain", "packagevariant.spec.upstream")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"versions is a semver constraint", "OldestFirst", "revision is one fixed upstream revision"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain output lacks %q:\n%s", want, out)
		}
	}
}

// TestSamplesAreValid checks that the shipped samples pass the API server's
// validation (server-side dry run: nothing is stored).
func TestSamplesAreValid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := env.Kubectl(ctx, "apply", "--dry-run=server", "-k", env.Root+"/config/samples")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"packagevariant.forkline.dev/app-release-4-8", "upstreampolicy.forkline.dev/app"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply output lacks %q:\n%s", want, out)
		}
	}
	// The GitOps example too.
	if err := devstack.EnsureNamespace(ctx, env.Client, "platform"); err != nil {
		t.Fatal(err)
	}
	out, err = env.Kubectl(ctx, "apply", "--dry-run=server", "-k", env.Root+"/examples/policies")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "upstreampolicy.forkline.dev/app") {
		t.Errorf("kubectl apply output lacks the example policy:\n%s", out)
	}
}
