package validate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/freshet-dev/freshet/executor/kube"
)

const (
	chartDir  = "deploy/helm/freshet"
	namespace = "data"
	release   = "fr"
	dataDir   = "/var/lib/freshet"
)

// rendered is one render of the chart: its objects by kind and name.
type rendered struct {
	raw      map[string]map[string]map[string]any // kind -> name -> object
	sts      appsv1.StatefulSet
	secrets  map[string]corev1.Secret
	configs  map[string]corev1.ConfigMap
	svcs     map[string]corev1.Service
	roles    map[string]rbacv1.Role
	bindings map[string]rbacv1.RoleBinding
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(filepath.Join(repoRoot(t), chartDir))
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	return ch
}

// renderChart renders the chart as `helm install` would with these values
// (set on top of values.yaml), or returns the render's error.
func renderChart(t *testing.T, ch *chart.Chart, vals map[string]any) (map[string]string, error) {
	t.Helper()
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, err
	}
	top, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, top)
}

// decode splits the rendered files into objects and decodes each strictly
// into its client-go type: an unknown or misspelt field, a string where a
// number goes, fails.
func decode(t *testing.T, files map[string]string) rendered {
	t.Helper()
	r := rendered{raw: map[string]map[string]map[string]any{}, secrets: map[string]corev1.Secret{},
		configs: map[string]corev1.ConfigMap{}, svcs: map[string]corev1.Service{},
		roles: map[string]rbacv1.Role{}, bindings: map[string]rbacv1.RoleBinding{}}
	for name, content := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt, _helpers.tpl
		}
		for _, doc := range releaseutil.SplitManifests(content) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var obj map[string]any
			if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
				t.Fatalf("%s does not parse: %v\n%s", name, err, doc)
			}
			kind, _ := obj["kind"].(string)
			meta, _ := obj["metadata"].(map[string]any)
			objName, _ := meta["name"].(string)
			if kind == "" || objName == "" || obj["apiVersion"] == nil {
				t.Fatalf("%s: an object without apiVersion, kind or name:\n%s", name, doc)
			}
			if r.raw[kind] == nil {
				r.raw[kind] = map[string]map[string]any{}
			}
			if _, dup := r.raw[kind][objName]; dup {
				t.Fatalf("two %s named %s", kind, objName)
			}
			r.raw[kind][objName] = obj
			strict := func(into any) {
				if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
					t.Fatalf("%s: %s %s does not decode as a Kubernetes object: %v\n%s", name, kind, objName, err, doc)
				}
			}
			switch kind {
			case "StatefulSet":
				strict(&r.sts)
			case "Secret":
				var s corev1.Secret
				strict(&s)
				r.secrets[objName] = s
			case "ConfigMap":
				var c corev1.ConfigMap
				strict(&c)
				r.configs[objName] = c
			case "Service":
				var s corev1.Service
				strict(&s)
				r.svcs[objName] = s
			case "ServiceAccount":
				strict(&corev1.ServiceAccount{})
			case "Role":
				var ro rbacv1.Role
				strict(&ro)
				r.roles[objName] = ro
			case "RoleBinding":
				var rb rbacv1.RoleBinding
				strict(&rb)
				r.bindings[objName] = rb
			case "ServiceMonitor", "PrometheusRule":
				// prometheus-operator CRDs: checked field by field below.
			default:
				t.Fatalf("%s: unexpected kind %s", name, kind)
			}
		}
	}
	return r
}

func (r rendered) kinds() map[string][]string {
	out := map[string][]string{}
	for kind, objs := range r.raw {
		out[kind] = slices.Sorted(maps.Keys(objs))
	}
	return out
}

func TestHelmChartLints(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	linter := lint.All(filepath.Join(root, chartDir), nil, namespace, true)
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

func TestHelmChartRenders(t *testing.T) {
	t.Parallel()
	tokensJSON := `[{"name":"ci","scopes":["ingest"],"sha256":"` + strings.Repeat("ab", 32) + `","created":"2026-01-01T00:00:00Z"}]`
	cases := []struct {
		name   string
		values string
		kinds  map[string][]string
		check  func(t *testing.T, r rendered)
	}{
		{
			name:   "defaults",
			values: ``,
			kinds: map[string][]string{
				"ConfigMap": {"fr-freshet-config"}, "Secret": {"fr-freshet-admin-token", "fr-freshet-tokens"},
				"Service": {"fr-freshet", "fr-freshet-headless"}, "ServiceAccount": {"fr-freshet"}, "StatefulSet": {"fr-freshet"},
			},
			check: func(t *testing.T, r rendered) {
				c := container(t, r)
				if slices.Contains(c.Args, "--insecure") || hasPrefix(c.Args, "--store") {
					t.Errorf("default args %v: want tokens and the embedded store", c.Args)
				}
				if len(r.sts.Spec.VolumeClaimTemplates) != 1 || r.sts.Spec.VolumeClaimTemplates[0].Name != "data" {
					t.Errorf("want one volume claim template named data, got %+v", r.sts.Spec.VolumeClaimTemplates)
				}
				checkGeneratedToken(t, r)
			},
		},
		{
			name:   "job launcher",
			values: `jobLauncher: {enabled: true, namespace: freshet-jobs, stepServiceAccount: {create: true, annotations: {team: data}}}`,
			kinds: map[string][]string{
				"ConfigMap": {"fr-freshet-config"}, "Secret": {"fr-freshet-admin-token", "fr-freshet-tokens"},
				"Service": {"fr-freshet", "fr-freshet-headless"}, "ServiceAccount": {"fr-freshet", "fr-freshet-steps"}, "StatefulSet": {"fr-freshet"},
				"Role": {"fr-freshet-job-launcher"}, "RoleBinding": {"fr-freshet-job-launcher"},
			},
			check: func(t *testing.T, r rendered) {
				if a := r.sts.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || !*a {
					t.Error("the launcher needs the pod's service account token mounted")
				}
				role := r.roles["fr-freshet-job-launcher"]
				if role.Namespace != "freshet-jobs" {
					t.Errorf("Role in namespace %q, want freshet-jobs", role.Namespace)
				}
				// Exactly what the launcher needs (executor/kube's
				// TestRulesSuffice runs it under these rules).
				if want := kube.Rules(); !reflect.DeepEqual(role.Rules, want) {
					t.Errorf("Role rules %+v, want exactly kube.Rules() %+v", role.Rules, want)
				}
				rb := r.bindings["fr-freshet-job-launcher"]
				if rb.Namespace != "freshet-jobs" || rb.RoleRef.Name != "fr-freshet-job-launcher" || len(rb.Subjects) != 1 ||
					rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != "fr-freshet" || rb.Subjects[0].Namespace != namespace {
					t.Errorf("RoleBinding %+v: want the Role bound to ServiceAccount %s/fr-freshet", rb, namespace)
				}
				steps := r.raw["ServiceAccount"]["fr-freshet-steps"]["metadata"].(map[string]any)
				if steps["namespace"] != "freshet-jobs" {
					t.Errorf("step ServiceAccount metadata %v", steps)
				}
			},
		},
		{
			name: "clickhouse, service monitor, rules, secrets",
			values: `
clickhouse: {url: "clickhouse://freshet:s3cret@clickhouse.db:9000/freshet"}
serviceMonitor: {enabled: true, labels: {release: kube-prometheus}}
prometheusRule: {enabled: true}
auth: {tokens: '` + tokensJSON + `'}
secretEnv: {PD_ROUTING_KEY: abc, HOOK_SECRET: def}
existingSecretEnv: [more-secrets]
env: {OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318"}
server: {publicURL: "https://freshet.example.com", allowedHosts: [freshet.example.com], noAssetMetrics: true, walMaxBytes: 2147483648, extraArgs: [--max-assets=500000]}
config: |
  assets:
    - key: raw/orders
      freshness: {max_lag: 2h}
`,
			kinds: map[string][]string{
				"ConfigMap": {"fr-freshet-config"}, "Secret": {"fr-freshet-env", "fr-freshet-store", "fr-freshet-tokens"},
				"Service": {"fr-freshet", "fr-freshet-headless"}, "ServiceAccount": {"fr-freshet"}, "StatefulSet": {"fr-freshet"},
				"ServiceMonitor": {"fr-freshet"}, "PrometheusRule": {"fr-freshet"},
			},
			check: func(t *testing.T, r rendered) {
				c := container(t, r)
				if !slices.Contains(c.Args, "--store=$(FRESHET_STORE)") {
					t.Errorf("args %v: want --store=$(FRESHET_STORE)", c.Args)
				}
				if strings.Contains(strings.Join(c.Args, " "), "s3cret") {
					t.Errorf("the ClickHouse password is in the pod spec: %v", c.Args)
				}
				env := envByName(c)
				if ref := env["FRESHET_STORE"].ValueFrom; ref == nil || ref.SecretKeyRef == nil ||
					ref.SecretKeyRef.Name != "fr-freshet-store" || ref.SecretKeyRef.Key != "url" {
					t.Errorf("FRESHET_STORE = %+v, want the url key of fr-freshet-store", env["FRESHET_STORE"])
				}
				if got := string(r.secrets["fr-freshet-store"].Data["url"]); got != "clickhouse://freshet:s3cret@clickhouse.db:9000/freshet" {
					t.Errorf("store secret holds %q", got)
				}
				if env["OTEL_EXPORTER_OTLP_ENDPOINT"].Value != "http://otel:4318" {
					t.Errorf("env %+v", env)
				}
				var from []string
				for _, e := range c.EnvFrom {
					from = append(from, e.SecretRef.Name)
				}
				if !slices.Equal(from, []string{"fr-freshet-env", "more-secrets"}) {
					t.Errorf("envFrom %v", from)
				}
				if got := r.secrets["fr-freshet-env"].Data; string(got["PD_ROUTING_KEY"]) != "abc" || string(got["HOOK_SECRET"]) != "def" {
					t.Errorf("env secret %v", got)
				}
				if got := string(r.secrets["fr-freshet-tokens"].Data["tokens.json"]); got != tokensJSON {
					t.Errorf("tokens.json = %s", got)
				}
				for _, want := range []string{"--public-url=https://freshet.example.com", "--allowed-host=freshet.example.com",
					"--no-asset-metrics", "--wal-max-bytes=2147483648", "--max-assets=500000"} {
					if !slices.Contains(c.Args, want) {
						t.Errorf("args %v: want %s", c.Args, want)
					}
				}
				checkServiceMonitor(t, r)
				checkPrometheusRule(t, r)
			},
		},
		{
			name:   "three replicas, a Lease",
			values: `{replicaCount: 3, clickhouse: {url: "clickhouse://ch:9000/freshet"}, server: {allowedHosts: [freshet.example.com]}}`,
			kinds: map[string][]string{
				"ConfigMap": {"fr-freshet-config"}, "Secret": {"fr-freshet-admin-token", "fr-freshet-store", "fr-freshet-tokens"},
				"Service": {"fr-freshet", "fr-freshet-headless"}, "ServiceAccount": {"fr-freshet"}, "StatefulSet": {"fr-freshet"},
				"Role": {"fr-freshet-leader-election"}, "RoleBinding": {"fr-freshet-leader-election"},
			},
			check: func(t *testing.T, r rendered) {
				if *r.sts.Spec.Replicas != 3 {
					t.Errorf("replicas %d, want 3", *r.sts.Spec.Replicas)
				}
				c := container(t, r)
				pod := "$(POD_NAME).fr-freshet-headless." + namespace + ".svc"
				for _, want := range []string{"--name=$(POD_NAME)", "--advertise-url=http://" + pod + ":3000",
					"--lease=" + namespace + "/fr-freshet-leader", "--election-timeout=6s", "--allowed-host=" + pod} {
					if !slices.Contains(c.Args, want) {
						t.Errorf("args %v: want %s", c.Args, want)
					}
				}
				if ref := envByName(c)["POD_NAME"].ValueFrom; ref == nil || ref.FieldRef == nil || ref.FieldRef.FieldPath != "metadata.name" {
					t.Errorf("POD_NAME %+v: want the pod's name", envByName(c)["POD_NAME"])
				}
				if a := r.sts.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || !*a {
					t.Error("the Lease needs the pod's service account token mounted")
				}
				role := r.roles["fr-freshet-leader-election"]
				if len(role.Rules) != 2 || !slices.Equal(role.Rules[1].ResourceNames, []string{"fr-freshet-leader"}) ||
					!slices.Equal(role.Rules[1].Verbs, []string{"get", "update"}) || !slices.Equal(role.Rules[0].Verbs, []string{"create"}) {
					t.Errorf("leader election Role %+v: want create, and get and update on fr-freshet-leader only", role.Rules)
				}
				rb := r.bindings["fr-freshet-leader-election"]
				if len(rb.Subjects) != 1 || rb.Subjects[0].Name != "fr-freshet" || rb.RoleRef.Name != "fr-freshet-leader-election" {
					t.Errorf("RoleBinding %+v", rb)
				}
			},
		},
		{
			name:   "three replicas, ZooKeeper",
			values: `{replicaCount: 3, clickhouse: {url: "clickhouse://ch:9000/freshet"}, election: {mode: zookeeper, zookeeper: "zk-0.zk:2181,zk-1.zk:2181/freshet", timeout: 10s}}`,
			kinds: map[string][]string{
				"ConfigMap": {"fr-freshet-config"}, "Secret": {"fr-freshet-admin-token", "fr-freshet-store", "fr-freshet-tokens"},
				"Service": {"fr-freshet", "fr-freshet-headless"}, "ServiceAccount": {"fr-freshet"}, "StatefulSet": {"fr-freshet"},
			},
			check: func(t *testing.T, r rendered) {
				c := container(t, r)
				for _, want := range []string{"--zookeeper=zk-0.zk:2181,zk-1.zk:2181/freshet", "--election-timeout=10s"} {
					if !slices.Contains(c.Args, want) {
						t.Errorf("args %v: want %s", c.Args, want)
					}
				}
				if hasPrefix(c.Args, "--lease") || hasPrefix(c.Args, "--allowed-host") {
					t.Errorf("args %v: no Lease, no Host allow-list", c.Args)
				}
			},
		},
		{
			name:   "insecure, no persistence, own config map",
			values: `{auth: {generateAdminToken: false, insecure: true}, persistence: {enabled: false}, existingConfigMap: my-defs}`,
			kinds: map[string][]string{
				"Service": {"fr-freshet", "fr-freshet-headless"}, "ServiceAccount": {"fr-freshet"}, "StatefulSet": {"fr-freshet"},
			},
			check: func(t *testing.T, r rendered) {
				c := container(t, r)
				if !slices.Contains(c.Args, "--insecure") {
					t.Errorf("args %v: want --insecure", c.Args)
				}
				if len(r.sts.Spec.VolumeClaimTemplates) != 0 {
					t.Errorf("volume claim templates without persistence")
				}
				if v := volume(t, r, "data"); v.EmptyDir == nil {
					t.Errorf("data volume %+v: want an emptyDir", v)
				}
				if v := volume(t, r, "config"); v.ConfigMap == nil || v.ConfigMap.Name != "my-defs" {
					t.Errorf("config volume %+v: want my-defs", v)
				}
				for _, m := range c.VolumeMounts {
					if m.Name == "tokens" {
						t.Errorf("a tokens mount without tokens")
					}
				}
			},
		},
	}
	ch := loadChart(t)
	flags := serveFlags(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vals, err := chartutil.ReadValues([]byte(tc.values))
			if err != nil {
				t.Fatal(err)
			}
			files, err := renderChart(t, ch, vals)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			r := decode(t, files)
			if got := r.kinds(); !reflect.DeepEqual(got, tc.kinds) {
				t.Errorf("rendered %v, want %v", got, tc.kinds)
			}
			checkStatefulSet(t, r, flags)
			tc.check(t, r)
		})
	}
}

// checkStatefulSet holds what every render must: probes on the health
// routes, the data directory on the data volume, non-root, read-only root,
// flags freshet serve has.
func checkStatefulSet(t *testing.T, r rendered, flags map[string]bool) {
	t.Helper()
	sts := r.sts
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas < 1 {
		t.Errorf("replicas %v, want 1 or more", sts.Spec.Replicas)
	}
	if n := *sts.Spec.Replicas; n > 1 != hasPrefix(container(t, r).Args, "--name=") {
		t.Errorf("%d replicas with args %v: several replicas, and only they, elect a leader", n, container(t, r).Args)
	}
	if _, ok := r.svcs[sts.Spec.ServiceName]; !ok {
		t.Errorf("serviceName %q is not a rendered Service", sts.Spec.ServiceName)
	}
	podLabels := sts.Spec.Template.Labels
	for k, v := range sts.Spec.Selector.MatchLabels {
		if podLabels[k] != v {
			t.Errorf("selector %s=%s does not match the pod's labels %v", k, v, podLabels)
		}
	}
	c := container(t, r)
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("args %v: want serve first", c.Args)
	}
	args := map[string]string{}
	for _, a := range c.Args[1:] {
		name, val, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !flags[name] {
			t.Errorf("argument %q is not a flag of freshet serve", a)
		}
		args[name] = val
	}
	if args["data-dir"] != dataDir || args["addr"] != ":3000" {
		t.Errorf("--data-dir %q --addr %q, want %s and :3000", args["data-dir"], args["addr"], dataDir)
	}
	// The container's port is the one --addr listens on, and the probes use it.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 3000 {
		t.Errorf("ports %+v: want http on 3000", c.Ports)
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/healthz"}}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v: want GET %s on port http", p.name, p.probe, p.path)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	if m, ok := mounts[dataDir]; !ok || m.Name != "data" || m.ReadOnly {
		t.Errorf("mounts %+v: want the data volume, writable, at %s", c.VolumeMounts, dataDir)
	}
	if m, ok := mounts["/etc/freshet"]; !ok || m.Name != "config" || args["config"] != "/etc/freshet/freshet.yaml" {
		t.Errorf("config mount %+v, --config %q", m, args["config"])
	}
	if _, ok := mounts["/tmp"]; !ok {
		t.Errorf("no writable /tmp on a read-only root file system")
	}
	// Freshet reads tokens from DATA-DIR/tokens.json only (auth.Open).
	if m, ok := mounts[dataDir+"/tokens.json"]; ok {
		v := volume(t, r, m.Name)
		if !m.ReadOnly || m.SubPath == "" || v.Secret == nil {
			t.Errorf("tokens mount %+v from %+v: want a read-only subPath of a Secret", m, v)
		}
	} else if _, insecure := args["insecure"]; !insecure {
		t.Errorf("neither tokens at %s/tokens.json nor --insecure: the server would refuse to start", dataDir)
	}
	for _, m := range c.VolumeMounts {
		volume(t, r, m.Name)
	}
	pod := sts.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 || psc.FSGroup == nil {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, a non-zero runAsUser and an fsGroup for the volume", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
		*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, all capabilities dropped", sc)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want memory requests and limits", c.Resources)
	}
	// Only the Job launcher and a Lease election need the API (their own
	// cases check the token is mounted then).
	_, launcher := r.roles["fr-freshet-job-launcher"]
	_, lease := r.roles["fr-freshet-leader-election"]
	if !launcher && !lease && (pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken) {
		t.Errorf("the pod mounts a service account token it does not need")
	}
	svc := r.svcs["fr-freshet"]
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("service ports %+v: want target port http", svc.Spec.Ports)
	}
	for k, v := range svc.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("the service's selector %s=%s does not select the pod %v", k, v, podLabels)
		}
	}
	if cm, ok := r.configs[volume(t, r, "config").ConfigMap.Name]; ok {
		checkConfig(t, cm.Data["freshet.yaml"])
	}
}

// checkConfig runs freshet check-config on the rendered freshet.yaml.
func checkConfig(t *testing.T, defs string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "freshet.yaml")
	if err := os.WriteFile(path, []byte(defs), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "", freshetBin(t), "check-config", path)
}

// checkGeneratedToken proves the generated tokens.json is one the real
// server reads: a server on it refuses a request without the token and
// answers one with the admin token's secret.
func checkGeneratedToken(t *testing.T, r rendered) {
	t.Helper()
	secret := string(r.secrets["fr-freshet-admin-token"].Data["token"])
	tokens := r.secrets["fr-freshet-tokens"].Data["tokens.json"]
	var list []struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
		Hash   string   `json:"sha256"`
	}
	if err := json.Unmarshal(tokens, &list); err != nil {
		t.Fatalf("tokens.json %s: %v", tokens, err)
	}
	sum := sha256.Sum256([]byte(secret))
	if len(list) != 1 || list[0].Hash != hex.EncodeToString(sum[:]) || !slices.Equal(list[0].Scopes, []string{"admin"}) || len(secret) < 40 {
		t.Fatalf("tokens.json %s does not hold the admin token's hash", tokens)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokens.json"), tokens, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startFreshet(t, "serve", "--data-dir", dir)
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"fst_wrong", http.StatusUnauthorized}, {secret, http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/api/v1/assets", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /api/v1/assets with token %q: %d, want %d", tc.token, resp.StatusCode, tc.want)
		}
	}
}

func checkServiceMonitor(t *testing.T, r rendered) {
	t.Helper()
	sm := r.raw["ServiceMonitor"]["fr-freshet"]
	if sm["apiVersion"] != "monitoring.coreos.com/v1" {
		t.Errorf("ServiceMonitor apiVersion %v", sm["apiVersion"])
	}
	spec := sm["spec"].(map[string]any)
	labels := sm["metadata"].(map[string]any)["labels"].(map[string]any)
	if labels["release"] != "kube-prometheus" {
		t.Errorf("ServiceMonitor labels %v: want serviceMonitor.labels", labels)
	}
	svcLabels := r.svcs["fr-freshet"].Labels
	for k, v := range spec["selector"].(map[string]any)["matchLabels"].(map[string]any) {
		if svcLabels[k] != v {
			t.Errorf("the ServiceMonitor's selector %s=%v does not select the Service %v", k, v, svcLabels)
		}
	}
	eps := spec["endpoints"].([]any)
	ep := eps[0].(map[string]any)
	if len(eps) != 1 || ep["port"] != "http" || ep["path"] != "/metrics" {
		t.Errorf("endpoints %v: want /metrics on the port http", eps)
	}
}

func checkPrometheusRule(t *testing.T, r rendered) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/prometheus/freshet-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	got := r.raw["PrometheusRule"]["fr-freshet"]["spec"].(map[string]any)
	if !reflect.DeepEqual(got["groups"], want["groups"]) {
		t.Errorf("the PrometheusRule's groups differ from deploy/prometheus/freshet-rules.yml")
	}
}

func TestHelmChartRefuses(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	cases := []struct{ values, want string }{
		{`{auth: {generateAdminToken: false}}`, "auth.insecure=true"},
		{`{clickhouse: {url: "http://clickhouse:8123/freshet"}}`, "clickhouse://"},
		{`{server: {metricsAuth: true}, serviceMonitor: {enabled: true}}`, "bearerTokenSecret"},
		{`{replicaCount: 2}`, "clickhouse.url"},
		{`{replicaCount: 2, clickhouse: {url: "clickhouse://ch:9000/f"}, election: {mode: zookeeper}}`, "election.zookeeper"},
		{`{replicaCount: 2, clickhouse: {url: "clickhouse://ch:9000/f"}, election: {mode: etcd}}`, "election.mode"},
	}
	for _, tc := range cases {
		vals, err := chartutil.ReadValues([]byte(tc.values))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := renderChart(t, ch, vals); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %s: render error %v, want one naming %s", tc.values, err, tc.want)
		}
	}
}

func container(t *testing.T, r rendered) corev1.Container {
	t.Helper()
	cs := r.sts.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "freshet" {
		t.Fatalf("containers %+v: want one named freshet", cs)
	}
	return cs[0]
}

func volume(t *testing.T, r rendered, name string) corev1.Volume {
	t.Helper()
	for _, v := range r.sts.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	for _, v := range r.sts.Spec.VolumeClaimTemplates {
		if v.Name == name {
			return corev1.Volume{Name: name}
		}
	}
	t.Fatalf("no volume named %s", name)
	return corev1.Volume{}
}

func envByName(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func hasPrefix(args []string, prefix string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, prefix) })
}

// TestHelmValuesUsed: every value values.yaml documents is read by a
// template (itself or through a parent passed whole to toYaml), so the
// file documents nothing that does nothing.
func TestHelmValuesUsed(t *testing.T) {
	t.Parallel()
	ch := loadChart(t)
	var templates strings.Builder
	for _, f := range ch.Templates {
		templates.Write(f.Data)
	}
	text := templates.String()
	var walk func(prefix string, v map[string]any)
	walk = func(prefix string, v map[string]any) {
		for k, sub := range v {
			path := prefix + "." + k
			if strings.Contains(text, ".Values"+path+" ") || strings.Contains(text, ".Values"+path+"\n") ||
				strings.Contains(text, ".Values"+path+" }}") || strings.Contains(text, ".Values"+path+")") {
				continue // used whole
			}
			if m, ok := sub.(map[string]any); ok && len(m) > 0 {
				walk(path, m)
				continue
			}
			if !strings.Contains(text, ".Values"+path) {
				t.Errorf("values.yaml: %s is used by no template", strings.TrimPrefix(path, "."))
			}
		}
	}
	walk("", ch.Values)
}
