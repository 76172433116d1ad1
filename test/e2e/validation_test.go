package e2e

import (
	"context"
	"sort"
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

// rejection is an object the API server itself must refuse, with words a
// person can act on.
type rejection struct {
	name string
	obj  client.Object
	want string
}

// rejections are every validation the CRDs carry (schema and CEL); the
// first cases of TestBadInput.
func rejections() []rejection {
	hour := metav1.Duration{Duration: time.Hour}
	cases := map[string]struct {
		obj  client.Object
		want string
	}{
		"time zone not in the IANA database": {
			obj: func() client.Object {
				pv := validVariant("tz")
				pv.Spec.Approval = &v1.Approval{Windows: []v1.ApprovalWindow{{Start: "09:00", End: "17:00", TimeZone: "Mars/Olympus"}}}
				return pv
			}(),
			want: "spec.approval.windows[0].timeZone",
		},
		"a downstream package that is no path": {
			obj: func() client.Object {
				pv := validVariant("escape")
				pv.Spec.Downstream.Package = "../Escape Me"
				return pv
			}(),
			want: "a package path is names separated by '/', each of letters",
		},
		// Porch's PackageVariant refuses them too: Porch sets both.
		"packageContext removing package-path": {
			obj: func() client.Object {
				pv := validVariant("pc-remove")
				pv.Spec.PackageContext = &v1.PackageContext{RemoveKeys: []string{"region", "package-path"}}
				return pv
			}(),
			want: `must not contain the key "name" or "package-path"`,
		},
		"packageContext setting name": {
			obj: func() client.Object {
				pv := validVariant("pc-name")
				pv.Spec.PackageContext = &v1.PackageContext{Data: map[string]string{"name": "other"}}
				return pv
			}(),
			want: `must not contain the key "name" or "package-path"`,
		},
		"health check in another namespace": {
			obj: func() client.Object {
				pv := validVariant("hc-elsewhere")
				pv.Spec.Approval = &v1.Approval{Mode: v1.AutomaticApproval, HealthCheck: &v1.HealthCheck{APIVersion: "v1", Kind: "ConfigMap", Name: "app", Namespace: "t-b"}}
				return pv
			}(),
			want: "approval.healthCheck names namespace t-b: forkline reads nothing outside the namespace of the object that asks (default)",
		},
		"window opening at 25:00": {
			obj: func() client.Object {
				pv := validVariant("hour")
				pv.Spec.Approval = &v1.Approval{Windows: []v1.ApprovalWindow{{Start: "25:00", End: "26:00"}}}
				return pv
			}(),
			want: "spec.approval.windows[0].start",
		},
		"a day that is not a weekday": {
			obj: func() client.Object {
				pv := validVariant("day")
				pv.Spec.Approval = &v1.Approval{Windows: []v1.ApprovalWindow{{Days: []v1.Weekday{"Funday"}, Start: "09:00", End: "17:00"}}}
				return pv
			}(),
			want: `Unsupported value: "Funday"`,
		},
		"injector of an unknown kind without a group": {
			obj: func() client.Object {
				pv := validVariant("injector")
				pv.Spec.Injectors = []v1.Injector{{Kind: "Deployment", Name: "web"}}
				return pv
			}(),
			want: "an injector without a group injects a ConfigMap",
		},
		"unknown approval mode": {
			obj: func() client.Object {
				pv := validVariant("mode")
				pv.Spec.Approval = &v1.Approval{Mode: "Sometimes"}
				return pv
			}(),
			want: `Unsupported value: "Sometimes"`,
		},
		"unknown conflict policy": {
			obj: func() client.Object {
				pv := validVariant("conflicts")
				pv.Spec.Merge = &v1.Merge{ConflictPolicy: "Coinflip"}
				return pv
			}(),
			want: `Unsupported value: "Coinflip"`,
		},
		"unknown deletion policy": {
			obj: func() client.Object {
				pv := validVariant("deletion")
				pv.Spec.DeletionPolicy = "shred"
				return pv
			}(),
			want: `Unsupported value: "shred"`,
		},
		"unknown adoption policy": {
			obj: func() client.Object {
				pv := validVariant("adoption")
				pv.Spec.AdoptionPolicy = "adoptAll"
				return pv
			}(),
			want: `Unsupported value: "adoptAll"`,
		},
		"unknown release order": {
			obj: func() client.Object {
				pv := validVariant("orderx")
				pv.Spec.Upstream.Order = "Random"
				return pv
			}(),
			want: `Unsupported value: "Random"`,
		},
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
		"empty approval window": {
			obj: func() client.Object {
				pv := validVariant("window")
				pv.Spec.Approval = &v1.Approval{
					Mode:              v1.AutomaticApproval,
					MinimumReleaseAge: &hour,
					Windows:           []v1.ApprovalWindow{{Start: "18:00", End: "18:00"}},
				}
				return pv
			}(),
			want: "window start and end must differ",
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
					Upstream: v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "upstream", Package: "app"}},
					Targets: []v1.Target{{
						Repositories:       []v1.RepositoryTarget{{Repo: "a", ReleaseTrack: v1.ReleaseTrack{Versions: "1.21.x"}}},
						RepositorySelector: &v1.RepositorySelectorTarget{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}},
					}},
				},
			},
			want: "each target sets exactly one of repositories, repositorySelector and objectSelector",
		},
		"policy selector with a revision and a versions annotation": {
			obj: &v1.UpstreamPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "revision-and-annotation"},
				Spec: v1.UpstreamPolicySpec{
					Upstream: v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "upstream", Package: "app"}},
					Targets: []v1.Target{{RepositorySelector: &v1.RepositorySelectorTarget{
						Selector: metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}, Revision: "v3", VersionsAnnotation: "example.com/track",
					}}},
				},
			},
			want: "set revision (every selected repository follows it) or versionsAnnotation (each names its track), not both",
		},
		"policy object selector with neither versionsField nor revision": {
			obj: &v1.UpstreamPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "no-track"},
				Spec: v1.UpstreamPolicySpec{
					Upstream: v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "upstream", Package: "app"}},
					Targets: []v1.Target{{ObjectSelector: &v1.ObjectSelectorTarget{
						APIVersion: "v1", Kind: "ConfigMap", Selector: metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}, RepoField: "data.repo",
					}}},
				},
			},
			want: "set exactly one of versionsField (each object names its track) and revision (every object follows it)",
		},
		"policy without targets": {
			obj: &v1.UpstreamPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "no-targets"},
				Spec:       v1.UpstreamPolicySpec{Upstream: v1.PolicyUpstream{PackageRef: v1.PackageRef{Repo: "upstream", Package: "app"}}},
			},
			want: "spec.targets: Required value",
		},
	}
	var out []rejection
	for name, tc := range cases {
		out = append(out, rejection{name, tc.obj, tc.want})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// TestKubectlExplain checks that field docs reach kubectl.
func TestKubectlExplain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Named with its group: Porch's own PackageVariant may be installed
	// too (TestHandOverFromPorchsVariant installs it), as on a cluster
	// moving over from it.
	out, err := env.Kubectl(ctx, "explain", "packagevariant.spec.upstream", "--api-version=forkline.dev/v1alpha1")
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
