package kube_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/executor/kube"
	"github.com/freshet-dev/freshet/internal/kubetest"
)

// TestLaunchOverhead measures what one step costs the launcher on a real
// API server, against baselines measured in the same run: a bare
// client-go ConfigMap create+get (two round trips, the floor of any
// launch), and a bare client-go Job create followed by a watch until the
// Job is Complete (what any Job launcher must do). A goroutine plays the
// Job controller: it marks each new Job Complete as soon as it sees it.
// It prints the medians; it fails only if a launch fails.
func TestLaunchOverhead(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctrlDone := make(chan error, 1)
	go func() { ctrlDone <- e.completeJobs(ctx) }()
	l := e.launcher(t, kube.Options{})

	const rounds = 15
	var launch, bareJob, configMap []time.Duration
	for i := range rounds {
		j := job(t)
		j.RunID = fmt.Sprintf("overhead-%d", i)
		j.Timeout = deadline // a lost status update fails the round instead of hanging
		start := time.Now()
		o := l.Launch(ctx, j, func(executor.Stream, time.Time, string) {})
		launch = append(launch, time.Since(start))
		if o.Err != nil {
			t.Fatalf("round %d: %v", i, o.Err)
		}

		start = time.Now()
		if err := e.bareJob(ctx, i); err != nil {
			t.Fatalf("round %d: bare Job: %v", i, err)
		}
		bareJob = append(bareJob, time.Since(start))

		start = time.Now()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("baseline-%d", i)}, Data: map[string]string{"k": "v"}}
		if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Get(ctx, cm.Name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		configMap = append(configMap, time.Since(start))
	}
	cancel()
	if err := <-ctrlDone; err != nil {
		t.Fatal(err)
	}
	ml, mb, mc := median(launch), median(bareJob), median(configMap)
	c := kubetest.Shared(t)
	t.Logf("kube-apiserver %s: etcd + apiserver ready in %s", c.Version, c.StartTime.Round(time.Millisecond))
	t.Logf("launch overhead, median of %d: launcher %s per step (create Job -> Complete seen -> Outcome); "+
		"bare client-go Job create+watch %s (launcher/bare %.2f); ConfigMap create+get %s (launcher/ConfigMap %.2f)",
		rounds, ml.Round(10*time.Microsecond), mb.Round(10*time.Microsecond), float64(ml)/float64(mb),
		mc.Round(10*time.Microsecond), float64(ml)/float64(mc))
}

// bareJob creates a Job with client-go and watches it until Complete.
func (e env) bareJob(ctx context.Context, i int) error {
	jobs := e.cs.BatchV1().Jobs(e.ns)
	backoff := int32(0)
	j, err := jobs.Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bare-%d", i), Labels: map[string]string{"bare": "yes"}},
		Spec: batchv1.JobSpec{BackoffLimit: &backoff, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	w, err := jobs.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + j.Name, ResourceVersion: j.ResourceVersion})
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if cur, ok := ev.Object.(*batchv1.Job); ok && slices.ContainsFunc(cur.Status.Conditions, func(c batchv1.JobCondition) bool {
			return c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue
		}) {
			return nil
		}
	}
	return fmt.Errorf("watch of %s closed", j.Name)
}

// completeJobs plays the Job controller for TestLaunchOverhead: every Job
// created in the namespace is marked Complete at once.
func (e env) completeJobs(ctx context.Context) error {
	w, err := e.cs.BatchV1().Jobs(e.ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("the controller's watch closed")
			}
			if ev.Type != watch.Added {
				continue
			}
			j := ev.Object.(*batchv1.Job)
			now := metav1.Now()
			j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = &now, &now, 1
			j.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}
			if _, err := e.cs.BatchV1().Jobs(e.ns).UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && ctx.Err() == nil {
				return fmt.Errorf("complete %s: %w", j.Name, err)
			}
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
