// Package alignimages keeps a package's images on their allowed streams:
// it rewrites images still on an older accepted pullspec to the stream's
// desired one (mode align) or only reports them (mode report), and marks
// every image outside the accepted set with short inconsistency codes.
// After freezeAfter such findings are errors that block the release until a
// person overrides them with a reason.
package alignimages

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/GoogleContainerTools/kpt-functions-sdk/go/fn"

	"github.com/forkline/forkline/functions/internal/krm"
)

const (
	// InconsistencyAnnotation lists a resource's findings as codes, e.g. "i1,i4".
	InconsistencyAnnotation = "forkline.dev/inconsistency"
	// OverrideAnnotation is set by a person to a reason; it lets a frozen
	// resource's findings pass.
	OverrideAnnotation = "forkline.dev/inconsistency-override"
)

// Stream is one allowed image stream.
type Stream struct {
	Name     string   `json:"name" yaml:"name"`
	Desired  string   `json:"desired" yaml:"desired"`
	Accepted []string `json:"accepted,omitempty" yaml:"accepted,omitempty"`
}

// Config is the function's configuration (kind AlignImages).
type Config struct {
	Mode        string   `json:"mode,omitempty" yaml:"mode,omitempty"` // align (default) or report
	FreezeAfter string   `json:"freezeAfter,omitempty" yaml:"freezeAfter,omitempty"`
	Streams     []Stream `json:"streams" yaml:"streams"`

	freeze *time.Time
}

func readConfig(rl *fn.ResourceList) (*Config, error) {
	c := rl.FunctionConfig
	if c == nil || c.IsEmpty() {
		return nil, fmt.Errorf("an AlignImages functionConfig with spec.streams is required")
	}
	if c.GetKind() != "AlignImages" {
		return nil, fmt.Errorf("functionConfig must be an AlignImages (streams do not fit a ConfigMap), not %s", c.GetKind())
	}
	cfg := &Config{}
	if _, err := c.NestedResource(cfg, "spec"); err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = "align"
	case "align", "report":
	default:
		return nil, fmt.Errorf("spec.mode %q must be align or report", cfg.Mode)
	}
	if len(cfg.Streams) == 0 {
		return nil, fmt.Errorf("spec.streams is empty: list each allowed image stream with its desired pullspec")
	}
	for i, s := range cfg.Streams {
		if s.Name == "" || s.Desired == "" {
			return nil, fmt.Errorf("spec.streams[%d] needs a name and a desired pullspec", i)
		}
	}
	if cfg.FreezeAfter != "" {
		t, err := time.Parse("2006-01-02", cfg.FreezeAfter)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, cfg.FreezeAfter); err != nil {
				return nil, fmt.Errorf("spec.freezeAfter %q is not a date (2006-01-02) or RFC 3339 time", cfg.FreezeAfter)
			}
		}
		cfg.freeze = &t
	}
	return cfg, nil
}

// Process is the function.
func Process(rl *fn.ResourceList) (bool, error) {
	cfg, err := readConfig(rl)
	if err != nil {
		return krm.ConfigError(rl, err)
	}
	frozen := cfg.freeze != nil && time.Now().After(*cfg.freeze)
	ok := true
	for _, o := range rl.Items {
		if krm.Skipped(o) {
			continue
		}
		if !cfg.check(rl, o, frozen) {
			ok = false
		}
	}
	return ok, nil
}

// check aligns or reports one resource's images; false when a finding
// blocks the release.
func (cfg *Config) check(rl *fn.ResourceList, o *fn.KubeObject, frozen bool) bool {
	codes := map[string]bool{}
	override, hasOverride := o.GetAnnotations()[OverrideAnnotation]
	if hasOverride && strings.TrimSpace(override) == "" {
		rl.Results = append(rl.Results, krm.Result(o, "metadata.annotations["+OverrideAnnotation+"]",
			"the override annotation must say why the inconsistency is accepted", fn.Error))
		return false
	}
	severity := fn.Warning
	switch {
	case hasOverride:
		severity = fn.Info
	case frozen:
		severity = fn.Error
	}
	blocked := false
	for _, c := range krm.Containers(o) {
		image := c.Image()
		field := c.Path + ".image"
		stream, desired := cfg.streamOf(image)
		switch {
		case desired:
			continue
		case stream != nil && slices.Contains(stream.Accepted, image) && cfg.Mode == "align":
			if err := c.SetImage(stream.Desired); err != nil {
				rl.Results = append(rl.Results, krm.Result(o, field, err.Error(), fn.Error))
				return false
			}
			rl.Results = append(rl.Results, krm.Result(o, field, fmt.Sprintf("aligned %s to %s (stream %s)", image, stream.Desired, stream.Name), fn.Info))
			continue
		}
		var found []string
		_, ref := krm.SplitImage(image)
		switch {
		case stream == nil:
			found = append(found, "i1")
		case slices.Contains(stream.Accepted, image):
			found = append(found, "i2")
		default:
			found = append(found, "i4")
		}
		if ref == "" {
			found = append(found, "i3")
		}
		for _, code := range found {
			codes[code] = true
			msg := fmt.Sprintf("%s: %s (%s)", code, Codes[code], image)
			if stream != nil {
				msg += fmt.Sprintf("; stream %s wants %s", stream.Name, stream.Desired)
			}
			if hasOverride {
				msg += "; overridden: " + override
			}
			rl.Results = append(rl.Results, krm.Result(o, field, msg, severity))
		}
		if severity == fn.Error {
			blocked = true
		}
	}
	if err := annotate(o, codes); err != nil {
		rl.Results = append(rl.Results, krm.Result(o, "", err.Error(), fn.Error))
		return false
	}
	return !blocked
}

// streamOf finds the stream an image belongs to (by exact pullspec, then by
// repository) and whether it is that stream's desired pullspec.
func (cfg *Config) streamOf(image string) (*Stream, bool) {
	repo, _ := krm.SplitImage(image)
	var byRepo *Stream
	for i := range cfg.Streams {
		s := &cfg.Streams[i]
		if s.Desired == image {
			return s, true
		}
		if slices.Contains(s.Accepted, image) {
			return s, false
		}
		if desiredRepo, _ := krm.SplitImage(s.Desired); desiredRepo == repo && byRepo == nil {
			byRepo = s
		}
	}
	return byRepo, false
}

// annotate writes the sorted codes, or removes a stale annotation.
func annotate(o *fn.KubeObject, codes map[string]bool) error {
	if len(codes) == 0 {
		if _, has := o.GetAnnotations()[InconsistencyAnnotation]; has {
			if _, err := o.RemoveNestedField("metadata", "annotations", InconsistencyAnnotation); err != nil {
				return err
			}
			return o.RemoveAnnotationsIfEmpty()
		}
		return nil
	}
	list := make([]string, 0, len(codes))
	for c := range codes {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool { return codeNumber(list[i]) < codeNumber(list[j]) })
	return o.SetAnnotation(InconsistencyAnnotation, strings.Join(list, ","))
}

func codeNumber(code string) int {
	var n int
	_, _ = fmt.Sscanf(code, "i%d", &n) // not a code: sorts first
	return n
}
