package config

import (
	"fmt"
	"strings"
)

// UnsetVarError is returned by ExpandEnv for a ${NAME} whose variable is
// not set. It names the variable, never a value.
type UnsetVarError struct{ Name string }

func (e *UnsetVarError) Error() string {
	return fmt.Sprintf("${%s} is not set in the server's environment", e.Name)
}

// ExpandEnv replaces each ${NAME} in s with lookup(NAME). NAME is a letter
// or '_' followed by letters, digits and '_'. "$$" is a literal '$'; any
// other '$' is kept as written, so "$HOME" stays "$HOME" (only the braced
// form expands: a value never changes by accident).
//
// A variable lookup does not know is an *UnsetVarError; an unterminated
// "${" or an invalid name is an error saying so. Values of materialize.env
// are expanded this way by the executor when it launches a step; Parse
// checks their syntax with a lookup that knows every name.
func ExpandEnv(s string, lookup func(name string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ at byte %d: close it with } or write $$ for a literal $", i)
			}
			name := s[i+2 : i+2+end]
			if !validVarName(name) {
				return "", fmt.Errorf("invalid variable reference ${%s}: a name is a letter or _ followed by letters, digits and _ (defaults such as ${A:-b} are not supported)", name)
			}
			v, ok := lookup(name)
			if !ok {
				return "", &UnsetVarError{Name: name}
			}
			b.WriteString(v)
			i += 3 + end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
