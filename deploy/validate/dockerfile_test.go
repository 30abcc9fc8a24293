package validate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// TestDockerfile parses deploy/docker/Dockerfile with BuildKit's own parser
// and linter (no Docker engine is needed) and checks what the image
// promises: multi-stage, distroless and non-root, a static build stamped
// with the version, the data volume, the entrypoint, and that every path
// it copies from the context exists and is not excluded.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	f, err := os.Open(filepath.Join(root, "deploy/docker/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("parser warning: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		t.Errorf("BuildKit check %s: %s (line %v)", rule, msg, loc)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("instructions: %v", err)
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	// The Go image's version is the one go.mod asks for.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil || args["GO_VERSION"] != string(goVersion[1]) {
		t.Errorf("ARG GO_VERSION=%s, go.mod says go %s", args["GO_VERSION"], goVersion[1])
	}

	if len(stages) != 3 {
		t.Fatalf("%d stages, want 3 (ui, build, runtime)", len(stages))
	}
	names := []string{}
	for _, s := range stages {
		names = append(names, s.Name)
	}
	if !slices.Equal(names[:2], []string{"ui", "build"}) {
		t.Errorf("stages %v: want ui, build, then the runtime", names)
	}
	final := stages[2]
	if final.BaseName != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("runtime image %s, want gcr.io/distroless/static-debian12:nonroot", final.BaseName)
	}

	ignore := dockerignore(t, root)
	var user, entrypoint string
	var cmd, volumes, ports []string
	var staticBuild bool
	for i, s := range stages {
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					if !slices.Contains(names[:i], c.From) {
						t.Errorf("stage %s: COPY --from=%s names no earlier stage", s.Name, c.From)
					}
					continue
				}
				for _, src := range c.SourcePaths {
					checkContextPath(t, root, ignore, src)
				}
			case *instructions.RunCommand:
				line := strings.Join(c.CmdLine, " ")
				if strings.Contains(line, "go build") {
					staticBuild = strings.Contains(line, "CGO_ENABLED=0") && strings.Contains(line, "-trimpath") &&
						strings.Contains(line, "-X main.version=${VERSION}") && strings.Contains(line, "./cmd/freshet")
				}
			}
			if i != 2 {
				continue
			}
			switch c := c.(type) {
			case *instructions.UserCommand:
				user = c.User
			case *instructions.EntrypointCommand:
				if c.PrependShell {
					t.Errorf("ENTRYPOINT in shell form: distroless has no shell")
				}
				entrypoint = strings.Join(c.CmdLine, " ")
			case *instructions.CmdCommand:
				if c.PrependShell {
					t.Errorf("CMD in shell form: distroless has no shell")
				}
				cmd = c.CmdLine
			case *instructions.VolumeCommand:
				volumes = append(volumes, c.Volumes...)
			case *instructions.ExposeCommand:
				ports = append(ports, c.Ports...)
			case *instructions.RunCommand:
				t.Errorf("RUN in the distroless stage: it has no shell")
			}
		}
	}
	if user != "nonroot:nonroot" && user != "65532:65532" {
		t.Errorf("USER %q, want nonroot", user)
	}
	if !staticBuild {
		t.Errorf("the go build is not CGO_ENABLED=0 -trimpath with -X main.version=${VERSION} of ./cmd/freshet")
	}
	if entrypoint != "/usr/local/bin/freshet" {
		t.Errorf("ENTRYPOINT %q", entrypoint)
	}
	if !slices.Equal(volumes, []string{dataDir}) || !slices.Equal(ports, []string{"3000"}) {
		t.Errorf("VOLUME %v EXPOSE %v, want %s and 3000", volumes, ports, dataDir)
	}
	// CMD is `serve` with flags freshet serve has, on the volume and port.
	flags := serveFlags(t)
	if len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("CMD %v: want serve", cmd)
	}
	for _, a := range cmd[1:] {
		if strings.HasPrefix(a, "--") && !flags[strings.TrimPrefix(a, "--")] {
			t.Errorf("CMD %v: %s is not a flag of freshet serve", cmd, a)
		}
	}
	joined := strings.Join(cmd, " ")
	if !strings.Contains(joined, "--data-dir "+dataDir) || !strings.Contains(joined, "--addr :3000") {
		t.Errorf("CMD %v: want --data-dir %s --addr :3000", cmd, dataDir)
	}
}

func dockerignore(t *testing.T, root string) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "deploy/docker/Dockerfile.dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

// checkContextPath: a COPY source exists in the repository and the
// .dockerignore does not drop it from the build context.
func checkContextPath(t *testing.T, root string, ignore *patternmatcher.PatternMatcher, src string) {
	t.Helper()
	clean := strings.TrimSuffix(filepath.Clean(src), "/")
	if clean == "." {
		return
	}
	if _, err := os.Stat(filepath.Join(root, clean)); err != nil {
		t.Errorf("COPY %s: %v", src, err)
	}
	if excluded, err := ignore.MatchesOrParentMatches(clean); err != nil || excluded {
		t.Errorf("COPY %s: excluded by Dockerfile.dockerignore (%v)", src, err)
	}
}
