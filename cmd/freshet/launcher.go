package main

import (
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/executor/kube"
)

// newLauncher is where materialize commands run: the definitions file's
// executor block (read once, at start), by default child processes of
// this server.
func newLauncher(defs *config.File, log *slog.Logger) (executor.Launcher, error) {
	if defs == nil || defs.Executor.Kubernetes == nil {
		return stepLauncher(log), nil
	}
	k := defs.Executor.Kubernetes
	opts, err := kubeOptions(k, log)
	if err != nil {
		return nil, err
	}
	client, err := kube.NewClient(k.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("executor.kubernetes: %w", err)
	}
	l, err := kube.New(client, opts)
	if err != nil {
		return nil, fmt.Errorf("executor.kubernetes: %w", err)
	}
	log.Info("steps run as Kubernetes Jobs", "namespace", k.Namespace, "image", k.Image, "instance", k.Instance)
	return l, nil
}

// kubeOptions converts the kubernetes block config checked.
func kubeOptions(k *config.Kubernetes, log *slog.Logger) (kube.Options, error) {
	requests, err := resourceList(k.Requests)
	if err != nil {
		return kube.Options{}, fmt.Errorf("executor.kubernetes.resources.requests: %w", err)
	}
	limits, err := resourceList(k.Limits)
	if err != nil {
		return kube.Options{}, fmt.Errorf("executor.kubernetes.resources.limits: %w", err)
	}
	return kube.Options{
		Namespace: k.Namespace, Image: k.Image, ServiceAccount: k.ServiceAccount,
		PullPolicy: corev1.PullPolicy(k.ImagePullPolicy), Instance: k.Instance,
		Propagation:      metav1.DeletionPropagation(k.DeletePropagation),
		TTLAfterFinished: k.TTLAfterFinished, Grace: k.Grace, Labels: k.Labels,
		NodeSelector: k.NodeSelector, Tolerations: tolerations(k.Tolerations), ImagePullSecrets: pullSecrets(k.ImagePullSecrets),
		Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits},
		Log:       log,
	}, nil
}

// resourceList converts the quantities config checked.
func resourceList(m map[string]string) (corev1.ResourceList, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(corev1.ResourceList, len(m))
	for name, s := range m {
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[corev1.ResourceName(name)] = q
	}
	return out, nil
}

// tolerations converts the tolerations config checked.
func tolerations(ts []config.Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range ts {
		kt := corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value,
			Effect: corev1.TaintEffect(t.Effect)}
		if t.Seconds > 0 {
			kt.TolerationSeconds = &t.Seconds
		}
		out = append(out, kt)
	}
	return out
}

// pullSecrets names the Secrets that pull the step image.
func pullSecrets(names []string) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, n := range names {
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out
}
