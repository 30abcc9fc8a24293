package main

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/freshet-dev/freshet/config"
)

// TestKubeOptions: the kubernetes block of freshet.yaml reaches the
// launcher whole: each field where the Job spec takes it from.
func TestKubeOptions(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("k.yaml", []byte(`executor:
  launcher: kubernetes
  kubernetes:
    namespace: jobs
    image: etl:1
    service_account: steps
    image_pull_policy: Always
    delete_propagation: Foreground
    grace: 20s
    node_selector: {pool: etl}
    tolerations:
      - {key: dedicated, value: etl, effect: NoSchedule}
      - {key: gone, operator: Exists, effect: NoExecute, tolerate_for: 2m}
    image_pull_secrets: [regcred]
    resources: {requests: {cpu: 250m}, limits: {memory: 1Gi}}
`))
	if err != nil {
		t.Fatal(err)
	}
	o, err := kubeOptions(defs.Executor.Kubernetes, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	secs := int64(120)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"namespace", o.Namespace, "jobs"},
		{"image", o.Image, "etl:1"},
		{"service account", o.ServiceAccount, "steps"},
		{"pull policy", o.PullPolicy, corev1.PullAlways},
		{"propagation", string(o.Propagation), "Foreground"},
		{"grace", o.Grace, 20 * time.Second},
		{"node selector", o.NodeSelector, map[string]string{"pool": "etl"}},
		{"tolerations", o.Tolerations, []corev1.Toleration{
			{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "etl", Effect: corev1.TaintEffectNoSchedule},
			{Key: "gone", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs},
		}},
		{"pull secrets", o.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}}},
		{"requests", o.Resources.Requests.Cpu().String(), "250m"},
		{"limits", o.Resources.Limits.Memory().String(), "1Gi"},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
