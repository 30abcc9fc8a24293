package receiver

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A DogStatsD datagram holds messages separated by '\n', each a metric
// ("name:value|type[|@rate][|#tags]..."), an event
// ("_e{title_len,text_len}:title|text[|d:ts][|h:host][|k:key][|p:prio][|s:src][|t:type][|#tags]...")
// or a service check ("_sc|name|status[|d:ts][|h:host][|#tags][|m:message]").
// The parser below is strict: an unknown field is an error. It accepts the
// origin-detection fields datadog-go may add (c:, e:, card:) and ignores them.

type dsdMetric struct {
	Name  string
	Value float64
	Type  string
	Rate  float64
	Tags  []string
}

type dsdEvent struct {
	Title, Text                        string
	Timestamp                          int64
	Hostname, AggKey, Priority, Source string
	AlertType                          string
	Tags                               []string
}

type dsdServiceCheck struct {
	Name      string
	Status    int
	Timestamp int64
	Hostname  string
	Message   string
	Tags      []string
}

type dsdPacket struct {
	Metrics []dsdMetric
	Events  []dsdEvent
	Checks  []dsdServiceCheck
}

func parseDatagram(b []byte) (dsdPacket, error) {
	var p dsdPacket
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "_e{"):
			e, err := parseEvent(line)
			if err != nil {
				return p, err
			}
			p.Events = append(p.Events, e)
		case strings.HasPrefix(line, "_sc|"):
			sc, err := parseServiceCheck(line)
			if err != nil {
				return p, err
			}
			p.Checks = append(p.Checks, sc)
		default:
			m, err := parseMetric(line)
			if err != nil {
				return p, err
			}
			p.Metrics = append(p.Metrics, m)
		}
	}
	return p, nil
}

// originField reports fields datadog-go adds for origin detection.
func originField(f string) bool {
	return strings.HasPrefix(f, "c:") || strings.HasPrefix(f, "e:") || strings.HasPrefix(f, "card:")
}

func parseTags(f string) []string { return strings.Split(f[1:], ",") }

func parseMetric(line string) (dsdMetric, error) {
	m := dsdMetric{Rate: 1}
	fields := strings.Split(line, "|")
	name, value, ok := strings.Cut(fields[0], ":")
	if !ok || name == "" || len(fields) < 2 {
		return m, fmt.Errorf("metric %q: want name:value|type", line)
	}
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return m, fmt.Errorf("metric %q: value: %w", line, err)
	}
	m.Name, m.Value, m.Type = name, v, fields[1]
	switch m.Type {
	case "g", "c", "h", "d", "ms", "s":
	default:
		return m, fmt.Errorf("metric %q: type %q", line, m.Type)
	}
	for _, f := range fields[2:] {
		switch {
		case strings.HasPrefix(f, "@"):
			if m.Rate, err = strconv.ParseFloat(f[1:], 64); err != nil {
				return m, fmt.Errorf("metric %q: rate: %w", line, err)
			}
		case strings.HasPrefix(f, "#"):
			m.Tags = parseTags(f)
		case strings.HasPrefix(f, "T"), originField(f):
		default:
			return m, fmt.Errorf("metric %q: unknown field %q", line, f)
		}
	}
	return m, nil
}

func parseEvent(line string) (dsdEvent, error) {
	var e dsdEvent
	head, rest, ok := strings.Cut(line[len("_e{"):], "}:")
	if !ok {
		return e, fmt.Errorf("event %q: no }:", line)
	}
	tl, xl, ok := strings.Cut(head, ",")
	titleLen, err1 := strconv.Atoi(tl)
	textLen, err2 := strconv.Atoi(xl)
	if !ok || err1 != nil || err2 != nil || titleLen+1+textLen > len(rest) || rest[titleLen] != '|' {
		return e, fmt.Errorf("event %q: lengths {%s} do not match", line, head)
	}
	e.Title = rest[:titleLen]
	e.Text = strings.ReplaceAll(rest[titleLen+1:titleLen+1+textLen], `\n`, "\n")
	rest = rest[titleLen+1+textLen:]
	if rest == "" {
		return e, nil
	}
	if rest[0] != '|' {
		return e, fmt.Errorf("event %q: text longer than its length", line)
	}
	for _, f := range strings.Split(rest[1:], "|") {
		var err error
		switch {
		case strings.HasPrefix(f, "d:"):
			e.Timestamp, err = strconv.ParseInt(f[2:], 10, 64)
		case strings.HasPrefix(f, "h:"):
			e.Hostname = f[2:]
		case strings.HasPrefix(f, "k:"):
			e.AggKey = f[2:]
		case strings.HasPrefix(f, "p:"):
			e.Priority = f[2:]
		case strings.HasPrefix(f, "s:"):
			e.Source = f[2:]
		case strings.HasPrefix(f, "t:"):
			e.AlertType = f[2:]
		case strings.HasPrefix(f, "#"):
			e.Tags = parseTags(f)
		case originField(f):
		default:
			err = fmt.Errorf("unknown field %q", f)
		}
		if err != nil {
			return e, fmt.Errorf("event %q: %w", line, err)
		}
	}
	return e, nil
}

func parseServiceCheck(line string) (dsdServiceCheck, error) {
	var sc dsdServiceCheck
	body := line[len("_sc|"):]
	// m: is last and may hold '|'; cut it off first.
	if i := strings.Index(body, "|m:"); i >= 0 {
		sc.Message = strings.NewReplacer(`\n`, "\n", `m\:`, "m:").Replace(body[i+3:])
		body = body[:i]
	}
	fields := strings.Split(body, "|")
	if len(fields) < 2 || fields[0] == "" {
		return sc, fmt.Errorf("service check %q: want name|status", line)
	}
	sc.Name = fields[0]
	st, err := strconv.Atoi(fields[1])
	if err != nil || st < 0 || st > 3 {
		return sc, fmt.Errorf("service check %q: status %q", line, fields[1])
	}
	sc.Status = st
	for _, f := range fields[2:] {
		switch {
		case strings.HasPrefix(f, "d:"):
			sc.Timestamp, err = strconv.ParseInt(f[2:], 10, 64)
		case strings.HasPrefix(f, "h:"):
			sc.Hostname = f[2:]
		case strings.HasPrefix(f, "#"):
			sc.Tags = parseTags(f)
		case originField(f):
		default:
			err = fmt.Errorf("unknown field %q", f)
		}
		if err != nil {
			return sc, fmt.Errorf("service check %q: %w", line, err)
		}
	}
	return sc, nil
}

func TestParseDatagram(t *testing.T) {
	t.Parallel()
	p, err := parseDatagram([]byte("freshet.lag:12.5|g|#asset:a/b,env:prod\n" +
		"_e{5,10}:title|a|b\\nc d e|k:K|t:error|#x:1\n" +
		"_sc|svc|2|d:100|#t:1|m:msg|with m\\: pipe"))
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Metrics[0]; m.Name != "freshet.lag" || m.Value != 12.5 || m.Type != "g" || strings.Join(m.Tags, ",") != "asset:a/b,env:prod" {
		t.Fatalf("metric %+v", m)
	}
	if e := p.Events[0]; e.Title != "title" || e.Text != "a|b\nc d e" || e.AggKey != "K" || e.AlertType != "error" || e.Tags[0] != "x:1" {
		t.Fatalf("event %+v", e)
	}
	if sc := p.Checks[0]; sc.Name != "svc" || sc.Status != 2 || sc.Timestamp != 100 || sc.Message != "msg|with m: pipe" {
		t.Fatalf("service check %+v", sc)
	}
	for _, bad := range []string{"_e{9,1}:ab|c", "x:1|q", "_sc|svc|7", "m:1|g|z:1"} {
		if _, err := parseDatagram([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// dogstatsdServer collects parsed datagrams from a UDP or unixgram socket.
type dogstatsdServer struct {
	conn net.PacketConn
	addr string // for DatadogConfig.Addr

	mu      sync.Mutex
	packets dsdPacket
	errs    []error
}

func newDogstatsdUDP(t testing.TB) *dogstatsdServer {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startDogstatsd(t, c, c.LocalAddr().String())
}

func newDogstatsdUnix(t testing.TB) *dogstatsdServer {
	// Socket paths are limited to 108 bytes; t.TempDir's can be longer.
	dir, err := os.MkdirTemp("", "dsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "dsd.socket")
	c, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	return startDogstatsd(t, c, "unix://"+path)
}

func startDogstatsd(t testing.TB, c net.PacketConn, addr string) *dogstatsdServer {
	s := &dogstatsdServer{conn: c, addr: addr}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := parseDatagram(buf[:n])
			s.mu.Lock()
			if err != nil {
				s.errs = append(s.errs, err)
			}
			s.packets.Metrics = append(s.packets.Metrics, p.Metrics...)
			s.packets.Events = append(s.packets.Events, p.Events...)
			s.packets.Checks = append(s.packets.Checks, p.Checks...)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

// wait returns what arrived once there are at least n events, n service
// checks and n gauges named DatadogLagGauge; a parse error fails the test.
func (s *dogstatsdServer) wait(t testing.TB, n int) dsdPacket {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		p, errs := s.packets, s.errs
		s.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("dogstatsd: %v", errs)
		}
		gauges := 0
		for _, m := range p.Metrics {
			if m.Name == DatadogLagGauge {
				gauges++
			}
		}
		if len(p.Events) >= n && len(p.Checks) >= n && gauges >= n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("dogstatsd: got %d events, %d service checks, %d lag gauges; want %d each", len(p.Events), len(p.Checks), gauges, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
