package emit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/freshet-dev/freshet/openlineage"
)

// The official OpenLineage schemas (spec 2-0-2 and the facets Freshet
// sends), vendored in testdata/spec from github.com/OpenLineage/OpenLineage
// (Apache-2.0, testdata/spec/LICENSE and NOTICE.txt), each under its $id.
var specFiles = map[string]string{
	"https://openlineage.io/spec/2-0-2/OpenLineage.json":                 "OpenLineage.json",
	"https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json":       "facets/ParentRunFacet.json",
	"https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json": "facets/ErrorMessageRunFacet.json",
	"https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json":      "facets/JobTypeJobFacet.json",
}

type schemas struct {
	event, parent, errorMessage, jobType *jsonschema.Schema
}

var (
	loadSchemas = sync.OnceValues(compileSchemas)
)

func compileSchemas() (*schemas, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat() // uuid, date-time and uri are checked, not just noted
	for id, file := range specFiles {
		f, err := os.Open(filepath.Join("testdata", "spec", file))
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, err
		}
	}
	var s schemas
	var err error
	for _, x := range []struct {
		dst **jsonschema.Schema
		id  string
	}{
		{&s.event, "https://openlineage.io/spec/2-0-2/OpenLineage.json"},
		{&s.parent, "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json"},
		{&s.errorMessage, "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json"},
		{&s.jobType, "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json"},
	} {
		if *x.dst, err = c.Compile(x.id); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// checkEvent validates one emitted event against the official schema and
// the schemas of its facets, and feeds it to Freshet's own OpenLineage
// decoder (what POST /api/v1/lineage runs), which must accept it.
func checkEvent(t *testing.T, body []byte) {
	t.Helper()
	s, err := loadSchemas()
	if err != nil {
		t.Fatalf("compile the OpenLineage schemas: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("emitted event is not JSON: %v: %s", err, body)
	}
	if err := s.event.Validate(inst); err != nil {
		t.Errorf("emitted event does not validate against OpenLineage.json: %v\n%s", err, body)
	}
	ev := inst.(map[string]any)
	runFacets, _ := ev["run"].(map[string]any)["facets"].(map[string]any)
	if _, ok := runFacets["parent"]; ok {
		if err := s.parent.Validate(runFacets); err != nil {
			t.Errorf("run facets do not validate against ParentRunFacet.json: %v\n%s", err, body)
		}
	}
	if _, ok := runFacets["errorMessage"]; ok {
		if err := s.errorMessage.Validate(runFacets); err != nil {
			t.Errorf("run facets do not validate against ErrorMessageRunFacet.json: %v\n%s", err, body)
		}
	}
	jobFacets, _ := ev["job"].(map[string]any)["facets"].(map[string]any)
	if _, ok := jobFacets["jobType"]; !ok {
		t.Errorf("no jobType facet: %s", body)
	} else if err := s.jobType.Validate(jobFacets); err != nil {
		t.Errorf("job facets do not validate against JobTypeJobFacet.json: %v\n%s", err, body)
	}
	if _, err := openlineage.Decode(body, time.Now()); err != nil {
		t.Errorf("Freshet's decoder refuses the emitted event: %v\n%s", err, body)
	}
}

// TestSchemaCatchesMistakes: the validation above can fail.
func TestSchemaCatchesMistakes(t *testing.T) {
	t.Parallel()
	s, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	good := `{"eventType":"START","eventTime":"2026-12-01T10:00:00Z","run":{"runId":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"},` +
		`"job":{"namespace":"n","name":"j"},"producer":"https://x/y","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}`
	bad := map[string]string{
		"run id not a uuid": `"runId":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"` + "|" + `"runId":"run-1"`,
		"time not a time":   `"2026-12-01T10:00:00Z"` + "|" + `"yesterday"`,
		"unknown type":      `"START"` + "|" + `"BEGIN"`,
		"job without name":  `,"name":"j"` + "|" + ``,
		"no producer":       `,"producer":"https://x/y"` + "|" + ``,
	}
	check := func(doc string) error {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(doc)))
		if err != nil {
			t.Fatal(err)
		}
		return s.event.Validate(inst)
	}
	if err := check(good); err != nil {
		t.Fatalf("a valid event is refused: %v", err)
	}
	for name, edit := range bad {
		from, to, _ := bytes.Cut([]byte(edit), []byte("|"))
		doc := bytes.Replace([]byte(good), from, to, 1)
		if bytes.Equal(doc, []byte(good)) {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if check(string(doc)) == nil {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
}
