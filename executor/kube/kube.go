// Package kube is an executor.Launcher that runs each attempt of each step
// as a Kubernetes Job (docs/executor.md, "Kubernetes").
//
// One attempt is one Job with one Pod (backoffLimit 0: the executor does
// the retries), whose container runs the step's argv in the configured
// image with the step's environment. The launcher watches the Job until
// its Complete or Failed condition, follows the Pod's log through the API
// server and hands its lines to the executor (stdout and stderr come
// mixed, as one stream, stdout), and deletes the Job, with the configured
// propagation, when the attempt is canceled or times out. Jobs carry
// labels naming the run, asset, partition and attempt, so after a restart
// StopOrphans finds the ones a previous process left running.
//
// Dagster Pipes works through the log: the launcher asks the executor for
// the inline context and the stdout message channel (PipesChannels).
package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/executor/pipes"
)

// Labels and annotations on every Job and Pod the launcher makes. Label
// values are limited to 63 characters of [A-Za-z0-9._-], so the asset and
// partition labels are hashes (AssetLabel, PartitionLabel); the
// annotations hold the values as written.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by" // always "freshet"
	LabelInstance  = "freshet.dev/instance"         // Options.Instance
	LabelRun       = "freshet.dev/run"              // the run id (hashed if it does not fit)
	LabelAsset     = "freshet.dev/asset"            // AssetLabel(key)
	LabelPartition = "freshet.dev/partition"        // PartitionLabel(partition); absent without one
	LabelAttempt   = "freshet.dev/attempt"          // 1 for the first try

	AnnotationRun       = "freshet.dev/run"
	AnnotationAsset     = "freshet.dev/asset"
	AnnotationPartition = "freshet.dev/partition"

	managedBy = "freshet"
	// ContainerName is the step's container in the Pod.
	ContainerName = "step"
	// jobNameLabel is the label the Job controller puts on a Job's Pods.
	jobNameLabel = "batch.kubernetes.io/job-name"
)

// Options configure a Launcher. Namespace and Image are required.
type Options struct {
	Namespace      string
	Image          string
	ServiceAccount string // "" leaves the namespace's default
	PullPolicy     corev1.PullPolicy
	Resources      corev1.ResourceRequirements
	// Labels are added to every Job and Pod (they cannot replace the
	// launcher's own).
	Labels map[string]string
	// NodeSelector, Tolerations and ImagePullSecrets go to every step
	// Pod as they are: where it may run, and what pulls its image.
	NodeSelector     map[string]string
	Tolerations      []corev1.Toleration
	ImagePullSecrets []corev1.LocalObjectReference
	// Instance names this Freshet installation in LabelInstance, so two
	// installations sharing a namespace leave each other's Jobs alone;
	// "" means "freshet".
	Instance string
	// Propagation is how a canceled or timed-out Job's Pods are deleted:
	// metav1.DeletePropagationBackground (the default) or Foreground.
	Propagation metav1.DeletionPropagation
	// TTLAfterFinished is how long a finished Job is kept for inspection
	// before Kubernetes deletes it (ttlSecondsAfterFinished); 0 means
	// DefaultTTL.
	TTLAfterFinished time.Duration
	// Grace is the Pod's terminationGracePeriodSeconds: between SIGTERM
	// and SIGKILL when it is deleted; 0 means executor.DefaultGrace.
	Grace time.Duration
	// PodPoll is how often the launcher looks for the attempt's Pod to
	// follow its log when its watch of the Job's Pods tells nothing (a
	// safety net: the watch says when the Pod appears and starts); 0 means
	// 10 seconds.
	PodPoll time.Duration
	// LogWait bounds how long the Pod's log is still read after the Job
	// finished; 0 means 10 seconds.
	LogWait time.Duration
	Log     *slog.Logger
}

// DefaultTTL keeps finished Jobs a day.
const DefaultTTL = 24 * time.Hour

// Rules are the RBAC rules the launcher needs in its namespace, and all
// that it uses: Jobs to create, watch and delete (a cancel, a timeout,
// StopOrphans), their Pods to watch for and read the log of. The Helm chart's
// Role (jobLauncher.enabled) grants exactly these; deploy/validate checks.
func Rules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create", "get", "list", "watch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	}
}

// Launcher runs attempts as Jobs. It is safe for concurrent use.
type Launcher struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
}

var _ executor.Launcher = (*Launcher)(nil)

// New returns a Launcher that makes its Jobs through client.
func New(client kubernetes.Interface, opts Options) (*Launcher, error) {
	if client == nil {
		return nil, errors.New("kube launcher: no client")
	}
	if opts.Namespace == "" {
		return nil, errors.New("kube launcher: namespace is required")
	}
	if opts.Image == "" {
		return nil, errors.New("kube launcher: image is required")
	}
	if opts.Instance == "" {
		opts.Instance = "freshet"
	}
	if msgs := validation.IsValidLabelValue(opts.Instance); len(msgs) > 0 {
		return nil, fmt.Errorf("kube launcher: instance %q: %s", opts.Instance, strings.Join(msgs, "; "))
	}
	switch opts.Propagation {
	case "":
		opts.Propagation = metav1.DeletePropagationBackground
	case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
	default:
		return nil, fmt.Errorf("kube launcher: propagation %q: want Background or Foreground (Orphan would leave the Pods running)", opts.Propagation)
	}
	if opts.TTLAfterFinished <= 0 {
		opts.TTLAfterFinished = DefaultTTL
	}
	if opts.Grace <= 0 {
		opts.Grace = executor.DefaultGrace
	}
	if opts.PodPoll <= 0 {
		opts.PodPoll = 10 * time.Second
	}
	if opts.LogWait <= 0 {
		opts.LogWait = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Launcher{client: client, opts: opts, log: opts.Log}, nil
}

// PipesChannels tells the executor how this launcher's children speak
// Dagster Pipes: they do not share this machine's files, so the context
// goes inline in the environment and messages come back among the log's
// lines.
func (l *Launcher) PipesChannels() (pipes.ContextMode, pipes.Channel) {
	return pipes.ContextEnv, pipes.ChannelStdout
}

// AssetLabel is the LabelAsset value of key: a hash, since keys may be
// longer than a label value or hold characters one cannot.
func AssetLabel(key asset.Key) string { return hashLabel(string(key)) }

// PartitionLabel is the LabelPartition value of a partition.
func PartitionLabel(partition string) string { return hashLabel(partition) }

// RunLabel is the LabelRun value of a run id: the id itself when it is a
// valid label value, else a hash.
func RunLabel(runID string) string {
	if len(validation.IsValidLabelValue(runID)) == 0 {
		return runID
	}
	return hashLabel(runID)
}

func hashLabel(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:16])
}

// selector is the label selector of one step's Jobs: every attempt of
// key in run.
func (l *Launcher) selector(runID string, key asset.Key) string {
	return fmt.Sprintf("%s=%s,%s=%s,%s=%s,%s=%s", LabelManagedBy, managedBy, LabelInstance, l.opts.Instance,
		LabelRun, RunLabel(runID), LabelAsset, AssetLabel(key))
}

// jobSpec is the Job of one attempt.
func (l *Launcher) jobSpec(job executor.Job) (*batchv1.Job, error) {
	env := make([]corev1.EnvVar, 0, len(job.Env))
	for _, kv := range job.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("environment entry without NAME=: %q", envName(kv))
		}
		env = append(env, corev1.EnvVar{Name: name, Value: value})
	}
	labels := maps.Clone(l.opts.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = managedBy
	labels[LabelInstance] = l.opts.Instance
	labels[LabelRun] = RunLabel(job.RunID)
	labels[LabelAsset] = AssetLabel(job.Asset)
	labels[LabelAttempt] = strconv.Itoa(job.Attempt)
	annotations := map[string]string{AnnotationRun: job.RunID, AnnotationAsset: string(job.Asset)}
	if job.Partition != "" {
		labels[LabelPartition] = PartitionLabel(job.Partition)
		annotations[AnnotationPartition] = job.Partition
	}
	var deadline *int64
	if job.Timeout > 0 {
		// Kubernetes ends the Pod itself at the deadline, even if this
		// server is gone by then; the launcher's own timer ends the
		// attempt at job.Timeout either way.
		d := int64((job.Timeout + time.Second - 1) / time.Second)
		deadline = &d
	}
	ttl := int32(min(l.opts.TTLAfterFinished/time.Second, 1<<31-1))
	grace := int64(l.opts.Grace / time.Second)
	backoff := int32(0)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: jobPrefix(job.Asset),
			Namespace:    l.opts.Namespace,
			Labels:       labels,
			Annotations:  annotations,
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            &backoff,
			ActiveDeadlineSeconds:   deadline,
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels), Annotations: maps.Clone(annotations)},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					ServiceAccountName:            l.opts.ServiceAccount,
					TerminationGracePeriodSeconds: &grace,
					NodeSelector:                  maps.Clone(l.opts.NodeSelector),
					Tolerations:                   slices.Clone(l.opts.Tolerations),
					ImagePullSecrets:              slices.Clone(l.opts.ImagePullSecrets),
					Containers: []corev1.Container{{
						Name:            ContainerName,
						Image:           l.opts.Image,
						ImagePullPolicy: l.opts.PullPolicy,
						Command:         job.Argv,
						WorkingDir:      job.Dir,
						Env:             env,
						Resources:       l.opts.Resources,
					}},
				},
			},
		},
	}, nil
}

// jobPrefix is a readable GenerateName: freshet-, then the asset key in
// DNS-label characters, cut so the generated name stays within 63.
func jobPrefix(key asset.Key) string {
	var b strings.Builder
	b.WriteString("freshet-")
	dash := true
	for _, r := range strings.ToLower(string(key)) {
		if b.Len() >= 40 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := b.String()
	if !strings.HasSuffix(s, "-") {
		s += "-"
	}
	return s
}

// envName is the name part of an environment entry, for messages that
// must not show values.
func envName(kv string) string {
	name, _, _ := strings.Cut(kv, "=")
	return name
}

// finished returns the Job's final condition (Complete or Failed), or nil
// while it runs.
func finished(j *batchv1.Job) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		c := &j.Status.Conditions[i]
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			return c
		}
	}
	return nil
}

// startError tells a Create refused for a reason retrying cannot mend (an
// invalid spec, missing rights or namespace) from a passing failure.
func startError(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsNotFound(err) || apierrors.IsUnauthorized(err)
}

// canceledErr is the error of an attempt stopped because ctx ended.
func canceledErr(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("canceled: %w: %w", context.Canceled, cause)
	}
	return fmt.Errorf("canceled: %w", context.Canceled)
}
