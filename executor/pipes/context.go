package pipes

import (
	"fmt"
	"io"
	"os"
)

// ContextData is what the orchestrator tells the child about its step.
// Every field is written, null when it does not apply: Python clients read
// the keys directly.
type ContextData struct {
	AssetKeys             []string               `json:"asset_keys"`
	CodeVersionByAssetKey map[string]*string     `json:"code_version_by_asset_key"`
	ProvenanceByAssetKey  map[string]*Provenance `json:"provenance_by_asset_key"`
	PartitionKey          *string                `json:"partition_key"`
	PartitionKeyRange     *KeyRange              `json:"partition_key_range"`
	PartitionTimeWindow   *TimeWindow            `json:"partition_time_window"`
	RunID                 string                 `json:"run_id"`
	JobName               *string                `json:"job_name"`
	RetryNumber           int                    `json:"retry_number"`
	Extras                map[string]any         `json:"extras"`
}

// KeyRange is a range of partition keys, both ends included.
type KeyRange struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// TimeWindow is a time partition's window, ISO 8601 timestamps with their
// offset, [Start, End).
type TimeWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Provenance is an asset's data provenance. Freshet sends none (null);
// the type is here so a context from Dagster decodes.
type Provenance struct {
	CodeVersion       string            `json:"code_version"`
	InputDataVersions map[string]string `json:"input_data_versions"`
	IsUserProvided    bool              `json:"is_user_provided"`
}

// AssetKey returns the context's only asset key, or an error when it has
// none or several (then a report must name its asset).
func (c *ContextData) AssetKey() (string, error) {
	switch len(c.AssetKeys) {
	case 1:
		return c.AssetKeys[0], nil
	case 0:
		return "", fmt.Errorf("the Pipes context names no asset")
	}
	return "", fmt.Errorf("the Pipes context names %d assets %v: say which one", len(c.AssetKeys), c.AssetKeys)
}

// TimeWindowLayout is how TimeWindow ends are written: Python's
// datetime.isoformat() form, which every Python version parses back.
const TimeWindowLayout = "2006-01-02T15:04:05-07:00"

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", path, limit)
	}
	return b, nil
}
