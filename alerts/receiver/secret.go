package receiver

import (
	"fmt"
	"os"
	"strings"
)

// secret is a value read from an environment variable. Only the variable's
// name is ever shown; redact blanks the value out of text that might echo it.
type secret struct {
	env   string
	value string
}

// readSecret reads the variable named env; it must be set and non-empty.
func readSecret(receiver, field, env string) (secret, error) {
	if env == "" {
		return secret{}, fmt.Errorf("%s: %s: no environment variable named", receiver, field)
	}
	v, ok := os.LookupEnv(env)
	if !ok || strings.TrimSpace(v) == "" {
		return secret{}, fmt.Errorf("%s: %s: environment variable %s is not set or empty", receiver, field, env)
	}
	return secret{env: env, value: v}, nil
}

// String never shows the value.
func (s secret) String() string { return "$" + s.env }

// redact replaces every occurrence of the secret in text.
func (s secret) redact(text string) string {
	if s.value == "" {
		return text
	}
	return strings.ReplaceAll(text, s.value, "[REDACTED $"+s.env+"]")
}

func noRedact(s string) string { return s }
