package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/freshet-dev/freshet/internal/kubetest"
)

// crdDir holds the prometheus-operator CRDs the chart's ServiceMonitor and
// PrometheusRule need (vendored, with their licence: README.md there).
const crdDir = "deploy/validate/testdata/prometheus-operator"

// jobsNamespace is where the "everything" render puts the launcher's Jobs.
const jobsNamespace = "freshet-jobs"

// TestHelmChartServerDryRun sends every object of the rendered chart to a
// real kube-apiserver (internal/kubetest: etcd and kube-apiserver, which
// scripts/ensure-kube-apiserver.sh installs) as a server-side dry run with
// strict field validation: the API server's own validation, defaulting and
// admission see each object, CRD kinds included, and nothing is stored.
func TestHelmChartServerDryRun(t *testing.T) {
	t.Parallel()
	c := kubetest.Shared(t)
	t.Logf("kube-apiserver %s: etcd + apiserver ready in %s", c.Version, c.StartTime.Round(time.Millisecond))
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	installCRDs(t, ctx, dyn, cfg)
	mapper := restMapper(t, cfg)
	for _, ns := range []string{namespace, jobsNamespace} {
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	tokensJSON := `[{"name":"ci","scopes":["ingest"],"sha256":"` + strings.Repeat("ab", 32) + `","created":"2026-01-01T00:00:00Z"}]`
	cases := []struct {
		name, values string
		kinds        []string // each must be among the objects sent
	}{
		{"defaults", ``, []string{"StatefulSet", "Service", "ConfigMap", "Secret", "ServiceAccount"}},
		{"everything", `
clickhouse: {url: "clickhouse://freshet:s3cret@clickhouse.db:9000/freshet"}
serviceMonitor: {enabled: true, labels: {release: kube-prometheus}}
prometheusRule: {enabled: true}
auth: {tokens: '` + tokensJSON + `'}
secretEnv: {PD_ROUTING_KEY: abc}
env: {OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318"}
persistence: {enabled: false}
jobLauncher: {enabled: true, namespace: ` + jobsNamespace + `, stepServiceAccount: {create: true}}
`, []string{"ServiceMonitor", "PrometheusRule", "Role", "RoleBinding"}},
		{"three replicas, a Lease", `{replicaCount: 3, clickhouse: {url: "clickhouse://ch:9000/freshet"}}`, []string{"StatefulSet", "Role", "RoleBinding"}},
	}
	ch := loadChart(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := chartutil.ReadValues([]byte(tc.values))
			if err != nil {
				t.Fatal(err)
			}
			files, err := renderChart(t, ch, vals)
			if err != nil {
				t.Fatal(err)
			}
			sent := map[string]int{}
			for name, content := range files {
				if !strings.HasSuffix(name, ".yaml") {
					continue
				}
				for _, doc := range releaseutil.SplitManifests(content) {
					if strings.TrimSpace(doc) == "" {
						continue
					}
					obj := &unstructured.Unstructured{}
					if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if err := dryRun(ctx, dyn, mapper, obj); err != nil {
						t.Errorf("%s: %s %s refused by the API server: %v", name, obj.GetKind(), obj.GetName(), err)
					}
					sent[obj.GetKind()]++
				}
			}
			for _, k := range tc.kinds {
				if sent[k] == 0 {
					t.Errorf("no %s was sent (sent %v)", k, sent)
				}
			}
			t.Logf("%d kinds, %v, passed a server-side dry run", len(sent), sent)
		})
	}

	// The dry run is strict: a misspelt field in a CRD kind is refused, so
	// a pass above means the objects match the schemas.
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
		"metadata": map[string]any{"name": "typo", "namespace": namespace},
		"spec":     map[string]any{"selector": map[string]any{}, "endpoint": []any{map[string]any{"port": "http"}}},
	}}
	if err := dryRun(ctx, dyn, mapper, bad); err == nil || !strings.Contains(err.Error(), "endpoint") {
		t.Errorf("a ServiceMonitor with spec.endpoint (for endpoints): %v, want it refused naming the field", err)
	}
}

// dryRun creates obj with dryRun=All and strict field validation, in its
// namespace or the release's.
func dryRun(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict}
	if m.Scope.Name() == meta.RESTScopeNameRoot {
		_, err = dyn.Resource(m.Resource).Create(ctx, obj, opts)
		return err
	}
	ns := obj.GetNamespace()
	if ns == "" {
		ns = namespace
	}
	_, err = dyn.Resource(m.Resource).Namespace(ns).Create(ctx, obj, opts)
	return err
}

// installCRDs creates the vendored CRDs and waits until they are
// established (served).
func installCRDs(t *testing.T, ctx context.Context, dyn dynamic.Interface, cfg *rest.Config) {
	t.Helper()
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	paths, err := filepath.Glob(filepath.Join(repoRoot(t), crdDir, "*.yaml"))
	if err != nil || len(paths) != 2 {
		t.Fatalf("CRDs in %s: %v, %v; want the ServiceMonitor and PrometheusRule ones", crdDir, paths, err)
	}
	var names []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		_, err = dyn.Resource(gvr).Create(ctx, obj, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("install CRD %s: %v", filepath.Base(p), err)
		}
		names = append(names, obj.GetName())
	}
	end := time.Now().Add(time.Minute)
	for _, name := range names {
		for {
			crd, err := dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if established(crd) {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("CRD %s not established within a minute", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// restMapper maps kinds to resources from the server's discovery, read
// after the CRDs are served.
func restMapper(t *testing.T, cfg *rest.Config) meta.RESTMapper {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(time.Minute)
	for {
		groups, err := restmapper.GetAPIGroupResources(dc)
		if err == nil {
			m := restmapper.NewDiscoveryRESTMapper(groups)
			if _, err = m.RESTMapping(schema.GroupKind{Group: "monitoring.coreos.com", Kind: "PrometheusRule"}, "v1"); err == nil {
				return m
			}
		}
		if time.Now().After(end) {
			t.Fatalf("discovery does not list the CRDs' kinds within a minute: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
