package validate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const composeDir = "deploy/compose"

type composeFile struct {
	Services map[string]struct {
		Image   string   `json:"image"`
		Command []string `json:"command"`
		Volumes []string `json:"volumes"`
		Build   *struct {
			Context    string `json:"context"`
			Dockerfile string `json:"dockerfile"`
		} `json:"build"`
		Ports []string `json:"ports"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), composeDir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// layout copies a service's bind-mounted files into dir at their paths in
// the container, as docker compose would mount them, and fails on a named
// volume nobody declared or a source that does not exist.
func layout(t *testing.T, c composeFile, service, dir string) {
	t.Helper()
	root := repoRoot(t)
	for _, v := range c.Services[service].Volumes {
		parts := strings.Split(v, ":")
		src, dst := parts[0], parts[1]
		if !strings.HasPrefix(src, ".") {
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: volume %s is not declared", service, src)
			}
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, composeDir, src))
		if err != nil {
			t.Errorf("%s: mount %s: %v", service, v, err)
			continue
		}
		target := filepath.Join(dir, dst)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestComposeStack(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	want := []string{"alertmanager", "clickhouse", "freshet", "grafana", "prometheus"}
	var got []string
	for name := range c.Services {
		got = append(got, name)
		for _, p := range c.Services[name].Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond loopback: the stack runs Freshet with --insecure", name, p)
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	fr := c.Services["freshet"]
	if fr.Build == nil || fr.Build.Dockerfile != "deploy/docker/Dockerfile" {
		t.Errorf("freshet's build %+v: want deploy/docker/Dockerfile", fr.Build)
	} else if ctx := filepath.Join(repoRoot(t), composeDir, fr.Build.Context); filepath.Clean(ctx) != repoRoot(t) {
		t.Errorf("build context %s, want the repository root", fr.Build.Context)
	}
	flags := serveFlags(t)
	if len(fr.Command) == 0 || fr.Command[0] != "serve" {
		t.Fatalf("freshet command %v: want serve", fr.Command)
	}
	args := map[string]string{}
	for _, a := range fr.Command[1:] {
		name, val, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !flags[name] {
			t.Errorf("freshet command: %s is not a flag of freshet serve", a)
		}
		args[name] = val
	}
	if !strings.HasPrefix(args["store"], "clickhouse://") || !strings.Contains(args["store"], "@clickhouse:9000/") {
		t.Errorf("--store=%s: want the clickhouse service's native port", args["store"])
	}

	// Freshet's definitions, as mounted, pass freshet check-config.
	dir := t.TempDir()
	layout(t, c, "freshet", dir)
	run(t, "", freshetBin(t), "check-config", filepath.Join(dir, args["config"]))
	if !strings.HasPrefix(args["data-dir"], "/var/lib/freshet") || !slices.ContainsFunc(fr.Volumes, func(v string) bool {
		return strings.HasSuffix(v, ":"+args["data-dir"])
	}) {
		t.Errorf("--data-dir %s is not on a volume: %v", args["data-dir"], fr.Volumes)
	}

	// Prometheus' config, with the rules where the compose file mounts
	// them, passes promtool (which checks the rule files it loads too).
	promtool := tool(t, "install Debian's prometheus package (scripts/ensure-promtool.sh)", "promtool")
	layout(t, c, "prometheus", dir)
	out := run(t, "", promtool, "check", "config", filepath.Join(dir, "etc/prometheus/prometheus.yml"))
	if !strings.Contains(out, "freshet-rules.yml") || !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool did not check the Freshet rules:\n%s", out)
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "etc/prometheus/prometheus.yml"))
	if err := yaml.Unmarshal(data, &prom); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(args["addr"], ":")
	scraped := false
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			scraped = scraped || slices.Contains(st.Targets, "freshet:"+port)
		}
	}
	if !scraped {
		t.Errorf("Prometheus does not scrape freshet:%s (--addr %s)", port, args["addr"])
	}

	amtool := tool(t, "install Debian's prometheus-alertmanager package (scripts/ensure-alertmanager.sh)", "amtool")
	layout(t, c, "alertmanager", dir)
	run(t, "", amtool, "check-config", filepath.Join(dir, "etc/alertmanager/alertmanager.yml"))

	// Grafana gets the datasource and the dashboard the provider loads.
	layout(t, c, "grafana", dir)
	var provider struct {
		Providers []struct {
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "etc/grafana/provisioning/dashboards/freshet.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &provider); err != nil || len(provider.Providers) != 1 {
		t.Fatalf("dashboard provider: %v %+v", err, provider)
	}
	if _, err := os.Stat(filepath.Join(dir, provider.Providers[0].Options.Path, "freshet.json")); err != nil {
		t.Errorf("the dashboard provider's path holds no freshet.json: %v", err)
	}
	var ds struct {
		Datasources []struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"datasources"`
	}
	data, err = os.ReadFile(filepath.Join(dir, "etc/grafana/provisioning/datasources/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &ds); err != nil || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasource %+v (%v): want the prometheus service", ds, err)
	}
}
