package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/executor/pipes"
)

// maxLineBytes splits longer lines, as the local launcher does.
const maxLineBytes = 64 << 10

// follower finds an attempt's Pod and follows its log through the API
// server (which reads it from the Pod's kubelet) into the LineFunc. Its
// fields other than l, job, out and done are written by run and read
// after run returned.
type follower struct {
	l    *Launcher
	job  string
	out  executor.LineFunc
	done <-chan struct{} // closed when the Job finished or was stopped

	tail executor.TailBuffer
	pod  *corev1.Pod // the last state of the Pod seen
	note string      // why there is no (complete) log, for a line on stderr
}

// run follows the log until it ends. While the Pod has not started it
// looks again whenever a Pod of the Job changes (a watch), or every
// PodPoll if none did; once the Job is done it looks one last time.
func (f *follower) run(ctx context.Context) {
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	changed := f.watchPods(wctx)
	var why error
	final := false
	for {
		pod, err := f.findPod(ctx)
		switch {
		case err != nil:
			why = err
		case pod == nil:
			why = fmt.Errorf("no Pod of Job %s was found (never scheduled, or already deleted)", f.job)
		default:
			f.pod = pod
			if !podStarted(pod) {
				why = fmt.Errorf("its Pod %s never started (phase %s)", pod.Name, pod.Status.Phase)
				break
			}
			lines, err := f.stream(ctx, pod)
			if err == nil {
				f.finish(ctx)
				return
			}
			why = fmt.Errorf("the log of Pod %s cannot be read: %w", pod.Name, err)
			if lines > 0 {
				// Reading again would repeat what was delivered.
				f.note = why.Error() + fmt.Sprintf(" after %d lines", lines)
				f.finish(ctx)
				return
			}
		}
		if final || ctx.Err() != nil {
			f.note = "no output: " + why.Error()
			return
		}
		select {
		case <-f.done:
			final = true
		case <-changed:
		case <-time.After(f.l.opts.PodPoll):
		case <-ctx.Done():
		}
	}
}

// watchPods returns a channel that receives (without blocking the
// watch) when a Pod of the Job is added, changes or goes. A watch the API
// server ends is opened again; one that cannot be opened is tried again
// after PodPoll, the follower polling meanwhile.
func (f *follower) watchPods(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	signal := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	pods := f.l.client.CoreV1().Pods(f.l.opts.Namespace)
	go func() {
		for ctx.Err() == nil {
			w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: jobNameLabel + "=" + f.job})
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(f.l.opts.PodPoll):
				}
				continue
			}
			for range w.ResultChan() {
				signal()
			}
			w.Stop()
		}
	}()
	return ch
}

// finish waits for the Job's end and reads the Pod once more, for its
// container's exit code.
func (f *follower) finish(ctx context.Context) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return
	}
	if pod, err := f.findPod(ctx); err == nil && pod != nil {
		f.pod = pod
	}
}

// findPod returns the newest Pod of the Job, or nil when it has none.
func (f *follower) findPod(ctx context.Context) (*corev1.Pod, error) {
	list, err := f.l.client.CoreV1().Pods(f.l.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: jobNameLabel + "=" + f.job})
	if err != nil {
		return nil, fmt.Errorf("list the Pods of Job %s: %w", f.job, err)
	}
	var newest *corev1.Pod
	for i := range list.Items {
		p := &list.Items[i]
		if newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return newest, nil
}

// podStarted: the Pod's container runs or ran, so it has a log.
func podStarted(p *corev1.Pod) bool {
	if p.Spec.NodeName == "" {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == ContainerName && (cs.State.Running != nil || cs.State.Terminated != nil) {
			return true
		}
	}
	return p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// exitCode is the step container's exit code, when the Pod tells it.
func (f *follower) exitCode() (int, bool) {
	if f.pod == nil {
		return 0, false
	}
	for _, cs := range f.pod.Status.ContainerStatuses {
		if cs.Name == ContainerName && cs.State.Terminated != nil {
			return int(cs.State.Terminated.ExitCode), true
		}
	}
	return 0, false
}

// stream reads the container's log, following it, until it ends; each
// line is stamped with the time the container runtime recorded.
func (f *follower) stream(ctx context.Context, pod *corev1.Pod) (lines int, err error) {
	req := f.l.client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{
		Container: ContainerName, Follow: true, Timestamps: true})
	rc, err := req.Stream(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, maxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			at, text := splitTimestamp(string(bytes.TrimRight(line, "\r\n")))
			if !pipes.LooksLikeMessage(text) {
				f.tail.Add(text) // a Pipes message is no reason for a failure
			}
			f.out(executor.Stdout, at, text)
			lines++
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return lines, nil
		default:
			return lines, err
		}
	}
}

// splitTimestamp takes the RFC 3339 time the API server puts before each
// line (timestamps=true) off the line; a line without one is stamped now.
func splitTimestamp(line string) (time.Time, string) {
	ts, text, ok := strings.Cut(line, " ")
	if ok {
		if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return at, text
		}
	}
	return time.Now(), line
}
