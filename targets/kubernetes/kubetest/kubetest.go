// Package kubetest gives tests a real Kubernetes API server: the throw-away
// control plane of cluster/start-test-cluster.sh (etcd, kube-apiserver,
// controller-manager, scheduler, and kwok for kubelets) on 127.0.0.1. Tests
// opt in on K8S_TEST_KUBECONFIG, never on a developer's own KUBECONFIG;
// `make test` starts the cluster and sets it. Each test gets a namespace
// of its own.
package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Env is the test cluster.
type Env struct {
	Kubeconfig string // the admin kubeconfig
	Config     *rest.Config
	Client     k8s.Interface
}

// HowToStart says how to get a test cluster.
const HowToStart = "K8S_TEST_KUBECONFIG is not set: these tests need the throw-away Kubernetes control plane. " +
	"Run them with `make test`, which starts it, or start one yourself: " +
	"targets/kubernetes/kubetest/cluster/start-test-cluster.sh && source /tmp/k8s-test-cluster/env " +
	"(the first start builds it: ~5-15 minutes, cached in ~/.cache/k8s-test-cluster)"

// Cluster returns the test cluster K8S_TEST_KUBECONFIG names. Without it
// the test fails, saying how to start one: a missing cluster is not a
// reason to skip.
func Cluster(t testing.TB) *Env {
	t.Helper()
	path := os.Getenv("K8S_TEST_KUBECONFIG")
	if path == "" {
		t.Fatal(HowToStart)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("K8S_TEST_KUBECONFIG=%s: %v", path, err)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("K8S_TEST_KUBECONFIG=%s points at %s; the tests only talk to a cluster on 127.0.0.1", path, cfg.Host)
	}
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Kubeconfig: path, Config: cfg, Client: client}
}

// Namespace creates a namespace for the test and deletes it at the end.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	name = strings.Trim(name[:min(len(name), 50)], "-") + "-" + random(4)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		e.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	// The ServiceAccount admission plugin refuses pods until "default" exists.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := e.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default service account: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ServiceAccount creates a ServiceAccount in ns with a Role of rules bound
// to it, and writes a kubeconfig with a token for it from the TokenRequest
// API. It returns the kubeconfig's path.
func (e *Env) ServiceAccount(t testing.TB, ns, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := context.Background()
	c := e.Client
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return e.TokenKubeconfig(t, ns, name)
}

// TokenKubeconfig writes a kubeconfig for the ServiceAccount ns/name with
// a token of the TokenRequest API, valid for an hour.
func (e *Env) TokenKubeconfig(t testing.TB, ns, name string) string {
	t.Helper()
	tr, err := e.Client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s (the apiserver needs --service-account-issuer and --service-account-signing-key-file): %v", ns, name, err)
	}
	host, port, err := net.SplitHostPort(strings.TrimPrefix(e.Config.Host, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	ca := e.Config.CAData
	if len(ca) == 0 && e.Config.CAFile != "" {
		if ca, err = os.ReadFile(e.Config.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://%s", certificate-authority-data: %s}
users:
- name: %s
  user: {token: %s}
contexts:
- name: %s
  context: {cluster: test, user: %s, namespace: %s}
current-context: %s
`, net.JoinHostPort(host, port), base64.StdEncoding.EncodeToString(ca), name, tr.Status.Token, name, name, ns, name)
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func ptr[T any](v T) *T { return &v }
