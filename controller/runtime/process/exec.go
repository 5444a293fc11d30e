package process

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"
)

// FreePort asks the kernel for a free port on 127.0.0.1. Another process may
// take it before the app binds it; the instance then fails and is restarted
// with a new port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// StartProcess starts argv with env and output appended to logPath. The child
// gets its own process group (so it and its children are stopped together)
// and is killed by the kernel if gantry itself dies.
func StartProcess(path string, args []string, env map[string]string, dir, logPath string) (*exec.Cmd, error) {
	return startProcess(append([]string{path}, args...), env, dir, logPath, func(*syscall.SysProcAttr) {})
}

// startProcess is StartProcess with attr adjusting the child's attributes
// (user, namespaces).
func startProcess(argv []string, env map[string]string, dir, logPath string, attr func(*syscall.SysProcAttr)) (*exec.Cmd, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", logPath, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = mergeEnv(os.Environ(), env)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	attr(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	// The child holds its own copy of the file.
	logf.Close()
	return cmd, nil
}

func mergeEnv(base []string, over map[string]string) []string {
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				k = kv[:i]
				break
			}
		}
		if _, ok := over[k]; !ok {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(over))
	for k := range over {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+over[k])
	}
	return out
}

// StopGroup sends SIGTERM to cmd's process group, waits for done up to grace,
// then SIGKILLs the group. done is closed when cmd.Wait returned.
func StopGroup(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
	}
	// Kill whatever is left of the group, even if the leader already exited.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = cmd.Process.Kill()
	}
	<-done
}

// ExitReason names how a process ended, as Kubernetes reasons do.
func ExitReason(err error) (string, string) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "Signal" + fmt.Sprint(int(ws.Signal())), fmt.Sprintf("container was killed by signal %v", ws.Signal())
		}
		return fmt.Sprintf("ExitCode%d", ee.ExitCode()), fmt.Sprintf("container exited with code %d", ee.ExitCode())
	}
	if err == nil {
		return "ExitCode0", "container exited with code 0"
	}
	return "Error", err.Error()
}
