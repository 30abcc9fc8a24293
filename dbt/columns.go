package dbt

import (
	"strings"
	"unicode"

	"github.com/freshet-dev/freshet/asset"
)

// InferredTransformation marks column lineage read from a model's
// compiled SQL rather than declared or reported by a run.
const InferredTransformation = "IDENTITY (inferred from compiled_code)"

// inferColumns reads the column lineage of the plainest SQL from a
// model's compiled code: the final SELECT's items that are column
// references (c, t.c, t.c AS x), resolved against the relations of its
// FROM clause that are the model's dependencies and whose columns the
// manifest declares. Anything else (expressions, *, a UNION, a relation it
// cannot place, a column its relation does not declare) gives no lineage
// for that column rather than a guess. rel maps a relation, lower-cased
// and unquoted ("db.schema.table"), to the dependency's key and declared
// columns.
func inferColumns(sql string, rel map[string]relationColumns) map[string][]asset.ColumnInput {
	toks := tokenize(sql)
	if toks == nil {
		return nil
	}
	p := &sqlParser{toks: toks}
	if p.keyword("with") {
		if !p.skipCTEs() {
			return nil
		}
	}
	if !p.keyword("select") {
		return nil
	}
	p.keyword("distinct")
	items, ok := p.selectItems()
	if !ok {
		return nil
	}
	from, ok := p.fromClause(rel)
	if !ok {
		return nil
	}
	out := map[string][]asset.ColumnInput{}
	for _, it := range items {
		var r *relationColumns
		if it.qual != "" {
			r = from.byAlias[it.qual]
		} else {
			r = from.unqualified(it.col)
		}
		if r == nil || !r.has(it.col) {
			continue
		}
		out[it.name] = append(out[it.name], asset.ColumnInput{
			ColumnRef: asset.ColumnRef{Asset: r.key, Column: r.column(it.col)}, Transformation: InferredTransformation})
	}
	return out
}

// relationColumns is a dependency's key and declared columns (by
// lower-cased name).
type relationColumns struct {
	key  asset.Key
	cols map[string]string
}

func (r *relationColumns) has(col string) bool { _, ok := r.cols[strings.ToLower(col)]; return ok }

func (r *relationColumns) column(col string) string { return r.cols[strings.ToLower(col)] }

type selectItem struct{ qual, col, name string }

type fromRelations struct {
	byAlias map[string]*relationColumns // alias or table name -> relation; nil: a CTE or subquery
	all     []*relationColumns
}

// unqualified is the one relation an unqualified column can come from:
// the only relation, or the only one declaring it when every relation's
// columns are known (a CTE or subquery could hold any column).
func (f fromRelations) unqualified(col string) *relationColumns {
	if len(f.all) == 1 {
		return f.all[0]
	}
	var found *relationColumns
	for _, c := range f.all {
		switch {
		case c == nil:
			return nil
		case c.has(col) && found != nil:
			return nil // in two relations: ambiguous
		case c.has(col):
			found = c
		}
	}
	return found
}

type token struct {
	text   string // identifiers unquoted, keywords lower-cased
	ident  bool   // an identifier (a keyword is one too, unquoted)
	quoted bool
}

// tokenize splits SQL into identifiers, strings, numbers and punctuation,
// dropping comments and white space; nil if it cannot (an unterminated
// quote or comment).
func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return out
			}
			i += j
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil
			}
			i += j + 4
		case c == '"' || c == '`' || c == '[':
			end := map[byte]byte{'"': '"', '`': '`', '[': ']'}[c]
			j := strings.IndexByte(s[i+1:], end)
			if j < 0 {
				return nil
			}
			out = append(out, token{text: s[i+1 : i+1+j], ident: true, quoted: true})
			i += j + 2
		case c == '\'':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return nil
			}
			out = append(out, token{text: "'"})
			i = j + 1
		case c == '_' || c == '$' || c >= 0x80 || unicode.IsLetter(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 0x80 || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			out = append(out, token{text: s[i:j], ident: true})
			i = j
		case unicode.IsDigit(rune(c)):
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.') {
				j++
			}
			out = append(out, token{text: "0"})
			i = j
		default:
			out = append(out, token{text: s[i : i+1]})
			i++
		}
	}
	return out
}

type sqlParser struct {
	toks []token
	pos  int
}

func (p *sqlParser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{}
}

// isKeyword: an unquoted identifier equal to kw, any case.
func (t token) isKeyword(kw string) bool {
	return t.ident && !t.quoted && strings.EqualFold(t.text, kw)
}

func (p *sqlParser) keyword(kw string) bool {
	if p.peek().isKeyword(kw) {
		p.pos++
		return true
	}
	return false
}

// skipCTEs passes "name [(cols)] AS [NOT] [MATERIALIZED] ( ... ), ..." to
// the statement after them.
func (p *sqlParser) skipCTEs() bool {
	p.keyword("recursive")
	for {
		if !p.peek().ident {
			return false
		}
		p.pos++
		if p.peek().text == "(" && !p.skipParens() {
			return false
		}
		if !p.keyword("as") {
			return false
		}
		p.keyword("not")
		p.keyword("materialized")
		if p.peek().text != "(" || !p.skipParens() {
			return false
		}
		if p.peek().text != "," {
			return true
		}
		p.pos++
	}
}

// skipParens passes a balanced ( ... ) starting at the current token.
func (p *sqlParser) skipParens() bool {
	depth := 0
	for ; p.pos < len(p.toks); p.pos++ {
		switch p.toks[p.pos].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				p.pos++
				return true
			}
		}
	}
	return false
}

// selectItems reads the select list up to FROM: each item's tokens at
// depth 0, kept when they are a plain column reference.
func (p *sqlParser) selectItems() ([]selectItem, bool) {
	var items []selectItem
	var cur []token
	depth := 0
	flush := func() {
		if it, ok := columnItem(cur); ok {
			items = append(items, it)
		}
		cur = nil
	}
	for ; p.pos < len(p.toks); p.pos++ {
		t := p.toks[p.pos]
		switch {
		case t.text == "(":
			depth++
		case t.text == ")":
			depth--
		case depth == 0 && t.text == ",":
			flush()
			continue
		case depth == 0 && t.isKeyword("from"):
			flush()
			p.pos++
			return items, true
		}
		cur = append(cur, t)
	}
	return nil, false
}

// columnItem: c | q.c | q.c [AS] alias | c [AS] alias (a three-part
// schema.table.column reference is not read).
func columnItem(ts []token) (selectItem, bool) {
	var it selectItem
	n := len(ts)
	switch {
	case n >= 2 && ts[n-2].isKeyword("as") && ts[n-1].ident:
		it.name, ts = ts[n-1].text, ts[:n-2]
	case n >= 2 && ts[n-1].ident && ts[n-2].ident:
		it.name, ts = ts[n-1].text, ts[:n-1]
	}
	switch {
	case len(ts) == 1 && ts[0].ident && !reserved(ts[0]):
		it.col = ts[0].text
	case len(ts) == 3 && ts[0].ident && ts[1].text == "." && ts[2].ident && !reserved(ts[2]):
		it.qual, it.col = strings.ToLower(ts[0].text), ts[2].text
	default:
		return it, false
	}
	if it.name == "" {
		it.name = it.col
	}
	return it, true
}

// reserved words that look like columns in a select list.
func reserved(t token) bool {
	if t.quoted {
		return false
	}
	switch strings.ToLower(t.text) {
	case "null", "true", "false", "current_date", "current_timestamp", "distinct", "case", "select":
		return true
	}
	return false
}

// fromClause reads the relations of FROM and its JOINs up to the clause
// after them. A relation the model does not depend on (a CTE, a
// subquery) is known by its alias as nothing. A UNION anywhere after
// FROM gives up: the columns come from several selects.
func (p *sqlParser) fromClause(rel map[string]relationColumns) (fromRelations, bool) {
	f := fromRelations{byAlias: map[string]*relationColumns{}}
	expectRel := true
	for p.pos < len(p.toks) {
		t := p.peek()
		switch {
		case t.isKeyword("union") || t.isKeyword("intersect") || t.isKeyword("except") || t.isKeyword("minus"):
			return f, false
		case t.isKeyword("where") || t.isKeyword("group") || t.isKeyword("order") || t.isKeyword("having") ||
			t.isKeyword("qualify") || t.isKeyword("limit") || t.isKeyword("window") || t.text == ";":
			// The rest may hold subqueries but no relation of this select;
			// it may still hold a UNION.
			for ; p.pos < len(p.toks); p.pos++ {
				if d := p.toks[p.pos]; d.text == "(" {
					if !p.skipParens() {
						return f, false
					}
					p.pos--
				} else if d.isKeyword("union") || d.isKeyword("intersect") || d.isKeyword("except") || d.isKeyword("minus") {
					return f, false
				}
			}
			return f, true
		case t.isKeyword("join"), t.text == ",":
			expectRel = true
			p.pos++
		case expectRel:
			expectRel = false
			var r *relationColumns
			var name string
			if t.text == "(" {
				if !p.skipParens() {
					return f, false
				}
			} else {
				var parts []string
				for p.peek().ident {
					parts = append(parts, strings.ToLower(p.peek().text))
					p.pos++
					if p.peek().text != "." {
						break
					}
					p.pos++
				}
				if len(parts) == 0 {
					return f, false
				}
				name = parts[len(parts)-1]
				if c, ok := rel[strings.Join(parts, ".")]; ok {
					r = &c
				}
			}
			p.keyword("as")
			if a := p.peek(); a.ident && !clauseWord(a) {
				name = strings.ToLower(a.text)
				p.pos++
			}
			if name != "" {
				f.byAlias[name] = r
			}
			f.all = append(f.all, r)
		case t.text == "(":
			if !p.skipParens() {
				return f, false
			}
		default:
			p.pos++ // ON conditions, USING lists, join kinds
		}
	}
	return f, true
}

// clauseWord: a keyword that can follow a relation, never its alias.
func clauseWord(t token) bool {
	if t.quoted {
		return false
	}
	switch strings.ToLower(t.text) {
	case "on", "using", "join", "left", "right", "inner", "outer", "full", "cross", "natural", "lateral",
		"where", "group", "order", "having", "qualify", "limit", "window", "union", "intersect", "except", "minus":
		return true
	}
	return false
}
