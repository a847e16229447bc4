package config

import (
	"fmt"
	"slices"
	"strings"
)

// Token is one word of a configuration line, with the place it came from so
// that every later error can cite it.
type Token struct {
	Text   string
	File   string
	Line   int
	Quoted bool // the word was written in double quotes
}

// Line is one logical line after preprocessing (comments removed, includes
// followed, definitions substituted, conditionals and sequences expanded, and
// braces split off as keepalived does). A brace is always a Line of its own.
type Line struct {
	File   string
	Num    int
	Raw    string // the decommented text, used by keywords that re-parse it (scripts)
	Tokens []Token
}

// Words returns the texts of the line's tokens.
func (l Line) Words() []string {
	w := make([]string, len(l.Tokens))
	for i, t := range l.Tokens {
		w[i] = t.Text
	}
	return w
}

// Severity of a diagnostic.
type Severity int

const (
	Warning Severity = iota
	Error
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Exit codes of `keepalived -t`, as the real daemon uses them (the man page
// is wrong about them; see reference/keepalived-behaviour.md section 3).
const (
	ExitOK             = 0
	ExitMissingParam   = 2
	ExitFatal          = 4
	ExitConfigErrors   = 5
	ExitScriptSecurity = 6
)

// Diagnostic is one finding about the configuration. Code is the `-t` exit
// code the finding implies; keepalived exits with the numerically largest.
type Diagnostic struct {
	Severity Severity
	Code     int
	File     string
	Line     int // 0 when keepalived gives no line either
	Keyword  string
	Msg      string
	Hint     string // what we can say beyond keepalived: "did you mean ..."
	// Extra marks a finding keepalived does not report (a hint of ours);
	// the oracle comparison with keepalived ignores it.
	Extra bool
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Severity.String())
	b.WriteString(": ")
	if d.Line > 0 {
		fmt.Fprintf(&b, "(%s: Line %d) ", d.File, d.Line)
	}
	b.WriteString(d.Msg)
	if d.Hint != "" {
		b.WriteString(" (")
		b.WriteString(d.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Diagnostics is the ordered list of findings of one configuration read.
type Diagnostics []Diagnostic

// ExitCode is what `-t` exits with: the largest code of all findings,
// except that a missing parameter exits 2 at once, as keepalived does.
func (ds Diagnostics) ExitCode() int {
	code := ExitOK
	for _, d := range ds {
		if d.Code == ExitMissingParam {
			return ExitMissingParam
		}
		if d.Code > code {
			code = d.Code
		}
	}
	return code
}

// Sorted returns the findings in reading order: by file, then line, the
// ones without a line last (keepalived prints those after reading).
func (ds Diagnostics) Sorted() Diagnostics {
	out := slices.Clone(ds)
	slices.SortStableFunc(out, func(a, b Diagnostic) int {
		switch {
		case (a.Line == 0) != (b.Line == 0):
			if a.Line == 0 {
				return 1
			}
			return -1
		case a.File != b.File:
			return strings.Compare(a.File, b.File)
		}
		return a.Line - b.Line
	})
	return out
}
