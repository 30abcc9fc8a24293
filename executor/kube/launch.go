package kube

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
)

// errJobGone: the Job was deleted (by a person or by another process)
// before it finished.
var errJobGone = errors.New("its Job was deleted before it finished")

// stopReason is why wait returned before the Job finished.
type stopReason int

const (
	stopNone stopReason = iota
	stopCanceled
	stopTimeout
)

// Launch creates the attempt's Job, follows its Pod's log into out and
// waits for the Job to finish; a cancel or timeout deletes the Job. A Job
// that Kubernetes refuses (invalid, forbidden, no such namespace) is a
// *executor.StartError; one that fails is an *executor.ExitError with the
// container's exit code when its Pod tells it.
func (l *Launcher) Launch(ctx context.Context, job executor.Job, out executor.LineFunc) executor.Outcome {
	log := l.log.With("run_id", job.RunID, "asset", string(job.Asset), "attempt", job.Attempt)
	if len(job.Argv) == 0 || job.Argv[0] == "" {
		return executor.Outcome{Err: &executor.StartError{Err: errors.New("empty argv")}}
	}
	if ctx.Err() != nil {
		return executor.Outcome{Err: canceledErr(ctx)}
	}
	spec, err := l.jobSpec(job)
	if err != nil {
		return executor.Outcome{Err: &executor.StartError{Err: err}}
	}
	jobs := l.client.BatchV1().Jobs(l.opts.Namespace)
	created, err := jobs.Create(ctx, spec, metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() != nil {
			// The request may have reached the API server before the
			// cancel: a Job made then must not run unwatched.
			l.deleteAttempt(job, log)
			return executor.Outcome{Err: canceledErr(ctx)}
		}
		log.Info("step did not start: the Job was refused", "error", err)
		if startError(err) {
			return executor.Outcome{Err: &executor.StartError{Err: fmt.Errorf("create Job in namespace %s: %w", l.opts.Namespace, err)}}
		}
		return executor.Outcome{Err: fmt.Errorf("create Job in namespace %s: %w", l.opts.Namespace, err)}
	}
	started := time.Now()
	name := created.Name
	log = log.With("job", name)
	log.Debug("job created", "namespace", l.opts.Namespace, "env", envNames(job.Env))
	if job.OnStart != nil {
		job.OnStart(executor.Process{}) // it runs elsewhere: no pid here
	}

	// The log follower runs until the Pod's log ends, or LogWait after
	// the Job finished; its context is not the run's, so what a canceled
	// step wrote before its Pod went is still read.
	logCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLogs()
	jobDone := make(chan struct{})
	f := &follower{l: l, job: name, out: out, done: jobDone}
	logsDone := make(chan struct{})
	go func() { defer close(logsDone); f.run(logCtx) }()

	var timeout <-chan time.Time
	if job.Timeout > 0 {
		t := time.NewTimer(job.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	final, stop, waitErr := l.wait(ctx, created, timeout)
	if stop != stopNone {
		l.deleteJob(name, log)
	}
	close(jobDone)
	select {
	case <-logsDone:
	case <-time.After(l.opts.LogWait):
		log.Warn("the Pod's log still open after its Job ended; no longer read", "wait", l.opts.LogWait)
		stopLogs()
		<-logsDone
	}
	if f.note != "" {
		out(executor.Stderr, time.Now(), "freshet: "+f.note)
	}
	o := executor.Outcome{Started: started, Ended: time.Now()}
	switch {
	case stop == stopCanceled:
		o.Err = canceledErr(ctx)
	case stop == stopTimeout:
		o.Err = &executor.TimeoutError{After: job.Timeout, Stderr: f.tail.String()}
	case waitErr != nil:
		o.Err = waitErr
	default:
		o.Err = l.jobError(final, f)
	}
	log.Debug("step ended", "duration", o.Duration(), "error", o.Err)
	return o
}

// jobError is the Outcome error of a finished Job: nil when Complete.
func (l *Launcher) jobError(j *batchv1.Job, f *follower) error {
	c := finished(j)
	if c == nil || c.Type == batchv1.JobComplete {
		return nil
	}
	if c.Reason == batchv1.JobReasonDeadlineExceeded {
		var after time.Duration
		if d := j.Spec.ActiveDeadlineSeconds; d != nil {
			after = time.Duration(*d) * time.Second
		}
		return &executor.TimeoutError{After: after, Stderr: f.tail.String()}
	}
	if code, ok := f.exitCode(); ok {
		return &executor.ExitError{Code: code, Stderr: f.tail.String()}
	}
	why := c.Reason
	if c.Message != "" {
		why += ": " + c.Message
	}
	if t := f.tail.String(); t != "" {
		why += "; output: " + t
	}
	return fmt.Errorf("job %s failed: %s", j.Name, why)
}

// wait watches the Job until it finishes, ctx ends or timeout fires. A
// watch that closes (the API server ends them every few minutes) or
// expires is opened again from a fresh read; a passing API error is
// retried every second.
func (l *Launcher) wait(ctx context.Context, j *batchv1.Job, timeout <-chan time.Time) (*batchv1.Job, stopReason, error) {
	jobs := l.client.BatchV1().Jobs(l.opts.Namespace)
	name, rv := j.Name, j.ResourceVersion
	for {
		if finished(j) != nil {
			return j, stopNone, nil
		}
		w, err := jobs.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: rv, AllowWatchBookmarks: true})
		if err == nil {
			var reread bool
			j, rv, reread, err = l.watchJob(ctx, w, j, rv, timeout)
			w.Stop()
			switch {
			case errors.Is(err, errStopCanceled):
				return j, stopCanceled, nil
			case errors.Is(err, errStopTimeout):
				return j, stopTimeout, nil
			case err != nil:
				return j, stopNone, err
			case !reread:
				continue
			}
		} else {
			l.log.Debug("watch job", "job", name, "error", err)
		}
		// Re-read the Job: after a failed or expired watch.
		select {
		case <-ctx.Done():
			return j, stopCanceled, nil
		case <-timeout:
			return j, stopTimeout, nil
		case <-time.After(time.Second):
		}
		cur, err := jobs.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return j, stopNone, fmt.Errorf("job %s: %w", name, errJobGone)
		case err == nil:
			j, rv = cur, cur.ResourceVersion
		}
	}
}

var (
	errStopCanceled = errors.New("canceled")
	errStopTimeout  = errors.New("timed out")
)

// watchJob reads one watch until the Job finishes (err nil, reread
// false), the watch must be reopened from a fresh read (reread true) or
// the attempt must stop.
func (l *Launcher) watchJob(ctx context.Context, w watch.Interface, j *batchv1.Job, rv string, timeout <-chan time.Time) (_ *batchv1.Job, _ string, reread bool, _ error) {
	for {
		select {
		case <-ctx.Done():
			return j, rv, false, errStopCanceled
		case <-timeout:
			return j, rv, false, errStopTimeout
		case ev, ok := <-w.ResultChan():
			if !ok {
				return j, rv, false, nil // closed: reopen from rv
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if cur, ok := ev.Object.(*batchv1.Job); ok {
					j, rv = cur, cur.ResourceVersion
					if finished(j) != nil {
						return j, rv, false, nil
					}
				}
			case watch.Bookmark:
				if cur, ok := ev.Object.(*batchv1.Job); ok {
					rv = cur.ResourceVersion
				}
			case watch.Deleted:
				return j, rv, false, fmt.Errorf("job %s: %w", j.Name, errJobGone)
			case watch.Error:
				// Usually 410 Gone: rv is too old to watch from.
				l.log.Debug("watch job", "job", j.Name, "error", apierrors.FromObject(ev.Object))
				return j, rv, true, nil
			}
		}
	}
}

// deleteJob deletes a Job and, with the configured propagation, its Pods
// (the Pod gets its grace period between SIGTERM and SIGKILL). It runs
// even when the attempt's context is over: a canceled step must not
// leave its Pod running.
func (l *Launcher) deleteJob(name string, log interface{ Warn(string, ...any) }) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prop := l.opts.Propagation
	err := l.client.BatchV1().Jobs(l.opts.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &prop})
	if err != nil && !apierrors.IsNotFound(err) {
		log.Warn("delete the Job of a stopped step", "job", name, "error", err)
	}
}

// deleteAttempt deletes the Jobs of one attempt, found by label: for a
// Create whose answer was lost to a cancel.
func (l *Launcher) deleteAttempt(job executor.Job, log interface{ Warn(string, ...any) }) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sel := l.selector(job.RunID, job.Asset) + "," + LabelAttempt + "=" + strconv.Itoa(job.Attempt)
	list, err := l.client.BatchV1().Jobs(l.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		log.Warn("look for the Job of a canceled step", "error", err)
		return
	}
	for i := range list.Items {
		l.deleteJob(list.Items[i].Name, log)
	}
}

// StopOrphans deletes the Jobs still running for key in run, which a
// previous Freshet process started and cannot follow any more: it finds
// them by label (LabelRun, LabelAsset, and this installation's
// LabelInstance) and deletes them with the configured propagation.
// Finished Jobs are left to their TTL. It returns how many it deleted.
func (l *Launcher) StopOrphans(ctx context.Context, runID string, key asset.Key) (int, error) {
	jobs := l.client.BatchV1().Jobs(l.opts.Namespace)
	list, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: l.selector(runID, key)})
	if err != nil {
		return 0, fmt.Errorf("list Jobs of run %s step %s: %w", runID, key, err)
	}
	n := 0
	prop := l.opts.Propagation
	var errs []error
	for i := range list.Items {
		j := &list.Items[i]
		if finished(j) != nil || j.DeletionTimestamp != nil {
			continue
		}
		err := jobs.Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &prop,
			Preconditions: &metav1.Preconditions{UID: &j.UID}})
		switch {
		case err == nil:
			n++
			l.log.Info("deleted the Job a previous process left running", "job", j.Name, "run_id", runID, "asset", string(key))
		case !apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("delete Job %s: %w", j.Name, err))
		}
	}
	return n, errors.Join(errs...)
}

// envNames lists the names of env entries, never their values.
func envNames(env []string) []string {
	out := make([]string, len(env))
	for i, kv := range env {
		out[i] = envName(kv)
	}
	return out
}
