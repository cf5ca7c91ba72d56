package kubernetes

import (
	"bytes"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/ferrybot/ferry/targets/workspace"
)

// Config is the kubernetes target of one environment, as written under
// `target: {type: kubernetes, ...}` in ferry's configuration.
type Config struct {
	// Kubeconfig is the kubeconfig file ferry uses; a relative path is
	// relative to the base directory given to New. Required unless
	// InCluster.
	Kubeconfig string
	// Context is the kubeconfig context; "" means its current-context.
	Context string
	// InCluster uses the service account ferry runs as in a pod instead
	// of a kubeconfig.
	InCluster bool
	// Namespace and Name are the object ferry deploys; required.
	Namespace string
	Name      string
	// Kind is Deployment, StatefulSet or DaemonSet; "" means Deployment.
	Kind string
	// Container is the container whose image a deploy sets; "" means the
	// pod template's only container.
	Container string
	// Image is the image a release runs, a template over the release:
	// registry.example.com/api:{{.Version}}. Image or Manifests is
	// required, not both.
	Image string
	// Manifests is a file or directory of YAML in the repository, applied
	// with server-side apply after the same template substitution as
	// Image. It must hold the object Kind/Name names.
	Manifests string
	// ConfigMap is the ConfigMap `config set` changes; "" means config
	// changes are refused.
	ConfigMap string
	// ProgressDeadline is how long a batch may go without a pod becoming
	// ready before it fails; 0 means the Deployment's
	// progressDeadlineSeconds, and 10 minutes for other kinds.
	ProgressDeadline time.Duration
	// LogLines is how many lines of a failed container's log are shown;
	// 0 means 10, negative means none.
	LogLines int

	// WrapTransport, if set, wraps every HTTP round trip to the API
	// server, to count or trace requests. It cannot be set in ferry.yaml.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// The kinds of object the target deploys.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
)

var configKeys = []string{"configmap", "container", "context", "image", "in_cluster", "kind", "kubeconfig",
	"log_lines", "manifests", "name", "namespace", "progress_deadline"}

// ParseConfig decodes the parameters of a kubernetes target, as YAML or
// JSON decode them. Unknown keys are errors, so a typo is not silently
// ignored.
func ParseConfig(params map[string]any) (Config, error) {
	var cfg Config
	p := workspace.NewParams("kubernetes", params)
	if err := p.Known(configKeys); err != nil {
		return cfg, err
	}
	cfg.Kubeconfig = p.String("kubeconfig")
	cfg.Context = p.String("context")
	cfg.InCluster = p.Bool("in_cluster")
	cfg.Namespace = p.String("namespace")
	cfg.Name = p.String("name")
	cfg.Kind = p.String("kind")
	cfg.Container = p.String("container")
	cfg.Image = p.String("image")
	cfg.Manifests = p.String("manifests")
	cfg.ConfigMap = p.String("configmap")
	cfg.ProgressDeadline = p.Duration("progress_deadline")
	cfg.LogLines = p.Int("log_lines")
	if p.Err() != nil {
		return cfg, p.Err()
	}
	return cfg, cfg.check()
}

// kinds maps what people write for kind to the kind.
var kinds = map[string]string{
	"deployment": KindDeployment, "deploy": KindDeployment,
	"statefulset": KindStatefulSet, "sts": KindStatefulSet,
	"daemonset": KindDaemonSet, "ds": KindDaemonSet,
}

// kind is the kind the Config names.
func (c Config) kind() string {
	if c.Kind == "" {
		return KindDeployment
	}
	return kinds[strings.ToLower(c.Kind)]
}

// check validates a Config however it was made.
func (c Config) check() error {
	switch {
	case c.Kubeconfig == "" && !c.InCluster:
		return invalid("kubeconfig: name a kubeconfig file, or set in_cluster: true when ferry runs in the cluster")
	case c.Kubeconfig != "" && c.InCluster:
		return invalid("in_cluster: give a kubeconfig or in_cluster: true, not both")
	case c.Context != "" && c.InCluster:
		return invalid("context: a context is read from a kubeconfig; in_cluster has none")
	case c.Namespace == "":
		return invalid("namespace: name the namespace of the object to deploy")
	case !dnsLabel.MatchString(c.Namespace):
		return invalid("namespace: %q is not a namespace name (lower-case letters, digits and '-', at most 63)", c.Namespace)
	case c.Name == "":
		return invalid("name: name the %s to deploy", c.kindOr())
	case !dnsSubdomain.MatchString(c.Name) || len(c.Name) > 253:
		return invalid("name: %q is not an object name (lower-case letters, digits, '-' and '.')", c.Name)
	case c.kind() == "":
		return invalid("kind: %q is not Deployment, StatefulSet or DaemonSet", c.Kind)
	case c.Container != "" && !dnsLabel.MatchString(c.Container):
		return invalid("container: %q is not a container name", c.Container)
	case c.Image == "" && c.Manifests == "":
		return invalid("image: give the image a release runs, like registry.example.com/api:{{.Version}}, or manifests: a path in the repository")
	case c.Image != "" && c.Manifests != "":
		return invalid("manifests: give an image or manifests, not both")
	case c.ConfigMap != "" && (!dnsSubdomain.MatchString(c.ConfigMap) || len(c.ConfigMap) > 253):
		return invalid("configmap: %q is not a ConfigMap name", c.ConfigMap)
	case c.ProgressDeadline < 0:
		return invalid("progress_deadline: %s is negative", c.ProgressDeadline)
	}
	if c.Manifests != "" && (filepath.IsAbs(c.Manifests) || !filepath.IsLocal(c.Manifests)) {
		return invalid("manifests: %q must be a path inside the repository, like deploy/k8s", c.Manifests)
	}
	if c.Image != "" {
		if _, err := parseTemplate("image", c.Image); err != nil {
			return invalid("image: %v", err)
		}
		img, err := render("image", c.Image, sampleRelease)
		if err != nil {
			return invalid("image: %v", err)
		}
		if !imageRef.MatchString(img) {
			return invalid("image: %q does not make an image reference like registry.example.com/api:v1.2.3", c.Image)
		}
	}
	return nil
}

func (c Config) kindOr() string {
	if k := c.kind(); k != "" {
		return k
	}
	return KindDeployment
}

// release is what the image and manifest templates see.
type release struct {
	Version     string // the tag, or branch@shortsha
	Tag         string // Version made a valid image tag: branch@shortsha becomes branch-shortsha
	Commit      string
	ShortCommit string
	Ref         string
	Release     string // ferry's release number
	Project     string
	Env         string
}

var sampleRelease = release{Version: "v1.0.0", Tag: "v1.0.0", Commit: strings.Repeat("0", 40), ShortCommit: "0000000", Ref: "v1.0.0", Release: "1", Project: "p", Env: "e"}

func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(text)
}

// render executes the template text over r.
func render(name, text string, r release) (string, error) {
	t, err := parseTemplate(name, text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, r); err != nil {
		return "", err
	}
	return b.String(), nil
}

// tagOf makes a version a valid image tag.
func tagOf(version string) string {
	t := badTag.ReplaceAllString(version, "-")
	t = strings.TrimLeft(t, ".-")
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	badTag       = regexp.MustCompile(`[^A-Za-z0-9_.-]`)
	// imageRef is the grammar of distribution/reference, loosely: a name
	// of lower-case path components, then a tag and/or a digest.
	imageRef = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[a-z0-9]+:[a-f0-9]{32,})?$`)
)

func invalid(format string, args ...any) error {
	return workspace.Invalid("kubernetes", format, args...)
}
