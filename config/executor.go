package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Executor is the executor block: where materialize commands run.
//
//	executor:
//	  launcher: kubernetes           # local (the default: child processes) or kubernetes
//	  kubernetes:
//	    namespace: data-jobs         # required
//	    image: ghcr.io/acme/etl:1.4  # required: the image the commands run in
//	    service_account: etl         # default: the namespace's default
//	    image_pull_policy: IfNotPresent
//	    kubeconfig: /etc/freshet/kubeconfig  # default: in-cluster (Freshet's own Pod's service account)
//	    instance: prod               # label telling installations apart (default freshet)
//	    delete_propagation: Background       # or Foreground, on cancel and timeout
//	    ttl_after_finished: 24h      # how long finished Jobs are kept
//	    grace: 30s                   # between SIGTERM and SIGKILL when a Pod is stopped
//	    labels: {team: data}         # added to every Job and Pod
//	    node_selector: {pool: etl}   # the step Pods' nodeSelector
//	    tolerations:                 # the step Pods' tolerations
//	      - {key: dedicated, operator: Equal, value: etl, effect: NoSchedule}
//	    image_pull_secrets: [regcred] # Secrets in namespace to pull image with
//	    resources:
//	      requests: {cpu: 500m, memory: 512Mi}
//	      limits: {memory: 2Gi}
//
// It is read when the server starts; changing it takes a restart.
type Executor struct {
	Launcher   string      // LauncherLocal or LauncherKubernetes
	Kubernetes *Kubernetes // set when Launcher is LauncherKubernetes
}

// Launcher names.
const (
	LauncherLocal      = "local"
	LauncherKubernetes = "kubernetes"
)

// Kubernetes configures the Kubernetes Job launcher (package
// executor/kube). Zero values mean the launcher's defaults.
type Kubernetes struct {
	Namespace         string
	Image             string
	ServiceAccount    string
	ImagePullPolicy   string // Always, IfNotPresent or Never
	Kubeconfig        string // "" means in-cluster
	Instance          string
	DeletePropagation string // Background or Foreground
	TTLAfterFinished  time.Duration
	Grace             time.Duration
	Labels            map[string]string
	NodeSelector      map[string]string
	Tolerations       []Toleration
	ImagePullSecrets  []string
	// Requests and Limits map a resource name (cpu, memory,
	// ephemeral-storage, ...) to a quantity in Kubernetes' notation,
	// already checked.
	Requests, Limits map[string]string
}

// Toleration is one of the step Pods' tolerations, as Kubernetes has it:
// Operator is Equal (the default) or Exists (then no Value), Effect is
// NoSchedule, PreferNoSchedule, NoExecute or "" (every effect), and
// Seconds (tolerate_for in the file, Kubernetes' tolerationSeconds),
// only with NoExecute, bounds how long a Pod stays on a node that gets
// the taint (0: for good).
type Toleration struct {
	Key, Operator, Value, Effect string
	Seconds                      int64
}

var (
	executorFields   = []string{"launcher", "kubernetes"}
	kubernetesFields = []string{"namespace", "image", "service_account", "image_pull_policy", "kubeconfig", "instance",
		"delete_propagation", "ttl_after_finished", "grace", "labels", "node_selector", "tolerations", "image_pull_secrets", "resources"}
	resourcesFields  = []string{"requests", "limits"}
	tolerationFields = []string{"key", "operator", "value", "effect", "tolerate_for"}
)

func (d *decoder) executor(n *yaml.Node, path string) Executor {
	e := Executor{Launcher: LauncherLocal}
	fs, ok := d.fields(n, path, executorFields)
	if !ok {
		return e
	}
	if f, ok := fs["launcher"]; ok {
		p := join(path, "launcher")
		if s, ok := d.str(f.val, p); ok {
			switch s {
			case LauncherLocal, LauncherKubernetes:
				e.Launcher = s
			default:
				d.addf(f.val.Line, p, "unknown launcher %q: want local or kubernetes", s)
			}
		}
	}
	f, hasKube := fs["kubernetes"]
	switch {
	case e.Launcher == LauncherKubernetes && !hasKube:
		d.addf(n.Line, join(path, "kubernetes"), "launcher kubernetes needs a kubernetes block with at least namespace and image")
	case e.Launcher != LauncherKubernetes && hasKube:
		d.addf(f.key.Line, join(path, "kubernetes"), "a kubernetes block is set but launcher is %s: set launcher: kubernetes to use it", e.Launcher)
	case hasKube:
		e.Kubernetes = d.kubernetes(f.val, join(path, "kubernetes"))
	}
	return e
}

func (d *decoder) kubernetes(n *yaml.Node, path string) *Kubernetes {
	fs, ok := d.fields(n, path, kubernetesFields)
	if !ok {
		return nil
	}
	k := &Kubernetes{}
	if f, ok := fs["namespace"]; ok {
		k.Namespace = d.dnsName(f.val, join(path, "namespace"), validation.IsDNS1123Label)
	} else {
		d.addf(n.Line, join(path, "namespace"), "namespace is required: where the step Jobs are created")
	}
	if f, ok := fs["image"]; ok {
		p := join(path, "image")
		if s := d.nonEmpty(f.val, p, "the container image the commands run in"); s != "" {
			if strings.ContainsAny(s, " \t\r\n") {
				d.addf(f.val.Line, p, "an image reference has no white space, got %q", s)
			} else {
				k.Image = s
			}
		}
	} else {
		d.addf(n.Line, join(path, "image"), "image is required: the container image the commands run in")
	}
	if f, ok := fs["service_account"]; ok {
		k.ServiceAccount = d.dnsName(f.val, join(path, "service_account"), validation.IsDNS1123Subdomain)
	}
	if f, ok := fs["image_pull_policy"]; ok {
		k.ImagePullPolicy = d.oneOf(f.val, join(path, "image_pull_policy"), "Always", "IfNotPresent", "Never")
	}
	if f, ok := fs["kubeconfig"]; ok {
		k.Kubeconfig = d.nonEmpty(f.val, join(path, "kubeconfig"), "a kubeconfig file's path; leave it out to use the in-cluster service account")
	}
	if f, ok := fs["instance"]; ok {
		p := join(path, "instance")
		if s, ok := d.str(f.val, p); ok {
			if msgs := validation.IsValidLabelValue(s); s == "" || len(msgs) > 0 {
				d.addf(f.val.Line, p, "instance %q must be a label value: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", s)
			} else {
				k.Instance = s
			}
		}
	}
	if f, ok := fs["delete_propagation"]; ok {
		k.DeletePropagation = d.oneOf(f.val, join(path, "delete_propagation"), "Background", "Foreground")
	}
	if f, ok := fs["ttl_after_finished"]; ok {
		k.TTLAfterFinished = d.positiveDuration(f.val, join(path, "ttl_after_finished"), time.Second)
	}
	if f, ok := fs["grace"]; ok {
		k.Grace = d.positiveDuration(f.val, join(path, "grace"), time.Second)
	}
	if f, ok := fs["labels"]; ok {
		k.Labels = d.kubeLabels(f.val, join(path, "labels"))
	}
	if f, ok := fs["node_selector"]; ok {
		k.NodeSelector = d.nodeSelector(f.val, join(path, "node_selector"))
	}
	if f, ok := fs["tolerations"]; ok {
		p := join(path, "tolerations")
		for i, item := range d.seq(f.val, p) {
			if t, ok := d.toleration(item, fmt.Sprintf("%s[%d]", p, i)); ok {
				k.Tolerations = append(k.Tolerations, t)
			}
		}
	}
	if f, ok := fs["image_pull_secrets"]; ok {
		p := join(path, "image_pull_secrets")
		for i, item := range d.seq(f.val, p) {
			if name := d.dnsName(item, fmt.Sprintf("%s[%d]", p, i), validation.IsDNS1123Subdomain); name != "" {
				k.ImagePullSecrets = append(k.ImagePullSecrets, name)
			}
		}
	}
	if f, ok := fs["resources"]; ok {
		p := join(path, "resources")
		if rfs, ok := d.fields(f.val, p, resourcesFields); ok {
			if f, ok := rfs["requests"]; ok {
				k.Requests = d.quantities(f.val, join(p, "requests"))
			}
			if f, ok := rfs["limits"]; ok {
				k.Limits = d.quantities(f.val, join(p, "limits"))
			}
		}
	}
	return k
}

// dnsName decodes a Kubernetes object name checked by valid.
func (d *decoder) dnsName(n *yaml.Node, path string, valid func(string) []string) string {
	s, ok := d.str(n, path)
	if !ok {
		return ""
	}
	if msgs := valid(s); len(msgs) > 0 {
		d.addf(n.Line, path, "invalid name %q: %s", s, strings.Join(msgs, "; "))
		return ""
	}
	return s
}

func (d *decoder) oneOf(n *yaml.Node, path string, allowed ...string) string {
	s, ok := d.str(n, path)
	if !ok {
		return ""
	}
	if !slices.Contains(allowed, s) {
		d.addf(n.Line, path, "%q: want one of %s", s, strings.Join(allowed, ", "))
		return ""
	}
	return s
}

// positiveDuration decodes a duration of at least min.
func (d *decoder) positiveDuration(n *yaml.Node, path string, least time.Duration) time.Duration {
	v, ok := d.duration(n, path)
	if !ok {
		return 0
	}
	if v < least {
		d.addf(n.Line, path, "must be at least %s, got %s", least, v)
		return 0
	}
	return v
}

// stringMap decodes a mapping of plain string keys to scalar values,
// reporting duplicates; check reports what is wrong with one pair.
func (d *decoder) stringMap(n *yaml.Node, path, what string, check func(k, v string) string) map[string]string {
	if n = d.resolve(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "expected a mapping of %s, got %s", what, describe(n))
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	lines := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.addf(k.Line, path, "keys must be plain strings, got %s", describeKey(k))
			continue
		}
		p := join(path, k.Value)
		if first, dup := lines[k.Value]; dup {
			d.addf(k.Line, p, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		lines[k.Value] = k.Line
		v, ok := d.str(n.Content[i+1], p)
		if !ok {
			continue
		}
		if msg := check(k.Value, v); msg != "" {
			d.addf(k.Line, p, "%s", msg)
			continue
		}
		out[k.Value] = v
	}
	return out
}

// reservedLabelPrefixes are the launcher's own labels.
var reservedLabelPrefixes = []string{"freshet.dev/", "app.kubernetes.io/managed-by", "batch.kubernetes.io/"}

func (d *decoder) kubeLabels(n *yaml.Node, path string) map[string]string {
	return d.stringMap(n, path, "label name to value", func(k, v string) string {
		for _, p := range reservedLabelPrefixes {
			if strings.HasPrefix(k, p) {
				return fmt.Sprintf("label %s is set by Freshet", k)
			}
		}
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Sprintf("invalid label name %q: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			return fmt.Sprintf("invalid label value %q: %s", v, strings.Join(msgs, "; "))
		}
		return ""
	})
}

// nodeSelector decodes node label names to the values a node must have.
func (d *decoder) nodeSelector(n *yaml.Node, path string) map[string]string {
	return d.stringMap(n, path, "node label name to value", func(k, v string) string {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Sprintf("invalid node label name %q: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			return fmt.Sprintf("invalid node label value %q: %s", v, strings.Join(msgs, "; "))
		}
		return ""
	})
}

// toleration decodes one toleration with the rules the API server applies
// (validation of a Pod's tolerations), so a mistake shows when Freshet
// starts rather than as a Job the API server refuses at the first run.
func (d *decoder) toleration(n *yaml.Node, path string) (Toleration, bool) {
	fs, ok := d.fields(n, path, tolerationFields)
	if !ok {
		return Toleration{}, false
	}
	t, good := Toleration{Operator: "Equal"}, true
	bad := func(line int, field, format string, args ...any) {
		d.addf(line, join(path, field), format, args...)
		good = false
	}
	if f, ok := fs["key"]; ok {
		if s, ok := d.str(f.val, join(path, "key")); ok {
			if msgs := validation.IsQualifiedName(s); s != "" && len(msgs) > 0 {
				bad(f.val.Line, "key", "invalid taint key %q: %s", s, strings.Join(msgs, "; "))
			}
			t.Key = s
		}
	}
	if f, ok := fs["operator"]; ok {
		t.Operator = d.oneOf(f.val, join(path, "operator"), "Equal", "Exists")
		good = good && t.Operator != ""
	}
	if f, ok := fs["value"]; ok {
		if s, ok := d.str(f.val, join(path, "value")); ok {
			if msgs := validation.IsValidLabelValue(s); len(msgs) > 0 {
				bad(f.val.Line, "value", "invalid taint value %q: %s", s, strings.Join(msgs, "; "))
			}
			t.Value = s
		}
	}
	if f, ok := fs["effect"]; ok {
		t.Effect = d.oneOf(f.val, join(path, "effect"), "NoSchedule", "PreferNoSchedule", "NoExecute")
		good = good && t.Effect != ""
	}
	if f, ok := fs["tolerate_for"]; ok {
		if v, ok := d.duration(f.val, join(path, "tolerate_for")); ok {
			switch {
			case t.Effect != "NoExecute":
				bad(f.key.Line, "tolerate_for", "tolerate_for is only for effect NoExecute")
			case v < time.Second || v%time.Second != 0:
				bad(f.val.Line, "tolerate_for", "must be whole seconds, at least 1s, got %s", v)
			default:
				t.Seconds = int64(v / time.Second)
			}
		}
	}
	switch {
	case t.Operator == "Exists" && t.Value != "":
		bad(n.Line, "value", "operator Exists takes no value")
	case t.Operator == "Equal" && t.Key == "":
		bad(n.Line, "key", "operator Equal needs a key (only Exists may leave it out, to tolerate every taint)")
	}
	return t, good
}

func (d *decoder) quantities(n *yaml.Node, path string) map[string]string {
	m := d.stringMap(n, path, "resource name to quantity (cpu: 500m, memory: 1Gi)", func(k, v string) string {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Sprintf("invalid resource name %q: %s", k, strings.Join(msgs, "; "))
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return fmt.Sprintf("invalid quantity %q for %s: use Kubernetes' notation, such as 500m or 2Gi", v, k)
		}
		if q.Sign() < 0 {
			return fmt.Sprintf("%s must not be negative, got %s", k, v)
		}
		return ""
	})
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
