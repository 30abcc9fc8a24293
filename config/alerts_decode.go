package config

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/freshet-dev/freshet/asset"
)

// This file decodes the alerts block (receivers and rules) into Alerting.
// Secrets are refused in the file itself: a receiver names the environment
// variable that holds its secret (*_env fields), and a field such as
// routing_key: or secret: is reported with the field to use instead.

var (
	alertsFields        = []string{"receivers", "rules"}
	receiverFields      = []string{"name", "type", "rate_per_minute", ReceiverPagerDuty, ReceiverDatadog, ReceiverAlertmanager, ReceiverWebhook}
	pagerDutyFields     = []string{"routing_key_env", "endpoint", "source", "timeout"}
	datadogFields       = []string{"addr", "tags"}
	alertmanagerFields  = []string{"urls", "generator_url", "timeout"}
	webhookFields       = []string{"url", "secret_env", "headers", "timeout"}
	ruleFields          = []string{"name", "when", "check_severity", "select", "receivers", "severity", "repeat_interval", "quiet_hours"}
	quietHoursFields    = []string{"start", "end", "timezone", "days"}
	alertSelectorFields = slices.Concat([]string{"keys"}, selectorFields)

	receiverTypes  = []string{ReceiverPagerDuty, ReceiverDatadog, ReceiverAlertmanager, ReceiverWebhook, ReceiverLog}
	ruleConditions = []string{WhenFreshnessFail, WhenFreshnessAtRisk, WhenFreshnessWarn, WhenFreshnessUnknown, WhenMaterialization, WhenCheckFailed, WhenRunFailed}
	ruleSeverities = []string{"critical", "error", "warning", "info"}
	weekdays       = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} // indexed by time.Weekday
)

// Messages for the fields people write when they paste a secret into the
// file, by block. Each says where the secret goes instead.
var (
	routingKeyMsg = "the routing key must not be written in the file: put it in an environment variable and give that variable's name as routing_key_env"
	secretMsg     = "the signing secret must not be written in the file: put it in an environment variable and give that variable's name as secret_env"
	apiKeyMsg     = "DogStatsD needs no API key (the Datadog agent holds it); an API key must not be written in the file anyway"

	pagerDutySecrets = map[string]string{"routing_key": routingKeyMsg, "integration_key": routingKeyMsg, "service_key": routingKeyMsg}
	webhookSecrets   = map[string]string{"secret": secretMsg, "signing_secret": secretMsg}
	datadogSecrets   = map[string]string{"api_key": apiKeyMsg}
	// At the receiver level these are misplaced as well as secret.
	receiverSecrets = map[string]string{"routing_key": routingKeyMsg, "secret": secretMsg, "api_key": apiKeyMsg}
)

// minRepeatInterval keeps a rule from paging someone every few seconds.
const minRepeatInterval = time.Minute

// alerting decodes the alerts block. Receivers are decoded first, whatever
// the order in the file, so that rules can be checked against their names.
func (d *decoder) alerting(n *yaml.Node, path string) Alerting {
	var a Alerting
	fs, ok := d.fields(n, path, alertsFields)
	if !ok {
		return a
	}
	// Every receiver name written, valid or not, so that a rule naming a
	// receiver that has its own problem is not also reported as unknown.
	names := make(map[string]int)
	if f, ok := fs["receivers"]; ok {
		p := join(path, "receivers")
		for i, r := range d.seq(f.val, p) {
			a.Receivers = append(a.Receivers, d.receiver(r, index(p, i), names))
		}
	}
	if f, ok := fs["rules"]; ok {
		p := join(path, "rules")
		refs := &ruleRefs{receivers: names, declared: slices.Sorted(maps.Keys(names)), rules: make(map[string]int), suggestions: maxSuggestions}
		for i, r := range d.seq(f.val, p) {
			a.Rules = append(a.Rules, d.rule(r, index(p, i), refs))
		}
	}
	return a
}

// blockFields is fields for a mapping that must not hold secrets: a field
// named in secrets is reported with its message instead of as unknown.
// requiredHTTPURL reads a block's required http(s) "url" member; hint
// says what it is, with an example. "" when it is missing or bad (the
// problem is recorded).
func (d *decoder) requiredHTTPURL(fs map[string]field, n *yaml.Node, path, hint string) string {
	p := join(path, "url")
	f, ok := fs["url"]
	if !ok {
		d.addf(n.Line, p, "url is required: %s", hint)
		return ""
	}
	switch s, ok := d.str(f.val, p); {
	case !ok:
	case s == "":
		d.addf(f.val.Line, p, "url must not be empty: %s", hint)
	case checkHTTPURL(s) != "":
		d.addf(f.val.Line, p, "%s", checkHTTPURL(s))
	default:
		return s
	}
	return ""
}

func (d *decoder) blockFields(n *yaml.Node, path string, known []string, secrets map[string]string) (map[string]field, bool) {
	if n = d.resolve(n); n == nil {
		return nil, false
	}
	if n.Kind == yaml.MappingNode {
		kept := make([]*yaml.Node, 0, len(n.Content))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" {
				if msg, ok := secrets[k.Value]; ok {
					d.addf(k.Line, join(path, k.Value), "%s", msg)
					continue
				}
			}
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		if len(kept) != len(n.Content) {
			c := *n
			c.Content = kept
			n = &c
		}
	}
	return d.fields(n, path, known)
}

// uniqueName decodes a receiver or rule name: required, in the check-name
// alphabet, unique among seen (which it updates).
func (d *decoder) uniqueName(n *yaml.Node, fs map[string]field, path, what string, seen map[string]int) string {
	p := join(path, "name")
	f, ok := fs["name"]
	if !ok {
		d.addf(n.Line, p, "name is required")
		return ""
	}
	s, ok := d.str(f.val, p)
	if !ok {
		return ""
	}
	switch first, dup := seen[s]; {
	case s == "":
		d.addf(f.val.Line, p, "name must not be empty")
		return s
	case dup:
		d.addf(f.val.Line, p, "duplicate %s name %q (first at line %d)", what, s, first)
		return s
	case !validCheckName(s):
		d.addf(f.val.Line, p, "invalid %s name %q: use letters, digits, '_', '.' and '-'", what, s)
	}
	seen[s] = f.val.Line
	return s
}

func (d *decoder) receiver(n *yaml.Node, path string, names map[string]int) Receiver {
	var r Receiver
	if n = d.resolve(n); n == nil {
		return r
	}
	fs, ok := d.blockFields(n, path, receiverFields, receiverSecrets)
	if !ok {
		return r
	}
	r.Name = d.uniqueName(n, fs, path, "receiver", names)
	typePath := join(path, "type")
	if f, ok := fs["type"]; !ok {
		d.addf(n.Line, typePath, "type is required: %s", orList(receiverTypes))
	} else if s, ok := d.str(f.val, typePath); ok {
		if slices.Contains(receiverTypes, s) {
			r.Type = s
		} else {
			d.addf(f.val.Line, typePath, "unknown receiver type %q; use %s", s, orList(receiverTypes))
		}
	}
	if f, ok := fs["rate_per_minute"]; ok {
		r.RatePerMinute, _ = d.integer(f.val, join(path, "rate_per_minute"), 0, maxLimit)
	}
	// Decode the type's block, and any block when the type is missing or
	// wrong (its problems are still worth showing); other blocks are
	// mistakes: only one applies.
	for _, t := range receiverTypes {
		if t == ReceiverLog {
			continue // no block
		}
		f, ok := fs[t]
		if !ok {
			if t == r.Type {
				d.addf(n.Line, join(path, t), "a %s receiver needs a %s block, e.g. %s", t, t, blockExample[t])
			}
			continue
		}
		p := join(path, t)
		if r.Type != "" && t != r.Type {
			d.addf(f.key.Line, p, "a %s block in a receiver of type %s; only the %s block applies (remove this one or change type)", t, r.Type, r.Type)
			continue
		}
		switch t {
		case ReceiverPagerDuty:
			r.PagerDuty = d.pagerDutyReceiver(f.val, p)
		case ReceiverDatadog:
			r.Datadog = d.datadogReceiver(f.val, p)
		case ReceiverAlertmanager:
			r.Alertmanager = d.alertmanagerReceiver(f.val, p)
		case ReceiverWebhook:
			r.Webhook = d.webhookReceiver(f.val, p)
		}
	}
	return r
}

var blockExample = map[string]string{
	ReceiverPagerDuty:    "{routing_key_env: PD_ROUTING_KEY}",
	ReceiverDatadog:      "{addr: 127.0.0.1:8125} or {} for the defaults",
	ReceiverAlertmanager: "{urls: [http://alertmanager:9093]}",
	ReceiverWebhook:      "{url: https://hooks.example.com/freshet}",
}

func (d *decoder) pagerDutyReceiver(n *yaml.Node, path string) *PagerDutyReceiver {
	if n = d.resolve(n); n == nil {
		return nil
	}
	fs, ok := d.blockFields(n, path, pagerDutyFields, pagerDutySecrets)
	if !ok {
		return nil
	}
	p := &PagerDutyReceiver{}
	if f, ok := fs["routing_key_env"]; ok {
		p.RoutingKeyEnv = d.envName(f.val, join(path, "routing_key_env"))
	} else {
		d.addf(n.Line, join(path, "routing_key_env"), "routing_key_env is required: the name of the environment variable holding the integration's routing key")
	}
	if f, ok := fs["endpoint"]; ok {
		p.Endpoint = d.httpURL(f.val, join(path, "endpoint"))
	}
	if f, ok := fs["source"]; ok {
		p.Source, _ = d.str(f.val, join(path, "source"))
	}
	if f, ok := fs["timeout"]; ok {
		p.Timeout, _ = d.duration(f.val, join(path, "timeout"))
	}
	return p
}

func (d *decoder) datadogReceiver(n *yaml.Node, path string) *DatadogReceiver {
	fs, ok := d.blockFields(n, path, datadogFields, datadogSecrets)
	if !ok {
		return nil
	}
	r := &DatadogReceiver{}
	if f, ok := fs["addr"]; ok {
		p := join(path, "addr")
		if s, ok := d.str(f.val, p); ok {
			if err := checkDogStatsDAddr(s); err != nil {
				d.addf(f.val.Line, p, "%v", err)
			} else {
				r.Addr = s
			}
		}
	}
	if f, ok := fs["tags"]; ok {
		r.Tags = d.stringList(f.val, join(path, "tags"))
	}
	return r
}

// checkDogStatsDAddr accepts what datadog-go dials: host:port (UDP) or a
// unix://, unixgram:// or unixstream:// socket path. An empty address is
// the default, 127.0.0.1:8125.
func checkDogStatsDAddr(s string) error {
	if s == "" {
		return nil
	}
	for _, scheme := range []string{"unix://", "unixgram://", "unixstream://"} {
		if path, ok := strings.CutPrefix(s, scheme); ok {
			if !strings.HasPrefix(path, "/") {
				return fmt.Errorf("%q: a socket address needs an absolute path, e.g. %s/var/run/datadog/dsd.socket", s, scheme)
			}
			return nil
		}
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("%q: want host:port (UDP), e.g. 127.0.0.1:8125, or unix:///path/to/dsd.socket", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port %q is not a number in 1..65535", s, port)
	}
	return nil
}

func (d *decoder) alertmanagerReceiver(n *yaml.Node, path string) *AlertmanagerReceiver {
	if n = d.resolve(n); n == nil {
		return nil
	}
	fs, ok := d.fields(n, path, alertmanagerFields)
	if !ok {
		return nil
	}
	a := &AlertmanagerReceiver{}
	urlsPath := join(path, "urls")
	if f, ok := fs["urls"]; ok {
		before := len(d.problems)
		items := d.list(f.val, urlsPath, true)
		seen := make(map[string]int, len(items))
		for i, it := range items {
			p := index(urlsPath, i)
			if j, dup := seen[it.value]; dup {
				d.addf(it.line, p, "duplicate URL (also urls[%d])", j)
				continue
			}
			seen[it.value] = i
			if msg := checkHTTPURL(it.value); msg != "" {
				d.addf(it.line, p, "%s", msg)
				continue
			}
			a.URLs = append(a.URLs, it.value)
		}
		if len(items) == 0 && len(d.problems) == before {
			d.addf(f.val.Line, urlsPath, "urls must not be empty: give the base URL of each Alertmanager, e.g. [http://alertmanager:9093]")
		}
	} else {
		d.addf(n.Line, urlsPath, "urls is required: the base URL of each Alertmanager, e.g. [http://alertmanager:9093]")
	}
	if f, ok := fs["generator_url"]; ok {
		a.GeneratorURL = d.httpURL(f.val, join(path, "generator_url"))
	}
	if f, ok := fs["timeout"]; ok {
		a.Timeout, _ = d.duration(f.val, join(path, "timeout"))
	}
	return a
}

func (d *decoder) webhookReceiver(n *yaml.Node, path string) *WebhookReceiver {
	if n = d.resolve(n); n == nil {
		return nil
	}
	fs, ok := d.blockFields(n, path, webhookFields, webhookSecrets)
	if !ok {
		return nil
	}
	w := &WebhookReceiver{URL: d.requiredHTTPURL(fs, n, path, "where to POST, e.g. https://hooks.example.com/freshet")}
	if f, ok := fs["secret_env"]; ok {
		w.SecretEnv = d.envName(f.val, join(path, "secret_env"))
	}
	if f, ok := fs["headers"]; ok {
		w.Headers = d.headers(f.val, join(path, "headers"))
	}
	if f, ok := fs["timeout"]; ok {
		w.Timeout, _ = d.duration(f.val, join(path, "timeout"))
	}
	return w
}

// envName decodes the name of an environment variable holding a secret.
// Problems never quote what was written: when it is not a name, it may
// well be the secret itself.
func (d *decoder) envName(n *yaml.Node, path string) string {
	s, ok := d.str(n, path)
	switch {
	case !ok:
		return ""
	case s == "":
		d.addf(n.Line, path, "must not be empty: name the environment variable that holds the secret, e.g. PD_ROUTING_KEY")
	case looksLikeSecret(s):
		d.addf(n.Line, path, "this looks like a secret, not a variable name: put the secret in an environment variable and write that variable's name here")
	case !validVarName(s):
		d.addf(n.Line, path, "not an environment variable name: use a letter or _ followed by letters, digits and _, e.g. PD_ROUTING_KEY")
	default:
		return s
	}
	return ""
}

// looksLikeSecret guesses that s, written where a variable name belongs, is
// a key or token instead: long, with letters and digits mixed and none of
// the underscores variable names use (PagerDuty routing keys are 32
// lower-case hex digits).
func looksLikeSecret(s string) bool {
	if len(s) < 20 || strings.Contains(s, "_") {
		return false
	}
	var lower, digit bool
	for _, c := range s {
		lower = lower || c >= 'a' && c <= 'z'
		digit = digit || c >= '0' && c <= '9'
	}
	return lower && digit
}

// httpURL decodes an absolute http(s) URL; "" when absent or invalid.
func (d *decoder) httpURL(n *yaml.Node, path string) string {
	s, ok := d.str(n, path)
	if !ok || s == "" {
		return ""
	}
	if msg := checkHTTPURL(s); msg != "" {
		d.addf(n.Line, path, "%s", msg)
		return ""
	}
	return s
}

// checkHTTPURL says what is wrong with s as an absolute http(s) URL, or "".
// The URL is not quoted back: a webhook URL (Slack's) can be a secret.
func checkHTTPURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "not an absolute http(s) URL: want http(s)://host[:port][/path]"
	case u.User != nil:
		return "credentials (user:password@) must not be written in the file"
	}
	return ""
}

// Headers a webhook sets itself.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "X-Freshet-Key", "X-Freshet-Signature"}

// headers decodes a webhook's extra headers. Values may use ${NAME}, taken
// from the server's environment when the receiver is built, which is how a
// credential (Authorization: "Bearer ${HOOK_TOKEN}") stays out of the file;
// a credential header with a literal value is refused.
func (d *decoder) headers(n *yaml.Node, path string) map[string]string {
	if n = d.resolve(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "expected a mapping of Header-Name: value, got %s", describe(n))
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	lines := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.addf(k.Line, path, "header names must be plain strings, got %s", describeKey(k))
			continue
		}
		p := join(path, k.Value)
		canon := http.CanonicalHeaderKey(k.Value)
		if first, dup := lines[canon]; dup {
			d.addf(k.Line, p, "duplicate header %q (first at line %d)", k.Value, first)
			continue
		}
		lines[canon] = k.Line
		if !validHeaderName(k.Value) {
			d.addf(k.Line, p, "invalid header name %q: use letters, digits and - (no spaces or ':')", k.Value)
			continue
		}
		if slices.Contains(reservedHeaders, canon) {
			d.addf(k.Line, p, "%s is set by Freshet and cannot be configured", canon)
			continue
		}
		vn := n.Content[i+1]
		v, ok := d.str(vn, p)
		if !ok {
			continue
		}
		switch _, err := ExpandEnv(v, func(string) (string, bool) { return "", true }); {
		case strings.ContainsAny(v, "\r\n"):
			d.addf(vn.Line, p, "a header value must be one line")
		case err != nil:
			d.addf(vn.Line, p, "%v", err)
		case credentialHeader(canon) && !strings.Contains(v, "${"):
			d.addf(vn.Line, p, "a credential must not be written in the file: put it in an environment variable and write ${NAME}, e.g. \"Bearer ${HOOK_TOKEN}\"")
		default:
			out[k.Value] = v
		}
	}
	return out
}

// validHeaderName: an HTTP token (RFC 9110 tchar).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// credentialHeader guesses whether a header carries a credential.
func credentialHeader(canon string) bool {
	l := strings.ToLower(canon)
	if l == "authorization" || l == "proxy-authorization" || l == "cookie" {
		return true
	}
	for _, w := range []string{"token", "secret", "password", "api-key", "apikey"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// ruleRefs is what rules are checked against.
type ruleRefs struct {
	receivers map[string]int // every receiver name written
	declared  []string       // the same, sorted
	rules     map[string]int // rule names so far, to their line
	// suggestions bounds the "did you mean" searches, each a scan of every
	// receiver, as for deps (maxSuggestions).
	suggestions int
	// zones caches time.LoadLocation, which reads the zone database.
	zones map[string]*time.Location
}

func (d *decoder) rule(n *yaml.Node, path string, refs *ruleRefs) AlertRule {
	var r AlertRule
	if n = d.resolve(n); n == nil {
		return r
	}
	fs, ok := d.fields(n, path, ruleFields)
	if !ok {
		return r
	}
	r.Name = d.uniqueName(n, fs, path, "rule", refs.rules)

	whenPath := join(path, "when")
	whenOK := false
	if f, ok := fs["when"]; ok {
		before := len(d.problems)
		items := d.list(f.val, whenPath, true)
		seen := make(map[string]int, len(items))
		for i, it := range items {
			p := index(whenPath, i)
			if j, dup := seen[it.value]; dup {
				d.addf(it.line, p, "duplicate condition %q (also when[%d])", it.value, j)
				continue
			}
			seen[it.value] = i
			if !slices.Contains(ruleConditions, it.value) {
				d.addf(it.line, p, "unknown condition %q%s; use %s", it.value, didYouMean(it.value, ruleConditions), orList(ruleConditions))
				continue
			}
			r.When = append(r.When, it.value)
		}
		if len(items) == 0 && len(d.problems) == before {
			d.addf(f.val.Line, whenPath, "when must not be empty: give one or more of %s", strings.Join(ruleConditions, ", "))
		}
		whenOK = len(d.problems) == before
	} else {
		d.addf(n.Line, whenPath, "when is required: one or more of %s", strings.Join(ruleConditions, ", "))
	}

	if f, ok := fs["check_severity"]; ok {
		p := join(path, "check_severity")
		if s, ok := d.str(f.val, p); ok {
			switch sev := asset.Severity(s); {
			case sev != asset.SeverityWarn && sev != asset.SeverityError:
				d.addf(f.val.Line, p, "unknown check severity %q; use warn or error", s)
			case whenOK && !slices.Contains(r.When, WhenCheckFailed):
				d.addf(f.key.Line, p, "check_severity applies to check_failed only; add check_failed to when or remove check_severity")
			default:
				r.CheckSeverity = sev
			}
		}
	}
	if r.CheckSeverity == "" && slices.Contains(r.When, WhenCheckFailed) {
		r.CheckSeverity = asset.SeverityError
	}

	if f, ok := fs["select"]; ok {
		r.Select = d.alertSelector(f, join(path, "select"))
	}

	rcvPath := join(path, "receivers")
	if f, ok := fs["receivers"]; ok {
		before := len(d.problems)
		items := d.list(f.val, rcvPath, true)
		seen := make(map[string]int, len(items))
		for i, it := range items {
			p := index(rcvPath, i)
			if j, dup := seen[it.value]; dup {
				d.addf(it.line, p, "duplicate receiver %q (also receivers[%d])", it.value, j)
				continue
			}
			seen[it.value] = i
			if _, ok := refs.receivers[it.value]; !ok {
				d.addf(it.line, p, "unknown receiver %q%s", it.value, refs.hint(it.value))
				continue
			}
			r.Receivers = append(r.Receivers, it.value)
		}
		if len(items) == 0 && len(d.problems) == before {
			d.addf(f.val.Line, rcvPath, "receivers must not be empty: name one or more of alerts.receivers")
		}
	} else {
		d.addf(n.Line, rcvPath, "receivers is required: name one or more of alerts.receivers")
	}

	if f, ok := fs["severity"]; ok {
		p := join(path, "severity")
		if s, ok := d.str(f.val, p); ok && s != "" {
			if slices.Contains(ruleSeverities, s) {
				r.Severity = s
			} else {
				d.addf(f.val.Line, p, "unknown severity %q; use %s", s, orList(ruleSeverities))
			}
		}
	}
	if f, ok := fs["repeat_interval"]; ok {
		p := join(path, "repeat_interval")
		if v, ok := d.duration(f.val, p); ok {
			if v > 0 && v < minRepeatInterval {
				d.addf(f.val.Line, p, "repeat_interval %s is too short: at least %s (or 0 to never repeat)", asset.FormatDuration(v), asset.FormatDuration(minRepeatInterval))
			} else {
				r.RepeatInterval = v
			}
		}
	}
	if q, ok := present(d, fs, "quiet_hours"); ok {
		r.QuietHours = d.quietHours(q, join(path, "quiet_hours"), refs)
	}
	return r
}

// hint follows "unknown receiver": a suggestion, else the receivers
// declared (the first few of many).
func (refs *ruleRefs) hint(name string) string {
	if len(refs.declared) == 0 {
		return "; no receivers are declared under alerts.receivers"
	}
	if refs.suggestions > 0 {
		refs.suggestions--
		if s := didYouMean(name, refs.declared); s != "" {
			return s
		}
	}
	const shown = 10
	if len(refs.declared) > shown {
		return fmt.Sprintf("; declared receivers: %s and %d more", strings.Join(refs.declared[:shown], ", "), len(refs.declared)-shown)
	}
	return "; declared receivers: " + strings.Join(refs.declared, ", ")
}

// didYouMean returns ` (did you mean "x"?)` for the candidate a typo away
// from s, or "".
func didYouMean(s string, candidates []string) string {
	// At most a quarter of s, and never all of it ("x" is no typo of "d").
	limit := min(3, max(1, len(s)/4), len(s)-1)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if dist := editDistance(s, c, bestDist-1); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// orList formats names as "a, b, c or d".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// alertSelector decodes a rule's select: the freshness_policies selectors
// (decoded by d.selector, so they mean the same thing) plus keys, a list
// of asset keys. An empty select is an error; to match every asset, leave
// select out.
func (d *decoder) alertSelector(f field, path string) *Selector {
	n := d.resolve(f.val)
	if n == nil {
		return nil
	}
	before := len(d.problems)
	fs, ok := d.fields(n, path, alertSelectorFields)
	if !ok {
		return nil
	}
	s := &Selector{}
	if k, ok := fs["keys"]; ok {
		delete(fs, "keys")
		kp := join(path, "keys")
		kb := len(d.problems)
		items := d.list(k.val, kp, true)
		seen := make(map[asset.Key]int, len(items))
		for i, it := range items {
			p := index(kp, i)
			key, err := asset.ParseKey(it.value)
			if err != nil {
				d.addf(it.line, p, "%v", err)
				continue
			}
			if j, dup := seen[key]; dup {
				d.addf(it.line, p, "duplicate key %s (also keys[%d])", key, j)
				continue
			}
			seen[key] = i
			s.Keys = append(s.Keys, key)
		}
		if len(items) == 0 && len(d.problems) == kb {
			d.addf(k.val.Line, kp, "keys must not be empty: list asset keys, or leave keys out")
		}
	}
	if len(fs) > 0 {
		// The other selectors as a mapping of their own, for d.selector.
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
		for _, name := range selectorFields {
			if sf, ok := fs[name]; ok {
				m.Content = append(m.Content, sf.key, sf.val)
			}
		}
		sel, _ := d.selector(field{key: f.key, val: m}, path)
		s.Group, s.Owner, s.Tag, s.Kind, s.KeyPrefix = sel.group, sel.owner, sel.tag, sel.kind, sel.prefix
	} else if len(s.Keys) == 0 && len(d.problems) == before {
		d.addf(f.key.Line, path, "select is empty; give at least one of %s (leave select out to match every asset)", strings.Join(alertSelectorFields, ", "))
	}
	return s
}

func (d *decoder) quietHours(n *yaml.Node, path string, refs *ruleRefs) *QuietHours {
	fs, ok := d.fields(n, path, quietHoursFields)
	if !ok {
		return nil
	}
	q := &QuietHours{Location: time.UTC}
	startOK, endOK := false, false
	if f, ok := fs["start"]; ok {
		q.Start, startOK = d.clock(f.val, join(path, "start"), false)
	} else {
		d.addf(n.Line, join(path, "start"), "start is required: when the quiet window opens, as HH:MM")
	}
	if f, ok := fs["end"]; ok {
		q.End, endOK = d.clock(f.val, join(path, "end"), true)
		if startOK && endOK && q.Start == q.End {
			d.addf(f.val.Line, join(path, "end"), "end equals start: the window would be empty (for a whole day write start: \"00:00\", end: \"24:00\")")
		}
	} else {
		d.addf(n.Line, join(path, "end"), "end is required: when the quiet window closes, as HH:MM (before start to end the next day)")
	}
	if f, ok := fs["timezone"]; ok {
		p := join(path, "timezone")
		if s, ok := d.str(f.val, p); ok && s != "" {
			switch loc, err := refs.zone(s); {
			case s == "Local":
				d.addf(f.val.Line, p, "timezone %q: name a zone such as Europe/Paris (Local depends on the host)", s)
			case err != nil:
				d.addf(f.val.Line, p, "timezone %q: %v", s, err)
			default:
				q.Location = loc
			}
		}
	}
	if f, ok := fs["days"]; ok {
		p := join(path, "days")
		before := len(d.problems)
		items := d.list(f.val, p, true)
		seen := make(map[time.Weekday]int, len(items))
		for i, it := range items {
			ip := index(p, i)
			wd := slices.Index(weekdays, strings.ToLower(it.value))
			if wd < 0 {
				d.addf(it.line, ip, "unknown day %q; use mon, tue, wed, thu, fri, sat or sun", it.value)
				continue
			}
			if j, dup := seen[time.Weekday(wd)]; dup {
				d.addf(it.line, ip, "duplicate day %q (also days[%d])", it.value, j)
				continue
			}
			seen[time.Weekday(wd)] = i
			q.Days = append(q.Days, time.Weekday(wd))
		}
		if len(items) == 0 && len(d.problems) == before {
			d.addf(f.val.Line, p, "days must not be empty; leave it out for every day")
		}
	}
	return q
}

// clock decodes a wall-clock time "HH:MM" (00:00..23:59; 24:00 too when
// allow24, for a window that ends at midnight) as the time since midnight.
func (d *decoder) clock(n *yaml.Node, path string, allow24 bool) (time.Duration, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	h, m, found := strings.Cut(s, ":")
	hh, herr := strconv.Atoi(h)
	mm, merr := strconv.Atoi(m)
	valid := found && len(h) >= 1 && len(h) <= 2 && len(m) == 2 && herr == nil && merr == nil &&
		hh >= 0 && mm >= 0 && mm < 60 && (hh < 24 || allow24 && hh == 24 && mm == 0)
	if !valid {
		hint := "00:00 to 23:59"
		if allow24 {
			hint = "00:00 to 24:00"
		}
		d.addf(n.Line, path, "%q is not a time of day: write HH:MM, %s, in quotes (e.g. \"22:00\")", s, hint)
		return 0, false
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
}

func (refs *ruleRefs) zone(name string) (*time.Location, error) {
	if loc, ok := refs.zones[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err == nil {
		if refs.zones == nil {
			refs.zones = make(map[string]*time.Location)
		}
		refs.zones[name] = loc
	}
	return loc, err
}
