package emit

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/openlineage"
)

// The spec version the events are written to, and the schemas of the
// facets they carry (the files vendored in testdata/spec, which the tests
// validate every event against).
const (
	SchemaURL        = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	parentSchema     = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
	errorSchema      = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	jobTypeSchema    = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	DefaultProducer  = "https://github.com/freshet-dev/freshet"
	DefaultNamespace = "freshet"
	// RunJob is the name of the job whose runs are Freshet's runs: each
	// step's run names it as its parent.
	RunJob = "freshet_run"
	// integration is what jobType says ran the job.
	integration = "FRESHET"
)

// Event types.
const (
	Start    = "START"
	Complete = "COMPLETE"
	Fail     = "FAIL"
	Abort    = "ABORT"
)

// RunEvent is an OpenLineage RunEvent as Freshet writes it.
type RunEvent struct {
	EventType string    `json:"eventType"`
	EventTime string    `json:"eventTime"`
	Run       Run       `json:"run"`
	Job       Job       `json:"job"`
	Inputs    []Dataset `json:"inputs"`
	Outputs   []Dataset `json:"outputs"`
	Producer  string    `json:"producer"`
	SchemaURL string    `json:"schemaURL"`
}

// Run is the event's run.
type Run struct {
	RunID  string    `json:"runId"`
	Facets RunFacets `json:"facets,omitzero"`
}

// RunFacets are the run facets Freshet sends.
type RunFacets struct {
	Parent       *ParentFacet       `json:"parent,omitempty"`
	ErrorMessage *ErrorMessageFacet `json:"errorMessage,omitempty"`
}

// Job is the event's job.
type Job struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Facets    JobFacets `json:"facets"`
}

// JobFacets are the job facets Freshet sends.
type JobFacets struct {
	JobType *JobTypeFacet `json:"jobType,omitempty"`
}

// Dataset is an input or output.
type Dataset struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// facetBase is what every facet carries.
type facetBase struct {
	Producer  string `json:"_producer"`
	SchemaURL string `json:"_schemaURL"`
}

// ParentFacet links a step's run to the Freshet run it belongs to.
type ParentFacet struct {
	facetBase
	Run  ParentRun  `json:"run"`
	Job  ParentJob  `json:"job"`
	Root *RootFacet `json:"root,omitempty"`
}

// ParentRun names the parent run.
type ParentRun struct {
	RunID string `json:"runId"`
}

// ParentJob names the parent job.
type ParentJob struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// RootFacet is the root of the hierarchy: the Freshet run too.
type RootFacet struct {
	Run ParentRun `json:"run"`
	Job ParentJob `json:"job"`
}

// ErrorMessageFacet says why a step failed.
type ErrorMessageFacet struct {
	facetBase
	Message             string `json:"message"`
	ProgrammingLanguage string `json:"programmingLanguage"`
}

// JobTypeFacet says what kind of job it is.
type JobTypeFacet struct {
	facetBase
	ProcessingType string `json:"processingType"`
	Integration    string `json:"integration"`
	JobType        string `json:"jobType,omitempty"`
}

// stepRunNS seeds the name-based UUIDs of steps' runs.
var stepRunNS = uuid.MustParse("6f0c4d55-3b8e-4f61-9a43-2f1f0c6f7e21")

// StepRunID is the OpenLineage runId of the step of run for key: a
// name-based UUID (version 5), so every event of the step, and a resend,
// names the same run.
func StepRunID(run string, key asset.Key) string {
	return uuid.NewSHA1(stepRunNS, []byte(run+"\x00"+string(key))).String()
}

// runUUID is the OpenLineage runId of a Freshet run: its id, already a
// UUID (version 7), or a name-based one for an id that is not.
func runUUID(id string) string {
	if u, err := uuid.Parse(id); err == nil {
		return u.String()
	}
	return uuid.NewSHA1(stepRunNS, []byte(id)).String()
}

// DatasetOf returns the dataset of an asset: an ol/<namespace>/<name>
// key gives back the namespace and name it was made from (so a dataset
// reported to Freshet over OpenLineage keeps its identity on the way
// out); any other key is the dataset (datasetNS, key).
func DatasetOf(key asset.Key, datasetNS string) Dataset {
	if ns, name, ok := openlineage.ParseDatasetKey(key); ok {
		return Dataset{Namespace: ns, Name: name}
	}
	return Dataset{Namespace: datasetNS, Name: string(key)}
}

// builder writes events with one configuration.
type builder struct {
	producer, namespace, datasetNS string
}

func (b builder) base(schema string) facetBase {
	return facetBase{Producer: b.producer, SchemaURL: schema}
}

// runEvent is the event of a Freshet run itself (the parent job's run).
func (b builder) runEvent(eventType, runID string, at time.Time, reason string) RunEvent {
	ev := RunEvent{
		EventType: eventType, EventTime: formatTime(at),
		Run: Run{RunID: runUUID(runID)},
		Job: Job{Namespace: b.namespace, Name: RunJob, Facets: JobFacets{JobType: &JobTypeFacet{
			facetBase: b.base(jobTypeSchema), ProcessingType: "BATCH", Integration: integration, JobType: "RUN"}}},
		Inputs: []Dataset{}, Outputs: []Dataset{},
		Producer: b.producer, SchemaURL: SchemaURL,
	}
	if eventType == Fail && reason != "" {
		ev.Run.Facets.ErrorMessage = b.errorFacet(reason)
	}
	return ev
}

func (b builder) errorFacet(msg string) *ErrorMessageFacet {
	// The command is any program: its language is not known.
	return &ErrorMessageFacet{facetBase: b.base(errorSchema), Message: msg, ProgrammingLanguage: "unknown"}
}

// stepEvent is the event of a step: the job named after its asset, the
// asset's upstream as inputs and the asset as output, its run the child
// of the Freshet run's.
func (b builder) stepEvent(eventType, runID string, key asset.Key, upstream []asset.Key, at time.Time, reason string) RunEvent {
	parent := ParentJob{Namespace: b.namespace, Name: RunJob}
	prun := ParentRun{RunID: runUUID(runID)}
	ev := RunEvent{
		EventType: eventType, EventTime: formatTime(at),
		Run: Run{RunID: StepRunID(runID, key), Facets: RunFacets{
			Parent: &ParentFacet{facetBase: b.base(parentSchema), Run: prun, Job: parent, Root: &RootFacet{Run: prun, Job: parent}},
		}},
		Job: Job{Namespace: b.namespace, Name: string(key), Facets: JobFacets{JobType: &JobTypeFacet{
			facetBase: b.base(jobTypeSchema), ProcessingType: "BATCH", Integration: integration, JobType: "ASSET"}}},
		Inputs:   make([]Dataset, 0, len(upstream)),
		Outputs:  []Dataset{DatasetOf(key, b.datasetNS)},
		Producer: b.producer, SchemaURL: SchemaURL,
	}
	for _, u := range upstream {
		if u != key {
			ev.Inputs = append(ev.Inputs, DatasetOf(u, b.datasetNS))
		}
	}
	if eventType == Fail {
		if reason == "" {
			reason = "the step failed"
		}
		ev.Run.Facets.ErrorMessage = b.errorFacet(reason)
	}
	return ev
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Marshal is the event's JSON.
func (ev *RunEvent) Marshal() ([]byte, error) { return json.Marshal(ev) }
