// Package validate checks what deploy/ ships against the real things it
// describes, so the deploy files cannot drift from the server: the Helm
// chart renders (Helm's own engine and linter) into Kubernetes objects that
// decode strictly into the client types; every YAML file parses; the
// compose stack's Prometheus and Alertmanager configs pass promtool and
// amtool; the Dockerfile parses (BuildKit's parser) and copies paths that
// exist; the systemd unit passes systemd-analyze verify and an exposure
// threshold; every metric the Grafana dashboard queries is in the /metrics
// of a real server.
//
// It is a module of its own (deploy/validate/go.mod) so that Helm's and
// Kubernetes' dependencies stay out of Freshet's. A missing tool (promtool,
// amtool, systemd-analyze) fails the tests, never skips them:
// scripts/test.sh installs them (scripts/ensure-*.sh).
//
// It refuses nothing at run time: it has only tests.
package validate
