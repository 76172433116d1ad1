package devstack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ManagerProcess runs forkline's manager binary as its own process, the
// way a pod runs it: a test can SIGKILL it (no deferred cleanup, writes cut
// off wherever they are) and a benchmark can read its CPU time and memory.
type ManagerProcess struct {
	Bin, Kubeconfig, Log string
	// Starts counts the processes started so far.
	Starts int
	cmd    *exec.Cmd
}

// BuildManager compiles cmd/manager into dir and writes a kubeconfig there
// holding cfg's bearer token (the identity config/rbac grants forkline).
func BuildManager(dir string, cfg *rest.Config) (*ManagerProcess, error) {
	m := &ManagerProcess{Bin: filepath.Join(dir, "manager")}
	build := exec.Command("go", "build", "-o", m.Bin, "github.com/forkline/forkline/cmd/manager")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build cmd/manager: %w\n%s", err, out)
	}
	return ManagerFrom(m.Bin, dir, cfg)
}

// ManagerFrom runs a manager binary built elsewhere (another commit's, to
// compare), with its kubeconfig and log in dir.
func ManagerFrom(bin, dir string, cfg *rest.Config) (*ManagerProcess, error) {
	m := &ManagerProcess{Bin: bin, Kubeconfig: filepath.Join(dir, "kubeconfig"), Log: filepath.Join(dir, "manager.log")}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["stack"] = &clientcmdapi.Cluster{Server: cfg.Host, InsecureSkipTLSVerify: true}
	kc.AuthInfos["forkline"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["forkline"] = &clientcmdapi.Context{Cluster: "stack", AuthInfo: "forkline"}
	kc.CurrentContext = "forkline"
	if err := clientcmd.WriteToFile(*kc, m.Kubeconfig); err != nil {
		return nil, err
	}
	return m, nil
}

// Start runs the manager without leader election, its output appended to
// Log; args are added to the command line (e.g. --metrics-bind-address).
func (m *ManagerProcess) Start(args ...string) error {
	logFile, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	base := []string{"--kubeconfig", m.Kubeconfig, "--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0"}
	m.cmd = exec.Command(m.Bin, append(base, args...)...)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return err
	}
	m.Starts++
	return nil
}

// Kill SIGKILLs the running manager and reaps it.
func (m *ManagerProcess) Kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	_ = m.cmd.Wait()
}

// PID is the running manager's process id.
func (m *ManagerProcess) PID() int { return m.cmd.Process.Pid }

// Usage is what a process has used so far: CPU time in seconds (user and
// system) and its resident memory, now and at its peak, in bytes.
type Usage struct {
	CPUSeconds   float64
	RSS, PeakRSS int64
}

// ResetPeakRSS starts a process's peak RSS (VmHWM) again from its RSS
// now, so that a benchmark can measure one phase's peak.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// ProcessUsage reads a process's Usage from /proc.
func ProcessUsage(pid int) (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// The command name may hold spaces: fields count from after its ")".
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	u.CPUSeconds = (utime + stime) / 100 // USER_HZ is 100 on Linux
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			u.RSS = kb * 1024
		case "VmHWM":
			u.PeakRSS = kb * 1024
		}
	}
	return u, nil
}
