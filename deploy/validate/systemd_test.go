package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdUnit runs systemd-analyze verify on deploy/systemd/freshet.service
// in a private root holding the unit, the binary at its ExecStart path and
// the system's units (so After=/WantedBy= resolve). verify exits 0 on an
// unknown key or a bad value and only prints a warning, so any output fails.
// Then systemd-analyze security scores its hardening offline: an exposure
// above 2.0 (of 10) fails.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	sa := tool(t, "install Debian's systemd package (scripts/ensure-systemd.sh)", "systemd-analyze")
	root := repoRoot(t)
	dir := t.TempDir()
	unit, err := os.ReadFile(filepath.Join(root, "deploy/systemd/freshet.service"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "etc/systemd/system/freshet.service"), unit, 0o644)
	bin, err := os.ReadFile(freshetBin(t))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "usr/local/bin/freshet"), bin, 0o755)
	if err := os.MkdirAll(filepath.Join(dir, "usr/lib/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", "/usr/lib/systemd/system", filepath.Join(dir, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copy the system's units: %v\n%s", err, out)
	}
	cmd := exec.Command(sa, "verify", "--root="+dir, "/etc/systemd/system/freshet.service")
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	cmd = exec.Command(sa, "security", "--offline=true", "--threshold=20", "--root="+dir, "/etc/systemd/system/freshet.service")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security --threshold=20 (exposure 2.0): %v\n%s", err, out)
	}
	if i := strings.Index(string(out), "Overall exposure level"); i >= 0 {
		t.Log(strings.TrimSpace(string(out[i:])))
	}
	// The environment file: comments, blank lines and NAME=value only.
	env, err := os.ReadFile(filepath.Join(root, "deploy/systemd/freshet.env"))
	if err != nil {
		t.Fatal(err)
	}
	assign := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	for i, line := range strings.Split(string(env), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !assign.MatchString(line) {
			t.Errorf("freshet.env line %d: %q is not NAME=value", i+1, line)
		}
	}
}

func write(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}
