package kube_test

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/executor/kube"
	"github.com/freshet-dev/freshet/internal/kubetest"
)

// TestRulesSuffice runs the launcher as a service account bound to a Role
// of kube.Rules() and nothing else (RBAC is on in the test's API server):
// a step with its log and exit code, a cancel, and StopOrphans all work,
// and the account cannot do what the rules leave out.
func TestRulesSuffice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.cs.CoreV1().ServiceAccounts(e.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "freshet"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.RbacV1().Roles(e.ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "job-launcher"}, Rules: kube.Rules()}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.RbacV1().RoleBindings(e.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "job-launcher"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "job-launcher"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "freshet", Namespace: e.ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubetest.Shared(t).Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Impersonate.UserName = "system:serviceaccount:" + e.ns + ":freshet"
	as, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as.CoreV1().Secrets(e.ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing Secrets as the launcher's account: %v, want forbidden (is RBAC on?)", err)
	}
	limited := env{cs: as, ns: e.ns}
	l := limited.launcher(t, kube.Options{})

	k := newFakeKubelet(t)
	node := k.node(t, e)
	j := job(t)
	r := start(ctx, l, j)
	got := e.waitJob(t, selectorOf(j))
	k.setLog(e.ns, got.Name+"-x1", "2026-12-01T10:00:00Z nope\n")
	e.pod(t, got, node, 4)
	e.finish(t, got, false, "BackoffLimitExceeded")
	var ee *executor.ExitError
	if o := r.wait(t); !errors.As(o.Err, &ee) || ee.Code != 4 || ee.Stderr != "nope" {
		t.Fatalf("outcome %v, want exit status 4 with the log's tail", o.Err)
	}

	j.Attempt = 2
	cctx, cancel := context.WithCancel(ctx)
	r = start(cctx, l, j)
	got = e.waitJob(t, selectorOf(j)+","+kube.LabelAttempt+"=2")
	cancel()
	if o := r.wait(t); !errors.Is(o.Err, context.Canceled) {
		t.Fatalf("outcome %v, want canceled", o.Err)
	}
	if _, err := e.cs.BatchV1().Jobs(e.ns).Get(ctx, got.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the canceled Job is still there: %v", err)
	}

	j.Attempt = 3
	r = start(ctx, l, j)
	e.waitJob(t, selectorOf(j)+","+kube.LabelAttempt+"=3")
	if n, err := l.StopOrphans(ctx, j.RunID, j.Asset); err != nil || n != 1 {
		t.Errorf("StopOrphans as the launcher's account = %d, %v", n, err)
	}
	r.wait(t)
}
