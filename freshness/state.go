package freshness

import "fmt"

// State is the outcome of a freshness evaluation.
//
// States are ordered by severity, PASS < WARN < AT_RISK < FAIL: AT_RISK is
// worse than WARN because it is a prediction that the asset will FAIL (a
// rebuild started now would land after the deadline), while WARN only says
// it has crossed an early threshold. UNKNOWN (never materialized) is outside
// the order: Severity ranks it below PASS so it never outranks a real breach.
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

// Severity ranks states for "worst of" decisions: UNKNOWN 0, PASS 1, WARN 2,
// AT_RISK 3, FAIL 4.
func (s State) Severity() int { return int(s) }

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
