package config

import (
	"errors"
	"strings"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"USER": "ana", "EMPTY": "", "A_1": "x"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "postgres://${USER}@db/${A_1}", want: "postgres://ana@db/x"},
		{in: "${EMPTY}", want: ""},
		{in: "$HOME and $ and trailing $", want: "$HOME and $ and trailing $"},
		{in: "$${USER} costs $$5", want: "${USER} costs $5"},
		{in: "${MISSING}", err: "${MISSING} is not set in the server's environment"},
		{in: "a ${USER", err: "unterminated ${ at byte 2"},
		{in: "${}", err: "invalid variable reference ${}"},
		{in: "${1A}", err: "invalid variable reference ${1A}"},
		{in: "${A:-b}", err: "defaults such as ${A:-b} are not supported"},
	}
	for _, tt := range tests {
		got, err := ExpandEnv(tt.in, lookup)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ExpandEnv(%q) error = %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ExpandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	var unset *UnsetVarError
	if _, err := ExpandEnv("${NOPE}", lookup); !errors.As(err, &unset) || unset.Name != "NOPE" {
		t.Errorf("unset variable error = %#v, want *UnsetVarError{NOPE}", err)
	}
}

func TestEnvSyntaxCheckedAtLoad(t *testing.T) {
	t.Parallel()
	ps := parseProblems(t, "assets:\n  - key: a\n    materialize:\n      argv: [x]\n      env:\n        DSN: 'pg://${USER'\n")
	if len(ps) != 1 || ps[0].Line != 6 || ps[0].Field != "assets[0].materialize.env.DSN" || !strings.Contains(ps[0].Message, "unterminated ${") {
		t.Fatalf("problems = %v", ps)
	}
	// An unset variable is fine at load: it is looked up at launch.
	f := mustParse(t, "assets:\n  - key: a\n    materialize:\n      argv: [x]\n      env: {DSN: 'pg://${FRESHET_TEST_SURELY_UNSET}'}\n")
	if got := f.Assets[0].Materialize.Env["DSN"]; got != "pg://${FRESHET_TEST_SURELY_UNSET}" {
		t.Errorf("env kept as written = %q", got)
	}
}
