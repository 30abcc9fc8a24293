package freshness

import "fmt"

// State is the outcome of a freshness evaluation.
//
// States are ordered by severity, PASS < WARN < AT_RISK < UNKNOWN < FAIL:
// AT_RISK is worse than WARN because it is a prediction that the asset will
// FAIL (a rebuild started now would land after the deadline), while WARN
// only says it has crossed an early threshold. UNKNOWN (never materialized,
// or built from a dependency that never was) is not fresh: it ranks above
// AT_RISK, and below FAIL, which it becomes after its grace period.
type State uint8

const (
	Unknown State = iota // never materialized (or observed) successfully
	Pass
	Warn
	AtRisk
	Fail
)

var stateNames = [...]string{"UNKNOWN", "PASS", "WARN", "AT_RISK", "FAIL"}

// String returns the state's name as used in JSON, events and test scripts.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// Severity ranks states for "worst of" decisions and is the value of the
// freshet_asset_freshness_state gauge: PASS 0, WARN 1, AT_RISK 2,
// UNKNOWN 3, FAIL 4 (so an alert on >= 4 pages for FAIL, and a pipeline
// that never ran reaches it after its grace period).
func (s State) Severity() int {
	switch s {
	case Pass:
		return 0
	case Warn:
		return 1
	case AtRisk:
		return 2
	case Unknown:
		return 3
	case Fail:
		return 4
	}
	return int(s)
}

// ParseState is the inverse of String.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return Unknown, fmt.Errorf("unknown freshness state %q (want one of PASS, WARN, AT_RISK, FAIL, UNKNOWN)", name)
}

// MarshalText writes the state as its name, which also makes it a JSON string.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("marshal freshness state %d: out of range", s)
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText reads a state name.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
