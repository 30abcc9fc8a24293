package config

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestExecutorBlock(t *testing.T) {
	t.Parallel()
	f, err := Parse("ok.yaml", []byte(`executor:
  launcher: kubernetes
  kubernetes:
    namespace: data-jobs
    image: ghcr.io/acme/etl:1.4
    service_account: etl-steps
    image_pull_policy: IfNotPresent
    kubeconfig: /etc/freshet/kubeconfig
    instance: prod
    delete_propagation: Foreground
    ttl_after_finished: 2h
    grace: 30s
    labels: {team: data, example.com/cost-center: "42"}
    node_selector: {pool: etl, kubernetes.io/arch: amd64}
    tolerations:
      - {key: dedicated, value: etl, effect: NoSchedule}
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerate_for: 5m}
      - {operator: Exists}
    image_pull_secrets: [regcred, other.registry]
    resources:
      requests: {cpu: 500m, memory: 512Mi}
      limits: {memory: 2Gi, cpu: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	k := f.Executor.Kubernetes
	if f.Executor.Launcher != LauncherKubernetes || k == nil {
		t.Fatalf("executor %+v", f.Executor)
	}
	want := Kubernetes{Namespace: "data-jobs", Image: "ghcr.io/acme/etl:1.4", ServiceAccount: "etl-steps", ImagePullPolicy: "IfNotPresent",
		Kubeconfig: "/etc/freshet/kubeconfig", Instance: "prod", DeletePropagation: "Foreground", TTLAfterFinished: 2 * time.Hour, Grace: 30 * time.Second}
	got := *k
	got.Labels, got.Requests, got.Limits, got.NodeSelector, got.Tolerations, got.ImagePullSecrets = nil, nil, nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if !maps.Equal(k.Labels, map[string]string{"team": "data", "example.com/cost-center": "42"}) ||
		!maps.Equal(k.Requests, map[string]string{"cpu": "500m", "memory": "512Mi"}) ||
		!maps.Equal(k.Limits, map[string]string{"memory": "2Gi", "cpu": "2"}) {
		t.Errorf("labels %v requests %v limits %v", k.Labels, k.Requests, k.Limits)
	}
	wantTolerations := []Toleration{
		{Key: "dedicated", Operator: "Equal", Value: "etl", Effect: "NoSchedule"},
		{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", Seconds: 300},
		{Operator: "Exists"},
	}
	if !maps.Equal(k.NodeSelector, map[string]string{"pool": "etl", "kubernetes.io/arch": "amd64"}) ||
		!reflect.DeepEqual(k.Tolerations, wantTolerations) || !reflect.DeepEqual(k.ImagePullSecrets, []string{"regcred", "other.registry"}) {
		t.Errorf("node selector %v tolerations %+v pull secrets %v", k.NodeSelector, k.Tolerations, k.ImagePullSecrets)
	}

	for _, src := range []string{"assets: []\n", "executor: {launcher: local}\n", "executor: {}\n"} {
		f, err := Parse("local.yaml", []byte(src))
		if err != nil || f.Executor.Launcher != LauncherLocal || f.Executor.Kubernetes != nil {
			t.Errorf("%q: %+v, %v; want the local launcher", src, f.Executor, err)
		}
	}
}

func TestExecutorBlockProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, field, msg string
	}{
		{"unknown launcher", "executor: {launcher: docker}", "executor.launcher", `unknown launcher "docker"`},
		{"kubernetes without block", "executor: {launcher: kubernetes}", "executor.kubernetes", "needs a kubernetes block"},
		{"block without launcher", "executor: {kubernetes: {namespace: a, image: b}}", "executor.kubernetes", "launcher is local"},
		{"no namespace", "executor: {launcher: kubernetes, kubernetes: {image: b}}", "executor.kubernetes.namespace", "namespace is required"},
		{"no image", "executor: {launcher: kubernetes, kubernetes: {namespace: a}}", "executor.kubernetes.image", "image is required"},
		{"bad namespace", "executor: {launcher: kubernetes, kubernetes: {namespace: Data_Jobs, image: b}}", "executor.kubernetes.namespace", `invalid name "Data_Jobs"`},
		{"image with space", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: 'a b'}}", "executor.kubernetes.image", "no white space"},
		{"bad service account", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, service_account: 'x y'}}", "executor.kubernetes.service_account", "invalid name"},
		{"bad pull policy", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, image_pull_policy: sometimes}}", "executor.kubernetes.image_pull_policy", "want one of Always, IfNotPresent, Never"},
		{"orphan propagation", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, delete_propagation: Orphan}}", "executor.kubernetes.delete_propagation", "want one of Background, Foreground"},
		{"bad instance", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, instance: 'no spaces'}}", "executor.kubernetes.instance", "must be a label value"},
		{"short ttl", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, ttl_after_finished: 10ms}}", "executor.kubernetes.ttl_after_finished", "at least 1s"},
		{"bad grace", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, grace: soon}}", "executor.kubernetes.grace", ""},
		{"reserved label", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, labels: {freshet.dev/run: x}}}", "executor.kubernetes.labels.freshet.dev/run", "set by Freshet"},
		{"bad label value", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, labels: {team: 'a b'}}}", "executor.kubernetes.labels.team", "invalid label value"},
		{"bad quantity", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, resources: {limits: {memory: lots}}}}", "executor.kubernetes.resources.limits.memory", `invalid quantity "lots"`},
		{"negative quantity", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, resources: {requests: {cpu: -1}}}}", "executor.kubernetes.resources.requests.cpu", "must not be negative"},
		{"unknown resources field", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, resources: {request: {cpu: 1}}}}", "executor.kubernetes.resources.request", ""},
		{"unknown field", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, nodeSelector: {}}}", "executor.kubernetes.nodeSelector", ""},
		{"bad node label", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, node_selector: {pool: 'a b'}}}", "executor.kubernetes.node_selector.pool", "invalid node label value"},
		{"tolerations not a list", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: {key: x}}}", "executor.kubernetes.tolerations", "expected a list"},
		{"unknown toleration field", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: [{key: x, tolerationSeconds: 3}]}}", "executor.kubernetes.tolerations[0].tolerationSeconds", ""},
		{"bad operator", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: [{key: x, operator: In}]}}", "executor.kubernetes.tolerations[0].operator", "want one of Equal, Exists"},
		{"bad effect", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: [{key: x, effect: Evict}]}}", "executor.kubernetes.tolerations[0].effect", "want one of NoSchedule, PreferNoSchedule, NoExecute"},
		{"equal without key", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: [{value: x}]}}", "executor.kubernetes.tolerations[0].key", "needs a key"},
		{"exists with value", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: [{key: x, operator: Exists, value: y}]}}", "executor.kubernetes.tolerations[0].value", "takes no value"},
		{"bad taint key", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: [{key: 'a b'}]}}", "executor.kubernetes.tolerations[0].key", "invalid taint key"},
		{"tolerate_for without NoExecute", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: [{key: x, effect: NoSchedule, tolerate_for: 1m}]}}", "executor.kubernetes.tolerations[0].tolerate_for", "only for effect NoExecute"},
		{"tolerate_for fraction", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, tolerations: [{key: x, effect: NoExecute, tolerate_for: 1500ms}]}}", "executor.kubernetes.tolerations[0].tolerate_for", "whole seconds"},
		{"bad pull secret", "executor: {launcher: kubernetes, kubernetes: {namespace: a, image: b, image_pull_secrets: [Reg_Cred]}}", "executor.kubernetes.image_pull_secrets[0]", "invalid name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("bad.yaml", []byte(c.yaml+"\n"))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems", err)
			}
			for _, p := range ps {
				if p.Field == c.field && strings.Contains(p.Message, c.msg) {
					return
				}
			}
			t.Errorf("no problem at %s containing %q in:\n%v", c.field, c.msg, err)
		})
	}
}
