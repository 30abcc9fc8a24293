package config

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a definitions file, located precisely
// enough for an editor to jump to it.
type Problem struct {
	File    string // the name given to Parse or the path given to Load
	Line    int    // 1-based; 0 when YAML could not say
	Field   string // a path such as assets[0].deps[1]; empty for syntax errors
	Message string
}

// Error formats the problem as FILE:LINE: FIELD: MESSAGE, the shape editors
// and CI log viewers turn into links.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in one file, sorted by line then field.
// It is the error Parse and Load return when the file is invalid; use
// errors.As to get at the individual problems.
type Problems []Problem

// shownProblems bounds Problems.Error: a one-line error should stay one
// readable line; callers wanting all of them range over the slice.
const shownProblems = 3

func (ps Problems) Error() string {
	switch len(ps) {
	case 0:
		return "no problems"
	case 1:
		return ps[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems: ", len(ps))
	for i, p := range ps[:min(len(ps), shownProblems)] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	if len(ps) > shownProblems {
		fmt.Fprintf(&b, "; and %d more", len(ps)-shownProblems)
	}
	return b.String()
}

// sortProblems orders problems by line then field and drops exact
// duplicates, which appear when one anchored YAML node is used (aliased or
// merged) several times under the same path.
func sortProblems(ps Problems) Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Field, b.Field)
	})
	return slices.Compact(ps)
}
