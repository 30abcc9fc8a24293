package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOpenLineageBlock(t *testing.T) {
	t.Parallel()
	f, err := Parse("ok.yaml", []byte(`openlineage:
  url: http://marquez:5000
  endpoint: api/v1/lineage
  namespace: freshet-prod
  dataset_namespace: freshet://prod
  api_key_env: MARQUEZ_API_KEY
  timeout: 5s
  queue_size: 500
`))
	if err != nil {
		t.Fatal(err)
	}
	want := OpenLineage{URL: "http://marquez:5000", Endpoint: "api/v1/lineage", Namespace: "freshet-prod",
		DatasetNamespace: "freshet://prod", APIKeyEnv: "MARQUEZ_API_KEY", Timeout: 5 * time.Second, QueueSize: 500}
	if f.OpenLineage == nil || *f.OpenLineage != want {
		t.Errorf("got %+v, want %+v", f.OpenLineage, want)
	}
	if f, err := Parse("none.yaml", []byte("assets: []\n")); err != nil || f.OpenLineage != nil {
		t.Errorf("no block: %+v, %v", f.OpenLineage, err)
	}
}

func TestOpenLineageProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"a list", "openlineage: [a]\n", 1, "openlineage", "expected a mapping, got a list"},
		{"url missing", "openlineage:\n  namespace: x\n", 2, "openlineage.url", "url is required"},
		{"url empty", "openlineage: {url: ''}\n", 1, "openlineage.url", "url must not be empty"},
		{"url not http", "openlineage: {url: 'marquez:5000'}\n", 1, "openlineage.url", "not an absolute http(s) URL"},
		{"url with password", "openlineage: {url: 'http://u:p@marquez'}\n", 1, "openlineage.url", "credentials (user:password@) must not be written"},
		{"unknown field", "openlineage:\n  url: http://m\n  transport: http\n", 3, "openlineage.transport", `unknown field "transport"; known fields: url, endpoint, namespace, dataset_namespace, api_key_env, timeout, queue_size`},
		{"api key written", "openlineage:\n  url: http://m\n  api_key: abc\n", 3, "openlineage.api_key", "must not be written in the file"},
		{"api_key_env not a name", "openlineage: {url: 'http://m', api_key_env: 'my-key'}\n", 1, "openlineage.api_key_env", "not an environment variable name"},
		{"endpoint a URL", "openlineage: {url: 'http://m', endpoint: 'http://x/api'}\n", 1, "openlineage.endpoint", "endpoint must be a path under url"},
		{"endpoint with query", "openlineage: {url: 'http://m', endpoint: 'api?x=1'}\n", 1, "openlineage.endpoint", "endpoint must be a path under url"},
		{"namespace empty", "openlineage: {url: 'http://m', namespace: ' '}\n", 1, "openlineage.namespace", "must not be empty"},
		{"dataset_namespace a list", "openlineage: {url: 'http://m', dataset_namespace: [a]}\n", 1, "openlineage.dataset_namespace", "expected a string, got a list"},
		{"timeout without unit", "openlineage: {url: 'http://m', timeout: 10}\n", 1, "openlineage.timeout", "10 has no unit"},
		{"queue_size zero", "openlineage: {url: 'http://m', queue_size: 0}\n", 1, "openlineage.queue_size", ""},
		{"queue_size huge", "openlineage: {url: 'http://m', queue_size: 100000000}\n", 1, "openlineage.queue_size", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("want problems, got %v", err)
			}
			for _, p := range ps {
				if p.Line == tc.line && p.Field == tc.field && strings.Contains(p.Message, tc.msg) {
					return
				}
			}
			t.Errorf("no problem at line %d, %s, %q in:\n%v", tc.line, tc.field, tc.msg, err)
		})
	}
}
