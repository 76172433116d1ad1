package convert

import (
	"encoding/json"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/forkline/forkline/api/v1alpha1"
)

// Porch's PackageVariant (config.porch.kpt.dev/v1alpha1) and
// PackageVariantSet (v1alpha2) as Porch v1.3 to v1.5 write them. Mirrored,
// not imported: Porch's own types pull in kpt's module, which the module
// proxy does not serve at the version Porch asks for, and v1.3 wrote
// upstream.revision as a string. Decoded strictly: a field this mirror
// does not know is an error, never a silent drop.

// porchObject is what every Porch object has; not metav1.TypeMeta, which
// would make controller-gen take these mirrors for forkline's own kinds.
type porchObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
}

type porchVariant struct {
	porchObject `json:",inline"`
	Spec        porchVariantSpec `json:"spec"`
	Status      json.RawMessage  `json:"status,omitempty"`
}

type porchVariantSpec struct {
	Upstream       *porchUpstream    `json:"upstream,omitempty"`
	Downstream     *porchDownstream  `json:"downstream,omitempty"`
	AdoptionPolicy string            `json:"adoptionPolicy,omitempty"`
	DeletionPolicy string            `json:"deletionPolicy,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	PackageContext *porchContext     `json:"packageContext,omitempty"`
	Pipeline       *porchPipeline    `json:"pipeline,omitempty"`
	Injectors      []porchInjector   `json:"injectors,omitempty"`
}

type porchUpstream struct {
	Repo          string        `json:"repo,omitempty"`
	Package       string        `json:"package,omitempty"`
	Revision      porchRevision `json:"revision"`
	WorkspaceName string        `json:"workspaceName,omitempty"`
}

// porchRevision is upstream.revision: "v2" in Porch v1.3, 2 in v1.4+,
// kept as forkline names it ("v2"); empty for none (0, -1).
type porchRevision struct {
	name   string
	number bool // written as a number: Porch v1.4+, whose variant ignores it
}

func (r *porchRevision) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		r.name = s
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("upstream.revision is neither a string (Porch v1.3) nor a number (v1.4+): %s", b)
	}
	if n > 0 {
		r.name, r.number = fmt.Sprintf("v%d", n), true
	}
	return nil
}

type porchDownstream struct {
	Repo    string `json:"repo,omitempty"`
	Package string `json:"package,omitempty"`
}

type porchContext struct {
	Data       map[string]string `json:"data,omitempty"`
	RemoveKeys []string          `json:"removeKeys,omitempty"`
}

// porchPipeline is kpt's Kptfile pipeline.
type porchPipeline struct {
	Mutators   []porchFunction `json:"mutators,omitempty"`
	Validators []porchFunction `json:"validators,omitempty"`
}

// porchFunction is kpt's Kptfile function; its selectors have forkline's
// fields exactly.
type porchFunction struct {
	Image      string                `json:"image,omitempty"`
	Exec       string                `json:"exec,omitempty"`
	ConfigPath string                `json:"configPath,omitempty"`
	ConfigMap  map[string]string     `json:"configMap,omitempty"`
	Name       string                `json:"name,omitempty"`
	Selectors  []v1.ResourceSelector `json:"selectors,omitempty"`
	Exclude    []v1.ResourceSelector `json:"exclude,omitempty"`
}

type porchInjector struct {
	Group   *string `json:"group,omitempty"`
	Version *string `json:"version,omitempty"`
	Kind    *string `json:"kind,omitempty"`
	Name    string  `json:"name"`
}

type porchVariantSet struct {
	porchObject `json:",inline"`
	Spec        porchVariantSetSpec `json:"spec"`
	Status      json.RawMessage     `json:"status,omitempty"`
}

type porchVariantSetSpec struct {
	Upstream *porchUpstream `json:"upstream,omitempty"`
	Targets  []porchTarget  `json:"targets,omitempty"`
}

type porchTarget struct {
	Repositories       []porchRepositoryTarget `json:"repositories,omitempty"`
	RepositorySelector *metav1.LabelSelector   `json:"repositorySelector,omitempty"`
	ObjectSelector     *porchObjectSelector    `json:"objectSelector,omitempty"`
	Template           *porchTemplate          `json:"template,omitempty"`
}

type porchRepositoryTarget struct {
	Name         string   `json:"name"`
	PackageNames []string `json:"packageNames,omitempty"`
}

type porchObjectSelector struct {
	metav1.LabelSelector `json:",inline"`
	APIVersion           string  `json:"apiVersion,omitempty"`
	Kind                 string  `json:"kind,omitempty"`
	Name                 *string `json:"name,omitempty"`
}

type porchTemplate struct {
	Downstream      *porchDownstreamTemplate `json:"downstream,omitempty"`
	AdoptionPolicy  *string                  `json:"adoptionPolicy,omitempty"`
	DeletionPolicy  *string                  `json:"deletionPolicy,omitempty"`
	Labels          map[string]string        `json:"labels,omitempty"`
	LabelExprs      []mapExpr                `json:"labelExprs,omitempty"`
	Annotations     map[string]string        `json:"annotations,omitempty"`
	AnnotationExprs []mapExpr                `json:"annotationExprs,omitempty"`
	PackageContext  *porchContextTemplate    `json:"packageContext,omitempty"`
	Pipeline        *porchPipelineTemplate   `json:"pipeline,omitempty"`
	Injectors       []porchInjectorTemplate  `json:"injectors,omitempty"`
}

type porchDownstreamTemplate struct {
	Repo        *string `json:"repo,omitempty"`
	Package     *string `json:"package,omitempty"`
	RepoExpr    *string `json:"repoExpr,omitempty"`
	PackageExpr *string `json:"packageExpr,omitempty"`
}

type porchContextTemplate struct {
	Data           map[string]string `json:"data,omitempty"`
	RemoveKeys     []string          `json:"removeKeys,omitempty"`
	DataExprs      []mapExpr         `json:"dataExprs,omitempty"`
	RemoveKeyExprs []string          `json:"removeKeyExprs,omitempty"`
}

type porchPipelineTemplate struct {
	Validators []porchFunctionTemplate `json:"validators,omitempty"`
	Mutators   []porchFunctionTemplate `json:"mutators,omitempty"`
}

type porchInjectorTemplate struct {
	Group    *string `json:"group,omitempty"`
	Version  *string `json:"version,omitempty"`
	Kind     *string `json:"kind,omitempty"`
	Name     *string `json:"name,omitempty"`
	NameExpr *string `json:"nameExpr,omitempty"`
}

type porchFunctionTemplate struct {
	porchFunction  `json:",inline"`
	ConfigMapExprs []mapExpr `json:"configMapExprs,omitempty"`
}

type mapExpr struct {
	Key       *string `json:"key,omitempty"`
	Value     *string `json:"value,omitempty"`
	KeyExpr   *string `json:"keyExpr,omitempty"`
	ValueExpr *string `json:"valueExpr,omitempty"`
}
