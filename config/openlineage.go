package config

import (
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// OpenLineage is the openlineage block: where Freshet sends the
// OpenLineage RunEvents of its own runs (package openlineage/emit).
//
//	openlineage:
//	  url: http://marquez:5000         # required: the consumer's base URL
//	  endpoint: api/v1/lineage         # default; the path under url
//	  namespace: freshet               # the jobs' namespace (default freshet)
//	  dataset_namespace: freshet://prod # namespace of assets not named ol/... (default freshet://<namespace>)
//	  api_key_env: MARQUEZ_API_KEY     # sent as Authorization: Bearer
//	  timeout: 10s                     # one POST (default 10s)
//	  queue_size: 10000                # events waiting to be sent (default 10000)
type OpenLineage struct {
	URL              string
	Endpoint         string // "" means the default
	Namespace        string // "" means the default
	DatasetNamespace string // "" means the default
	APIKeyEnv        string
	Timeout          time.Duration // 0 means the default
	QueueSize        int           // 0 means the default
}

var (
	openLineageFields  = []string{"url", "endpoint", "namespace", "dataset_namespace", "api_key_env", "timeout", "queue_size"}
	openLineageSecrets = map[string]string{
		"api_key": "the API key must not be written in the file: put it in an environment variable and give that variable's name as api_key_env",
		"apiKey":  "the API key must not be written in the file: put it in an environment variable and give that variable's name as api_key_env",
	}
)

// maxOpenLineageQueue bounds queue_size: each queued event holds a few KB.
const maxOpenLineageQueue = 1_000_000

func (d *decoder) openLineage(n *yaml.Node, path string) *OpenLineage {
	fs, ok := d.blockFields(n, path, openLineageFields, openLineageSecrets)
	if !ok {
		return nil
	}
	o := &OpenLineage{URL: d.requiredHTTPURL(fs, n, path, "the OpenLineage consumer's base URL, e.g. http://marquez:5000")}
	if f, ok := fs["endpoint"]; ok {
		p := join(path, "endpoint")
		if s, ok := d.str(f.val, p); ok {
			if u, err := url.Parse(s); s == "" || err != nil || u.Scheme != "" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" {
				d.addf(f.val.Line, p, "endpoint must be a path under url, such as api/v1/lineage")
			} else {
				o.Endpoint = s
			}
		}
	}
	if f, ok := fs["namespace"]; ok {
		o.Namespace = d.nonEmpty(f.val, join(path, "namespace"), "the namespace of Freshet's jobs, e.g. freshet-prod")
	}
	if f, ok := fs["dataset_namespace"]; ok {
		o.DatasetNamespace = d.nonEmpty(f.val, join(path, "dataset_namespace"), "the namespace of assets, e.g. freshet://prod")
	}
	if f, ok := fs["api_key_env"]; ok {
		o.APIKeyEnv = d.envName(f.val, join(path, "api_key_env"))
	}
	if f, ok := fs["timeout"]; ok {
		o.Timeout, _ = d.duration(f.val, join(path, "timeout"))
	}
	if f, ok := fs["queue_size"]; ok {
		o.QueueSize, _ = d.integer(f.val, join(path, "queue_size"), 1, maxOpenLineageQueue)
	}
	return o
}

// nonEmpty decodes a string that must hold something other than white space.
func (d *decoder) nonEmpty(n *yaml.Node, path, what string) string {
	s, ok := d.str(n, path)
	if !ok {
		return ""
	}
	if strings.TrimSpace(s) == "" {
		d.addf(n.Line, path, "must not be empty: %s", what)
		return ""
	}
	return s
}
