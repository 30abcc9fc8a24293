package kube_test

// These tests run the launcher against a real kube-apiserver and etcd
// (internal/kubetest). There is no kubelet, scheduler or controller
// manager: a Job gets no Pod and no status unless the test gives them, as
// a Job controller and a kubelet would. Pod logs go through the API
// server's real log path to a fake kubelet the test serves over TLS.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/executor/kube"
	"github.com/freshet-dev/freshet/executor/launchertest"
	"github.com/freshet-dev/freshet/internal/kubetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := kubetest.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if build.bin != "" {
		os.RemoveAll(filepath.Dir(build.bin))
	}
	os.Exit(code)
}

// deadline bounds every wait; the CI machine is slow and busy.
const deadline = 60 * time.Second

type env struct {
	cs kubernetes.Interface
	ns string
}

// newEnv connects to the shared control plane and makes a namespace (and
// its default service account, which no controller makes here) for one
// test.
func newEnv(t *testing.T) env {
	t.Helper()
	c := kubetest.Shared(t)
	cs, err := kube.NewClient(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "t-" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return env{cs: cs, ns: ns}
}

func (e env) launcher(t *testing.T, opts kube.Options) *kube.Launcher {
	t.Helper()
	opts.Namespace = e.ns
	if opts.Image == "" {
		opts.Image = "busybox:1.37"
	}
	// Long: the Pod watch, not the safety-net poll, must bring the log
	// while the step runs (TestFailedJobLogsAndExitCode waits for it).
	opts.PodPoll = 5 * time.Minute
	opts.LogWait = 5 * time.Second
	l, err := kube.New(e.cs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// launched is a Launch running in the background.
type launched struct {
	done    chan executor.Outcome
	lines   *launchertest.Lines
	started atomic.Bool
}

func start(ctx context.Context, l *kube.Launcher, j executor.Job) *launched {
	r := &launched{done: make(chan executor.Outcome, 1), lines: launchertest.NewLines()}
	j.OnStart = func(executor.Process) { r.started.Store(true) }
	go func() { r.done <- l.Launch(ctx, j, r.lines.Func) }()
	return r
}

func (r *launched) wait(t *testing.T) executor.Outcome {
	t.Helper()
	select {
	case o := <-r.done:
		return o
	case <-time.After(deadline):
		t.Fatalf("Launch did not return within %s", deadline)
		return executor.Outcome{}
	}
}

// job is a step attempt; its run id is unique to the test.
func job(t *testing.T) executor.Job {
	return executor.Job{RunID: "run-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), Asset: "warehouse/orders", Attempt: 1,
		Argv: []string{"sh", "-c", "echo hello"}}
}

// waitJob polls until the namespace has a Job matching selector and
// returns it.
func (e env) waitJob(t *testing.T, selector string) *batchv1.Job {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		list, err := e.cs.BatchV1().Jobs(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) > 0 {
			return &list.Items[0]
		}
		if time.Now().After(end) {
			t.Fatalf("no Job matching %q within %s", selector, deadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// finish sets the status the Job controller would once the Pod ended:
// the validation of Job status demands startTime, the interim condition
// (SuccessCriteriaMet or FailureTarget) and, for success, completionTime.
func (e env) finish(t *testing.T, j *batchv1.Job, ok bool, reason string) {
	t.Helper()
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Second))
	cond := func(typ batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: "set by the test", LastTransitionTime: now, LastProbeTime: now}
	}
	for {
		cur, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), j.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Status.StartTime = &start
		if ok {
			cur.Status.Succeeded = 1
			cur.Status.CompletionTime = &now
			cur.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
		} else {
			cur.Status.Failed = 1
			cur.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
		}
		_, err = e.cs.BatchV1().Jobs(e.ns).UpdateStatus(context.Background(), cur, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatalf("set Job status: %v", err)
		}
		return
	}
}

func selectorOf(j executor.Job) string {
	return fmt.Sprintf("%s=%s,%s=%s", kube.LabelRun, kube.RunLabel(j.RunID), kube.LabelAsset, kube.AssetLabel(j.Asset))
}

// TestJobSpec: the Job has what the config and the step say, and a
// Complete Job is a success; with no Pod the step's output says why it
// has no log.
func TestJobSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.cs.CoreV1().ServiceAccounts(e.ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "steps"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	secs := int64(300)
	tolerations := []corev1.Toleration{
		{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "etl", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs},
	}
	l := e.launcher(t, kube.Options{Image: "example.com/etl:1.2", ServiceAccount: "steps", Resources: res,
		PullPolicy: corev1.PullIfNotPresent, Labels: map[string]string{"team": "data"}, TTLAfterFinished: time.Hour,
		NodeSelector: map[string]string{"pool": "etl"}, Tolerations: tolerations,
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}})
	j := job(t)
	j.Asset = "Warehouse/Orders Daily"
	j.Partition = "2026-12-01"
	j.Attempt = 2
	j.Argv = []string{"python", "-m", "etl.orders", "--date", "2026-12-01"}
	j.Env = []string{"FRESHET_RUN_ID=" + j.RunID, "DSN=postgres://x", "EMPTY="}
	j.Dir = "/app"
	j.Timeout = 90 * time.Second
	r := start(context.Background(), l, j)
	got := e.waitJob(t, selectorOf(j)+","+kube.LabelPartition+"="+kube.PartitionLabel(j.Partition)+","+kube.LabelAttempt+"=2")

	if !strings.HasPrefix(got.Name, "freshet-warehouse-orders-daily-") {
		t.Errorf("name %q: want freshet-warehouse-orders-daily-*", got.Name)
	}
	wantLabels := map[string]string{kube.LabelManagedBy: "freshet", kube.LabelInstance: "freshet", "team": "data"}
	for k, v := range wantLabels {
		if got.Labels[k] != v || got.Spec.Template.Labels[k] != v {
			t.Errorf("label %s: Job %q, Pod %q, want %q", k, got.Labels[k], got.Spec.Template.Labels[k], v)
		}
	}
	if got.Annotations[kube.AnnotationAsset] != string(j.Asset) || got.Annotations[kube.AnnotationPartition] != j.Partition || got.Annotations[kube.AnnotationRun] != j.RunID {
		t.Errorf("annotations %v", got.Annotations)
	}
	s := got.Spec
	if s.BackoffLimit == nil || *s.BackoffLimit != 0 {
		t.Errorf("backoffLimit %v, want 0 (the executor retries)", s.BackoffLimit)
	}
	if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 90 {
		t.Errorf("activeDeadlineSeconds %v, want 90", s.ActiveDeadlineSeconds)
	}
	if s.TTLSecondsAfterFinished == nil || *s.TTLSecondsAfterFinished != 3600 {
		t.Errorf("ttlSecondsAfterFinished %v, want 3600", s.TTLSecondsAfterFinished)
	}
	ps := s.Template.Spec
	if ps.RestartPolicy != corev1.RestartPolicyNever || ps.ServiceAccountName != "steps" {
		t.Errorf("restartPolicy %q, serviceAccountName %q", ps.RestartPolicy, ps.ServiceAccountName)
	}
	if !maps.Equal(ps.NodeSelector, map[string]string{"pool": "etl"}) || !reflect.DeepEqual(ps.Tolerations, tolerations) ||
		!slices.Equal(ps.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}}) {
		t.Errorf("nodeSelector %v, tolerations %v, imagePullSecrets %v", ps.NodeSelector, ps.Tolerations, ps.ImagePullSecrets)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	if c.Name != kube.ContainerName || c.Image != "example.com/etl:1.2" || c.ImagePullPolicy != corev1.PullIfNotPresent ||
		!slices.Equal(c.Command, j.Argv) || len(c.Args) != 0 || c.WorkingDir != "/app" {
		t.Errorf("container %s image %s pull %s command %q args %q dir %q", c.Name, c.Image, c.ImagePullPolicy, c.Command, c.Args, c.WorkingDir)
	}
	var envs []string
	for _, v := range c.Env {
		envs = append(envs, v.Name+"="+v.Value)
	}
	if !slices.Equal(envs, j.Env) {
		t.Errorf("env %q, want %q", envs, j.Env)
	}
	if !c.Resources.Requests.Cpu().Equal(resource.MustParse("250m")) || !c.Resources.Limits.Memory().Equal(resource.MustParse("1Gi")) {
		t.Errorf("resources %v", c.Resources)
	}
	// The launcher calls OnStart once Create returned, which may be just
	// after the test saw the Job.
	for deadline := time.Now().Add(time.Minute); !r.started.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("OnStart not called once the Job existed")
		}
	}

	e.finish(t, got, true, "CompletionsReached")
	o := r.wait(t)
	if o.Err != nil {
		t.Fatalf("outcome %v, want success", o.Err)
	}
	if o.Started.IsZero() || o.Ended.Before(o.Started) {
		t.Errorf("started %v ended %v", o.Started, o.Ended)
	}
	stderr := strings.Join(r.lines.Texts(executor.Stderr), "\n")
	if !strings.Contains(stderr, "freshet: no output: no Pod of Job "+got.Name) {
		t.Errorf("stderr %q: want a line saying the Job had no Pod", stderr)
	}
}

// fakeKubelet serves /containerLogs/NS/POD/step over TLS with a
// certificate the API server trusts, for a Node whose address is
// 127.0.0.1: the API server's real log path reaches it.
type fakeKubelet struct {
	srv   *httptest.Server
	mu    sync.Mutex
	logs  map[string]string // "ns/pod" -> log, each line "RFC3339 text"
	asked []string          // query strings seen
}

func newFakeKubelet(t *testing.T) *fakeKubelet {
	c := kubetest.Shared(t)
	cert, err := tls.LoadX509KeyPair(c.ServingCertFile, c.ServingKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKubelet{logs: map[string]string{}}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
		if len(parts) != 3 || parts[2] != kube.ContainerName {
			http.NotFound(w, r)
			return
		}
		k.mu.Lock()
		body, ok := k.logs[parts[0]+"/"+parts[1]]
		k.asked = append(k.asked, r.URL.RawQuery)
		k.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	k.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKubelet) setLog(ns, pod, log string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.logs[ns+"/"+pod] = log
}

// node registers the fake kubelet as a Node (cluster-wide: one per test).
func (k *fakeKubelet) node(t *testing.T, e env) string {
	t.Helper()
	port, _ := strconv.Atoi(k.srv.URL[strings.LastIndex(k.srv.URL, ":")+1:])
	name := "node-" + e.ns
	ctx := context.Background()
	n, err := e.cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := e.cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.cs.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// pod makes the Pod the Job controller would, bound to node, with its
// container ended with exit code (or running when code < 0).
func (e env) pod(t *testing.T, j *batchv1.Job, node string, code int32) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"batch.kubernetes.io/job-name": j.Name}
	p, err := e.cs.CoreV1().Pods(e.ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: j.Name + "-x1", Labels: labels},
		Spec:       corev1.PodSpec{NodeName: node, RestartPolicy: corev1.RestartPolicyNever, Containers: j.Spec.Template.Spec.Containers},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs := corev1.ContainerStatus{Name: kube.ContainerName, Image: p.Spec.Containers[0].Image}
	p.Status.Phase = corev1.PodRunning
	cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
	if code >= 0 {
		p.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			p.Status.Phase = corev1.PodFailed
		}
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", StartedAt: metav1.Now(), FinishedAt: metav1.Now()}}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	if p, err = e.cs.CoreV1().Pods(e.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFailedJobLogsAndExitCode: the Pod's log reaches the LineFunc with
// the runtime's timestamps, and a Failed Job is an ExitError with the
// container's exit code and the log's tail.
func TestFailedJobLogsAndExitCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newFakeKubelet(t)
	node := k.node(t, e)
	l := e.launcher(t, kube.Options{})
	j := job(t)
	r := start(context.Background(), l, j)
	got := e.waitJob(t, selectorOf(j))
	k.setLog(e.ns, got.Name+"-x1", "2026-12-01T10:00:00.5Z loading orders\n2026-12-01T10:00:01Z row 7: bad date\n")
	e.pod(t, got, node, 3)
	// The log arrives while the Job still runs: the launcher saw the Pod
	// through its watch.
	r.lines.WaitFor(t, "row 7: bad date")
	e.finish(t, got, false, "BackoffLimitExceeded")
	o := r.wait(t)
	var ee *executor.ExitError
	if !errors.As(o.Err, &ee) || ee.Code != 3 {
		t.Fatalf("outcome %v, want exit status 3", o.Err)
	}
	if ee.Stderr != "loading orders | row 7: bad date" {
		t.Errorf("tail %q", ee.Stderr)
	}
	all := r.lines.All()
	if len(all) != 2 || all[0].Stream != executor.Stdout || all[0].Text != "loading orders" ||
		!all[0].At.Equal(time.Date(2026, 12, 1, 10, 0, 0, 5e8, time.UTC)) {
		t.Fatalf("lines %+v", all)
	}
	k.mu.Lock()
	asked := strings.Join(k.asked, " ")
	k.mu.Unlock()
	if !strings.Contains(asked, "follow=true") || !strings.Contains(asked, "timestamps=true") {
		t.Errorf("kubelet asked %q: want follow and timestamps", asked)
	}
}

// TestSucceededJobLogs: a Pod that already ended (the Job finished before
// the launcher looked) still has its log read.
func TestSucceededJobLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k := newFakeKubelet(t)
	node := k.node(t, e)
	l := e.launcher(t, kube.Options{})
	j := job(t)
	r := start(context.Background(), l, j)
	got := e.waitJob(t, selectorOf(j))
	k.setLog(e.ns, got.Name+"-x1", "2026-12-01T10:00:00Z done\n")
	e.pod(t, got, node, 0)
	e.finish(t, got, true, "CompletionsReached")
	o := r.wait(t)
	if o.Err != nil {
		t.Fatalf("outcome %v", o.Err)
	}
	if txt := r.lines.Texts(executor.Stdout); !slices.Equal(txt, []string{"done"}) {
		t.Errorf("stdout %q", txt)
	}
}

// TestLogUnreadable: a Pod whose node has no kubelet: the step's outcome
// is still the Job's, and its output says why there is no log.
func TestLogUnreadable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.launcher(t, kube.Options{})
	j := job(t)
	r := start(context.Background(), l, j)
	got := e.waitJob(t, selectorOf(j))
	e.pod(t, got, "no-such-node", 0)
	e.finish(t, got, true, "CompletionsReached")
	o := r.wait(t)
	if o.Err != nil {
		t.Fatalf("outcome %v", o.Err)
	}
	stderr := strings.Join(r.lines.Texts(executor.Stderr), "\n")
	if !strings.Contains(stderr, "freshet: no output: the log of Pod "+got.Name+"-x1 cannot be read") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestDeadlineExceededIsTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.launcher(t, kube.Options{})
	j := job(t)
	j.Timeout = time.Hour
	r := start(context.Background(), l, j)
	e.finish(t, e.waitJob(t, selectorOf(j)), false, batchv1.JobReasonDeadlineExceeded)
	var te *executor.TimeoutError
	if o := r.wait(t); !errors.As(o.Err, &te) || te.After != time.Hour {
		t.Fatalf("outcome %v, want a timeout after 1h", o.Err)
	}
}

// TestCancelDeletes: a canceled attempt deletes its Job with the
// configured propagation. Without a garbage collector here, Foreground
// leaves the Job marked for deletion with the foregroundDeletion
// finalizer, Background removes it at once.
func TestCancelDeletes(t *testing.T) {
	t.Parallel()
	for _, prop := range []metav1.DeletionPropagation{metav1.DeletePropagationBackground, metav1.DeletePropagationForeground} {
		t.Run(string(prop), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			l := e.launcher(t, kube.Options{Propagation: prop})
			j := job(t)
			ctx, cancel := context.WithCancel(context.Background())
			r := start(ctx, l, j)
			got := e.waitJob(t, selectorOf(j))
			cancel()
			o := r.wait(t)
			if !errors.Is(o.Err, context.Canceled) {
				t.Fatalf("outcome %v, want canceled", o.Err)
			}
			cur, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), got.Name, metav1.GetOptions{})
			switch prop {
			case metav1.DeletePropagationBackground:
				if !apierrors.IsNotFound(err) {
					t.Errorf("Job after cancel: %v, %v; want it gone", cur, err)
				}
			case metav1.DeletePropagationForeground:
				if err != nil || cur.DeletionTimestamp == nil || !slices.Contains(cur.Finalizers, metav1.FinalizerDeleteDependents) {
					t.Errorf("Job after cancel: err %v; want it marked for foreground deletion", err)
				}
			}
		})
	}
}

func TestTimeoutDeletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.launcher(t, kube.Options{})
	j := job(t)
	j.Timeout = 500 * time.Millisecond
	r := start(context.Background(), l, j)
	var te *executor.TimeoutError
	if o := r.wait(t); !errors.As(o.Err, &te) {
		t.Fatalf("outcome %v, want a timeout", o.Err)
	}
	// The Job existed (OnStart comes after its creation) and is gone.
	if !r.started.Load() {
		t.Fatal("OnStart was not called: no Job was made")
	}
	list, err := e.cs.BatchV1().Jobs(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: selectorOf(j)})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("Jobs after timeout: %d, %v; want none", len(list.Items), err)
	}
}

// TestStopOrphans: after a restart, a new launcher finds by label the
// Jobs the old process left running for a step and deletes them, leaving
// finished Jobs, other steps and other installations alone. The old
// Launch, still watching, sees its Job go.
func TestStopOrphans(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.launcher(t, kube.Options{})
	j := job(t)
	running := start(context.Background(), old, j)
	orphan := e.waitJob(t, selectorOf(j))

	done := job(t) // the same step's first attempt, finished
	done.Attempt = 0
	finished := start(context.Background(), old, done)
	fj := e.waitJob(t, selectorOf(done)+","+kube.LabelAttempt+"=0")
	e.finish(t, fj, false, "BackoffLimitExceeded")
	finished.wait(t)

	other := job(t)
	other.Asset = "warehouse/customers"
	otherRun := start(context.Background(), old, other)
	oj := e.waitJob(t, selectorOf(other))

	elsewhere := e.launcher(t, kube.Options{Instance: "staging"})
	stagingRun := start(context.Background(), elsewhere, j)
	sj := e.waitJob(t, selectorOf(j)+","+kube.LabelInstance+"=staging")

	restarted := e.launcher(t, kube.Options{})
	n, err := restarted.StopOrphans(context.Background(), j.RunID, j.Asset)
	if err != nil || n != 1 {
		t.Fatalf("StopOrphans = %d, %v; want 1 Job deleted", n, err)
	}
	if _, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), orphan.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("orphan Job still there: %v", err)
	}
	for _, keep := range []*batchv1.Job{fj, oj, sj} {
		if _, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), keep.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("Job %s should be left alone: %v", keep.Name, err)
		}
	}
	if o := running.wait(t); o.Err == nil || !strings.Contains(o.Err.Error(), "deleted before it finished") {
		t.Errorf("the old Launch ended with %v; want its Job deleted", o.Err)
	}
	if n, err := restarted.StopOrphans(context.Background(), j.RunID, j.Asset); err != nil || n != 0 {
		t.Errorf("second StopOrphans = %d, %v; want 0", n, err)
	}
	e.finish(t, oj, true, "CompletionsReached")
	e.finish(t, sj, true, "CompletionsReached")
	otherRun.wait(t)
	stagingRun.wait(t)
}

// TestRefused: what the API server refuses, or the launcher cannot send,
// is a StartError (the executor does not retry it).
func TestRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name string
		ns   string
		mod  func(*executor.Job)
		want string
	}{
		{"no such namespace", "nowhere-" + e.ns, nil, "not found"},
		{"invalid env name", "", func(j *executor.Job) { j.Env = []string{"BÄD=x"} }, "Invalid value"},
		{"env without =", "", func(j *executor.Job) { j.Env = []string{"JUSTANAME"} }, "environment entry without NAME="},
		{"empty argv", "", func(j *executor.Job) { j.Argv = nil }, "empty argv"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := kube.Options{Namespace: e.ns, Image: "busybox"}
			if c.ns != "" {
				opts.Namespace = c.ns
			}
			l, err := kube.New(e.cs, opts)
			if err != nil {
				t.Fatal(err)
			}
			j := job(t)
			if c.mod != nil {
				c.mod(&j)
			}
			o := l.Launch(context.Background(), j, func(executor.Stream, time.Time, string) {})
			var se *executor.StartError
			if !errors.As(o.Err, &se) || !strings.Contains(o.Err.Error(), c.want) {
				t.Fatalf("outcome %v, want a StartError containing %q", o.Err, c.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		opts kube.Options
		want string
	}{
		{kube.Options{Image: "x"}, "namespace is required"},
		{kube.Options{Namespace: "a"}, "image is required"},
		{kube.Options{Namespace: "a", Image: "x", Propagation: metav1.DeletePropagationOrphan}, "propagation"},
		{kube.Options{Namespace: "a", Image: "x", Instance: "not a label!"}, "instance"},
	}
	for _, c := range cases {
		if _, err := kube.New(e.cs, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", c.opts, err, c.want)
		}
	}
}
