package pipes

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Produced by Python's dagster_pipes.encode_param (json.dumps, then
// zlib.compress, then base64.b64encode).
const (
	pyMessagesPath  = "eJyrVipILMlQslJQ0i/JLdAvyCxILdbPTS0uTkxPLVaqBQCl+wrf"
	pyMessagesStdio = "eJyrViouScnMV7JSADFSi4qUagFBNAaS"
	pyContextData   = "eJx1jksOwjAMRK9SeY0EbLkKQpbbWCjQOMhJWqqod8dZ8BGC5bwZj6eCo0xw6CpQSpzxyksyeYRAmtNWeWIpDKdNB1oEvTMTdA9Nc9YFpYSe1ejOEN+zUruvq6mbVfjso7RWg1LG8Rujkpz5l5l9YJy9uDi/7SE6xok1tUS/4Gv0R4NG20wy8J/AJfYoFJ5P1/UBxSZbrA=="
)

func TestDecodePythonParams(t *testing.T) {
	t.Parallel()
	p, err := ReadMessagesParams(pyMessagesPath)
	if err != nil || p.Path != "/tmp/pipes/messages" {
		t.Errorf("path params = %+v, %v", p, err)
	}
	p, err = ReadMessagesParams(pyMessagesStdio)
	if err != nil || p.Stdio != "stderr" {
		t.Errorf("stdio params = %+v, %v", p, err)
	}
	c, err := ReadContext(pyContextData)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := c.AssetKey(); err != nil || k != "marts/revenue" || c.RunID != "r1" || c.PartitionKey != nil || c.Extras == nil {
		t.Errorf("context = %+v (%q, %v)", c, k, err)
	}
}

func TestParamRoundTrip(t *testing.T) {
	t.Parallel()
	pk := "2026-01-02"
	in := ContextData{AssetKeys: []string{"a/b"}, RunID: "run", RetryNumber: 2, PartitionKey: &pk, PartitionKeyRange: &KeyRange{pk, pk}, Extras: map[string]any{"x": "y"}}
	s, err := EncodeParam(ContextParams{Data: &in})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(s, " \n") {
		t.Errorf("encoded param %q is not one word", s)
	}
	out, err := ReadContext(s)
	if err != nil {
		t.Fatal(err)
	}
	if out.RunID != "run" || out.RetryNumber != 2 || *out.PartitionKey != pk || out.PartitionKeyRange.End != pk || out.Extras["x"] != "y" {
		t.Errorf("round trip: %+v", out)
	}
	// Unpadded base64 and surrounding space are accepted.
	if _, err := ReadContext("  " + strings.TrimRight(s, "=") + "\n"); err != nil {
		t.Errorf("unpadded: %v", err)
	}

	// The file form.
	path := filepath.Join(t.TempDir(), "context.json")
	if err := os.WriteFile(path, []byte(`{"asset_keys": ["x"], "run_id": "r", "retry_number": 0, "extras": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ = EncodeParam(ContextParams{Path: path})
	if c, err := ReadContext(s); err != nil || c.AssetKeys[0] != "x" {
		t.Errorf("path form: %+v, %v", c, err)
	}
}

func TestDecodeParamErrors(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), MaxParamBytes+10))
	_ = zw.Close()
	bomb := base64.StdEncoding.EncodeToString(buf.Bytes())
	notJSON, _ := func() (string, error) {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		_, _ = w.Write([]byte("{nope"))
		_ = w.Close()
		return base64.StdEncoding.EncodeToString(b.Bytes()), nil
	}()
	for name, c := range map[string]struct{ in, want string }{
		"base64": {"***", "base64"},
		"zlib":   {base64.StdEncoding.EncodeToString([]byte("plain")), "zlib"},
		"bomb":   {bomb, "more than"},
		"json":   {notJSON, "decode pipes param"},
	} {
		var v map[string]any
		if err := DecodeParam(c.in, &v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
	if _, err := ReadMessagesParams(""); !errors.Is(err, ErrNoSession) {
		t.Errorf("empty messages param: %v", err)
	}
	s, _ := EncodeParam(map[string]any{"bucket": "b", "key_prefix": "k"})
	if _, err := ReadMessagesParams(s); err == nil || !strings.Contains(err.Error(), "blob stores") {
		t.Errorf("blob store params: %v", err)
	}
	s, _ = EncodeParam(map[string]any{"nothing": true})
	if _, err := ReadContext(s); err == nil {
		t.Errorf("context without path or data accepted")
	}
	s, _ = EncodeParam(ContextParams{Path: "/nonexistent/context.json"})
	if _, err := ReadContext(s); err == nil || !strings.Contains(err.Error(), "read context") {
		t.Errorf("missing context file: %v", err)
	}
	var two ContextData
	two.AssetKeys = []string{"a", "b"}
	if _, err := two.AssetKey(); err == nil {
		t.Errorf("two asset keys: no error")
	}
}

func FuzzDecodeParam(f *testing.F) {
	f.Add(pyMessagesPath)
	f.Add(pyContextData)
	f.Add("")
	f.Add("eJw=")
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		_ = DecodeParam(s, &v)
		_, _ = ReadMessagesParams(s)
		_, _ = ReadContext(s)
	})
}
