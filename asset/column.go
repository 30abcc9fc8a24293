package asset

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Column is one column of an asset's table, as declared (a dbt manifest,
// freshet.yaml) or reported (an OpenLineage schema facet).
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	// Deps are the upstream columns this one is computed from, when the
	// declaration says (column lineage reported by events is kept in the
	// events' metadata, under ColumnLineageKey).
	Deps []ColumnInput `json:"deps,omitempty"`
}

// ColumnRef names one column of one asset.
type ColumnRef struct {
	Asset  Key    `json:"asset"`
	Column string `json:"column"`
}

func (r ColumnRef) String() string { return string(r.Asset) + "#" + r.Column }

// ColumnInput is an upstream column and how it is turned into the
// downstream one (OpenLineage's transformation type and description, e.g.
// "IDENTITY", "AGGREGATION: sum"), when known.
type ColumnInput struct {
	ColumnRef
	Transformation string `json:"transformation,omitempty"`
}

// ColumnLineage maps each column of an asset to its upstream columns.
type ColumnLineage map[string][]ColumnInput

// Metadata names under which events carry their asset's columns and
// column lineage, as JSON: what the latest event with them says is what
// the catalog shows.
const (
	// ColumnsKey: a JSON array of {"name", "type", "description"} (the
	// OpenLineage schema facet's fields, as sent).
	ColumnsKey = "columns"
	// ColumnLineageKey: a ColumnLineage as JSON.
	ColumnLineageKey = "column_lineage"
)

// MaxColumnInputs bounds the upstream columns of one column, and
// MaxColumns the columns of one asset: enough for wide tables, and a
// bound on what one event can make the server hold.
const (
	MaxColumnInputs = 1000
	MaxColumns      = 10000
)

// Validate checks names and references: no empty or over-long column
// name, every input naming an asset and a column, within the bounds.
func (cl ColumnLineage) Validate() error {
	if len(cl) > MaxColumns {
		return fmt.Errorf("%d columns, more than the %d allowed", len(cl), MaxColumns)
	}
	for _, col := range slices.Sorted(maps.Keys(cl)) {
		if err := checkColumnName(col); err != nil {
			return err
		}
		ins := cl[col]
		if len(ins) > MaxColumnInputs {
			return fmt.Errorf("column %q: %d inputs, more than the %d allowed", col, len(ins), MaxColumnInputs)
		}
		for i, in := range ins {
			if in.Asset == "" {
				return fmt.Errorf("column %q: input %d names no asset", col, i)
			}
			if _, err := ParseKey(string(in.Asset)); err != nil {
				return fmt.Errorf("column %q: input %d: %w", col, i, err)
			}
			if err := checkColumnName(in.Column); err != nil {
				return fmt.Errorf("column %q: input %d: %w", col, i, err)
			}
		}
	}
	return nil
}

func checkColumnName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("a column name is empty")
	case len(name) > 1024:
		return fmt.Errorf("column name %.40q... is longer than 1024 bytes", name)
	}
	return nil
}

// ColumnLineageOf reads the column lineage an event carries (nil, nil if
// none).
func ColumnLineageOf(m Metadata) (ColumnLineage, error) {
	v, ok := m[ColumnLineageKey]
	if !ok {
		return nil, nil
	}
	if v.Type != MetaJSON {
		return nil, fmt.Errorf("metadata %s must be a JSON object of columns", ColumnLineageKey)
	}
	var cl ColumnLineage
	if err := json.Unmarshal([]byte(v.Text), &cl); err != nil {
		return nil, fmt.Errorf("metadata %s: %w", ColumnLineageKey, err)
	}
	return cl, cl.Validate()
}

// ColumnLineageValue is cl as event metadata.
func ColumnLineageValue(cl ColumnLineage) (MetaValue, error) {
	b, err := json.Marshal(cl)
	if err != nil {
		return MetaValue{}, err
	}
	return JSONValue(string(b)), nil
}
