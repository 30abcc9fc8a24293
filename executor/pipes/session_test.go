package pipes

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildChild compiles testdata/pipeschild into a temporary directory.
func buildChild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pipeschild")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/pipeschild").CombinedOutput()
	if err != nil {
		t.Fatalf("build pipeschild: %v\n%s", err, out)
	}
	return bin
}

// TestSessionWithChild runs the specification-written child in each
// session mode and reads back what it reports.
func TestSessionWithChild(t *testing.T) {
	t.Parallel()
	child := buildChild(t)
	pk := "2026-01-02"
	data := ContextData{AssetKeys: []string{"marts/revenue"}, RunID: "run-7", RetryNumber: 1, PartitionKey: &pk, PartitionKeyRange: &KeyRange{pk, pk}}
	for _, c := range []struct {
		ctx  ContextMode
		ch   Channel
		form string
	}{
		{ContextAuto, ChannelFile, "data"},
		{ContextFile, ChannelFile, "path"},
		{ContextEnv, ChannelFile, "data"},
		{ContextFile, ChannelStderr, "path"},
		{ContextEnv, ChannelStdout, "data"},
	} {
		t.Run(string(c.ctx)+"-"+string(c.ch)+"-"+c.form, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			s, err := OpenSession(data, SessionOptions{Dir: parent, Context: c.ctx, Messages: c.ch})
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(child, "report")
			cmd.Env = append(os.Environ(), s.Env()...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("child: %v\n%s", err, stderr.String())
			}
			var lines []string
			fromStream := func(out string) {
				for line := range strings.Lines(out) {
					if line = strings.TrimSpace(line); LooksLikeMessage(line) {
						lines = append(lines, line)
					} else if line != "plain stdout line" {
						t.Errorf("output line %q", line)
					}
				}
			}
			switch c.ch {
			case ChannelFile:
				done := make(chan struct{})
				close(done) // the child has exited: read it all
				if err := Tail(t.Context(), s.MessagesPath(), done, func(b []byte) { lines = append(lines, string(b)) }); err != nil {
					t.Fatal(err)
				}
			case ChannelStdout:
				fromStream(stdout.String())
			case ChannelStderr:
				fromStream(stderr.String())
			}
			var methods []Method
			var custom map[string]any
			for _, l := range lines {
				m, err := Parse([]byte(l))
				if err != nil {
					t.Fatalf("child's line %s: %v", l, err)
				}
				methods = append(methods, m.Method)
				if m.Method == MethodCustom {
					p, _ := m.Custom()
					_ = json.Unmarshal(p, &custom)
				}
			}
			want := []Method{MethodOpened, MethodCustom, MethodLog, MethodLog, MethodCheck, MethodCheck, MethodMaterialization, MethodClosed}
			if !slices.Equal(methods, want) {
				t.Errorf("methods %v, want %v", methods, want)
			}
			if custom["form"] != c.form || custom["run_id"] != "run-7" || custom["partition_key"] != pk || custom["retry_number"] != 1.0 {
				t.Errorf("the child read %v", custom)
			}
			if ex, ok := custom["extras"].(map[string]any); !ok || len(ex) != 0 {
				t.Errorf("extras = %#v, want {}", custom["extras"])
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Errorf("Close left %v", left)
			}
		})
	}
}

func TestSessionOptions(t *testing.T) {
	t.Parallel()
	if _, err := OpenSession(ContextData{}, SessionOptions{Dir: t.TempDir(), Context: "ftp"}); err == nil {
		t.Errorf("unknown context mode accepted")
	}
	if _, err := OpenSession(ContextData{}, SessionOptions{Dir: t.TempDir(), Messages: "s3"}); err == nil {
		t.Errorf("unknown channel accepted")
	}
	if _, err := OpenSession(ContextData{}, SessionOptions{Dir: "/nonexistent/dir"}); err == nil {
		t.Errorf("missing parent directory accepted")
	}
	// A large context goes to a file unless asked to stay inline.
	rng := rand.New(rand.NewPCG(1, 2))
	blob := make([]byte, 2*MaxInlineContext)
	for i := range blob {
		blob[i] = 'a' + byte(rng.IntN(26))
	}
	big := ContextData{Extras: map[string]any{"blob": string(blob)}}
	dir := t.TempDir()
	s, err := OpenSession(big, SessionOptions{Dir: dir, Messages: ChannelStderr})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".context.json") {
		t.Errorf("files for a large context: %v", ents)
	}
	if c, err := ReadContext(strings.TrimPrefix(s.Env()[0], EnvContext+"=")); err != nil || c.Extras["blob"] != string(blob) {
		t.Errorf("large context read back: %v", err)
	}
	_ = s.Close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Close left %v", ents)
	}
	if s, err = OpenSession(big, SessionOptions{Dir: dir, Context: ContextEnv, Messages: ChannelStderr}); err != nil || s.Env()[0] == "" {
		t.Errorf("forced inline: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("forced inline wrote %v", ents)
	}

	// Inline context on a stdio channel needs no directory at all.
	s, err = OpenSession(ContextData{RunID: "r"}, SessionOptions{Dir: "/nonexistent/dir", Messages: ChannelStderr})
	if err != nil || s.MessagesPath() != "" || s.Channel() != ChannelStderr || len(s.Env()) != 2 {
		t.Fatalf("env+stderr session: %+v, %v", s, err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "messages")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(MessagesParams{Path: path}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m, _ := NewMessage(MethodLog, Log{Message: strings.Repeat("x", i), Level: "INFO"})
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Errorf("%d lines:\n%s", n, b)
	}
	var sb strings.Builder
	w, _ = NewWriter(MessagesParams{BufferedStdio: "stdout"}, &sb, nil)
	m, _ := NewMessage(MethodClosed, nil)
	if err := w.Write(m); err != nil || sb.String() != `{"__dagster_pipes_version":"0.1","method":"closed","params":null}`+"\n" {
		t.Errorf("stdout: %q %v", sb.String(), err)
	}
	if _, err := NewWriter(MessagesParams{}, nil, nil); err == nil {
		t.Errorf("no channel accepted")
	}
	gone, _ := NewWriter(MessagesParams{Path: filepath.Join(t.TempDir(), "gone")}, nil, nil)
	if err := gone.Write(m); err == nil {
		t.Errorf("a writer created a messages file that was not there")
	}
}
