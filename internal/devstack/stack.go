package devstack

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Function is a KRM function binary the function runner serves under an
// image name, so a Kptfile pipeline naming the image renders on the stack.
type Function struct {
	Image  string // e.g. ghcr.io/forkline/bump-version:v0.1.0
	Binary string // path of the executable
}

// Options configure Start.
type Options struct {
	// Dir holds the stack's data, logs and kubeconfig; a temporary
	// directory (removed on Stop) when empty.
	Dir string
	// Functions are served by the function runner's exec runtime, in
	// addition to forkline's own (see FunctionNames), which are always built
	// and registered.
	Functions []Function
	// Logf receives progress lines; silent when nil.
	Logf func(format string, args ...any)
	// RepoSyncFrequency is how often Porch re-lists every registered
	// repository: 10 s when zero, so tests see Porch recover from its
	// races quickly; Porch's own default is a minute.
	RepoSyncFrequency time.Duration
	// PorchVersion is the Porch to run (PorchCurrent or PorchOlder);
	// PorchVersion() when empty.
	PorchVersion string
}

// Stack is a running local stack.
type Stack struct {
	Root       string // the forkline checkout
	Dir        string
	Kubeconfig string
	Config     *rest.Config
	Client     client.Client
	Git        *GitServer
	Bin        Binaries
	// Startup is how long Start took once the binaries were built.
	Startup time.Duration

	etcdURL        string
	functionRunner string
	ownDir         bool
	procs          []*process
	porch          *process
	porchPort      int
	repoSync       time.Duration
	logf           func(string, ...any)
}

// Start builds what is missing and starts the stack. On error everything
// already started is stopped again.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot(wd)
	if err != nil {
		return nil, err
	}
	porchVersion := opts.PorchVersion
	if porchVersion == "" {
		porchVersion = PorchVersion()
	}
	bins, err := EnsureBinaries(root, porchVersion, logf)
	if err != nil {
		return nil, err
	}
	own, err := BuildFunctions(root)
	if err != nil {
		return nil, err
	}
	functions := slices.Concat(own, opts.Functions)

	s = &Stack{Root: root, Dir: opts.Dir, Bin: bins, logf: logf, repoSync: opts.RepoSyncFrequency}
	if s.repoSync == 0 {
		s.repoSync = 10 * time.Second
	}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "forkline-stack-"); err != nil {
			return nil, err
		}
		s.ownDir = true
	}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()

	start := time.Now()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"git server", s.startGit},
		{"etcd", s.startEtcd},
		{"kube-apiserver", s.startAPIServer},
		{"kube-controller-manager", s.startControllerManager},
		{"CRDs", s.installCRDs},
		{"function runner", func(ctx context.Context) error { return s.startFunctionRunner(ctx, functions) }},
		{"porch-server", s.startPorch},
	}
	var timings []string
	for _, step := range steps {
		t := time.Now()
		if err := step.run(ctx); err != nil {
			return s, fmt.Errorf("starting %s: %w", step.name, err)
		}
		timings = append(timings, fmt.Sprintf("%s %.1fs", step.name, time.Since(t).Seconds()))
	}
	s.Startup = time.Since(start)
	logf("stack: Porch %s, up in %.1fs (%s)", s.Bin.PorchVersion, s.Startup.Seconds(), strings.Join(timings, ", "))
	logf("stack: KUBECONFIG=%s", s.Kubeconfig)
	return s, nil
}

// Stop ends every process in reverse order of start and removes a temporary
// data directory. It is safe to call more than once.
func (s *Stack) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop(5 * time.Second)
	}
	s.procs = nil
	if s.Git != nil {
		s.Git.stop()
		s.Git = nil
	}
	if s.ownDir && s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
		s.Dir = ""
	}
}

// KeepLogs copies the stack's process logs (porch-server, kube-apiserver,
// ...) to a new directory under the system's temporary directory, so a
// failed run can be read after Stop removed the stack; it returns that
// directory.
func (s *Stack) KeepLogs() (string, error) {
	logs, err := filepath.Glob(filepath.Join(s.Dir, "*.log"))
	if err != nil || len(logs) == 0 {
		return "", fmt.Errorf("no logs in %s: %w", s.Dir, err)
	}
	kept, err := os.MkdirTemp("", "forkline-failed-run-")
	if err != nil {
		return "", err
	}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			return kept, err
		}
		if err := os.WriteFile(filepath.Join(kept, filepath.Base(l)), b, 0o644); err != nil {
			return kept, err
		}
	}
	return kept, nil
}

// Alive reports the first process that has died, if any.
func (s *Stack) Alive() error {
	for _, p := range s.procs {
		if err := p.exited(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

func (s *Stack) start(name, bin string, args ...string) (*process, error) {
	// Porch refuses --standalone-debug-mode inside a pod; never let a CI
	// runner's in-cluster variables leak into the stack.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBERNETES_SERVICE_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	p, err := startProcess(s.Dir, name, bin, args, env)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

func (s *Stack) startGit(context.Context) error {
	root := s.path("git")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	g, err := startGitServer(root)
	if err != nil {
		return err
	}
	s.Git = g
	return nil
}

func (s *Stack) startEtcd(ctx context.Context) error {
	clientPort, peer := freePort(), freePort()
	url := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	p, err := s.start("etcd", s.Bin.Etcd,
		"--data-dir", s.path("etcd"),
		"--listen-client-urls", url, "--advertise-client-urls", url,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", peer),
		"--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return err
	}
	s.etcdURL = url
	return waitHTTP(ctx, p, url+"/health", nil, 30*time.Second)
}

func (s *Stack) startAPIServer(ctx context.Context) error {
	certDir := s.path("apiserver")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	keyFile, pubFile := filepath.Join(certDir, "sa.key"), filepath.Join(certDir, "sa.pub")
	if err := writeServiceAccountKey(keyFile, pubFile); err != nil {
		return err
	}
	token := randomToken()
	tokenFile := filepath.Join(certDir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return err
	}
	port := freePort()
	p, err := s.start("kube-apiserver", s.Bin.KubeAPIServer,
		"--etcd-servers", s.etcdURL,
		"--cert-dir", certDir,
		"--secure-port", fmt.Sprint(port),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--service-account-issuer", "https://localhost",
		"--service-account-key-file", pubFile,
		"--service-account-signing-key-file", keyFile,
		"--token-auth-file", tokenFile,
		"--authorization-mode", "RBAC",
		"--disable-admission-plugins", "ServiceAccount")
	if err != nil {
		return err
	}
	host := fmt.Sprintf("https://127.0.0.1:%d", port)
	s.Config = &rest.Config{
		Host:            host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             200,
		Burst:           400,
	}
	if err := waitHTTP(ctx, p, host+"/readyz", s.Config, 60*time.Second); err != nil {
		return err
	}
	s.Kubeconfig = s.path("kubeconfig")
	if err := writeKubeconfig(s.Kubeconfig, host, token); err != nil {
		return err
	}
	s.Client, err = NewClient(s.Config)
	return err
}

// startControllerManager runs the controllers every cluster has and whose
// absence would hide what a cluster does to forkline's objects: the garbage
// collector (ownerReferences cascade, foreground deletion), namespace
// deletion, and ServiceAccounts with their tokens.
func (s *Stack) startControllerManager(ctx context.Context) error {
	certDir := s.path("apiserver")
	port := freePort()
	p, err := s.start("kube-controller-manager", s.Bin.KubeControllerManager,
		"--kubeconfig", s.Kubeconfig,
		"--authentication-kubeconfig", s.Kubeconfig,
		"--authorization-kubeconfig", s.Kubeconfig,
		"--controllers", "garbagecollector,namespace,serviceaccount,serviceaccount-token",
		"--service-account-private-key-file", filepath.Join(certDir, "sa.key"),
		"--root-ca-file", filepath.Join(certDir, "apiserver.crt"),
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--bind-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(port),
		"--cert-dir", s.path("controller-manager"),
		"--concurrent-gc-syncs", "5")
	if err != nil {
		return err
	}
	return waitHTTP(ctx, p, fmt.Sprintf("https://127.0.0.1:%d/healthz", port), nil, 60*time.Second)
}

func writeKubeconfig(path, host, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["forkline"] = &clientcmdapi.Cluster{Server: host, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["forkline"] = &clientcmdapi.Context{Cluster: "forkline", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "forkline"
	return clientcmd.WriteToFile(*cfg, path)
}

func writeServiceAccountKey(keyFile, pubFile string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort asks the kernel for a free loopback port.
func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("no free loopback port: %v", err))
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StopOnInterrupt stops the stack and exits if the process is interrupted
// (Ctrl-C, a CI cancel), so nothing outlives a test run that never reaches
// its deferred Stop. Call the returned func to stop listening.
func (s *Stack) StopOnInterrupt() (release func()) {
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case got := <-sig:
			s.logf("stack: %v received, stopping", got)
			s.Stop()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
	}
}

// PIDs are the process IDs of the servers the stack runs.
func (s *Stack) PIDs() map[string]int {
	pids := map[string]int{}
	for _, p := range s.procs {
		pids[p.name] = p.cmd.Process.Pid
	}
	return pids
}
