package config

import (
	"fmt"
	"strings"
)

// lexDef is one $NAME definition. Built-ins have fn set until redefined.
type lexDef struct {
	value     string // lines of a multi-line definition are joined with '\n'
	multiline bool
	maxParams int                        // parameters allowed in ${NAME params}
	fn        func(params string) string // computes a built-in's value
}

// mlPtr is the unread rest of a multi-line definition being expanded
// (next_ptr in C, where NULL means inactive).
type mlPtr struct {
	active bool
	text   string
}

// mlEntry is a suspended outer multi-line expansion.
type mlEntry struct {
	ptr      mlPtr
	seqDepth int
}

// setStdDefinitions installs keepalived's pre-defined names.
func (l *lexer) setStdDefinitions() {
	l.defs = map[string]*lexDef{
		"_PWD":      {fn: func(string) string { return l.currentDir() }},
		"_INSTANCE": {fn: func(string) string { return l.opts.Instance }},
		"_RANDOM":   {fn: l.random, maxParams: 2},
		// _ENV comes from keepalived 2.4; 2.2.7 leaves ${_ENV X} unchanged.
		"_ENV":  {fn: func(p string) string { return l.env(p) }, maxParams: 1},
		"_HASH": {value: "#"},
		"_BANG": {value: "!"},
	}
}

// currentDir is ${_PWD}: keepalived chdir()s into each included file's
// directory and returns getcwd().
func (l *lexer) currentDir() string {
	if n := len(l.stack); n > 0 && l.stack[n-1].file != nil {
		return l.stack[n-1].file.dir
	}
	return "/"
}

// random is ${_RANDOM [min [max]]}: a number in [min, max], default [0, 32767].
func (l *lexer) random(params string) string {
	lo, hi := int64(0), int64(32767)
	if params != "" {
		f := strings.Fields(params)
		lo, _ = strtol(f[0], 10)
		if len(f) > 1 {
			hi, _ = strtol(f[1], 10)
		}
		if len(f) > 2 {
			l.report(Warning, ExitOK, "Too many parameters or extra text for ${_RANDOM %s}", params)
		}
	}
	if hi < lo {
		return fmt.Sprint(lo)
	}
	return fmt.Sprint(lo + l.rng.Int64N(hi-lo+1))
}

// checkDefinition handles a "$NAME=VALUE" line (check_definition()). NAME
// must be followed directly by '='. A value ending in '\' starts a
// multi-line definition.
func (l *lexer) checkDefinition(buf string) *lexDef {
	if len(buf) < 2 || !(isAlpha(buf[1]) || buf[1] == '_') {
		return nil
	}
	p := 2
	for ; p < len(buf) && buf[p] != '='; p++ {
		if !isNameChar(buf[p]) {
			return nil
		}
	}
	if p >= len(buf) {
		return nil
	}
	d := l.defineName(buf[1:p])
	v := strings.TrimLeft(buf[p+1:], " \t")
	d.multiline = strings.HasSuffix(v, "\\")
	if d.multiline {
		v = strings.TrimRight(v[:len(v)-1], " \t")
		if v != "" {
			v += "\n"
		}
	}
	d.value = v
	return d
}

// defineName returns the definition of name, creating it if needed. A
// built-in that is redefined loses its function.
func (l *lexer) defineName(name string) *lexDef {
	d := l.defs[name]
	if d == nil {
		d = &lexDef{}
		l.defs[name] = d
	}
	d.fn = nil
	return d
}

// setDefinition is set_definition(), used by ~SEQ and ~LST for their
// variables. keepalived keeps a stale multi-line flag here and then reads
// past the end of the value; we clear it.
func (l *lexer) setDefinition(name, value string) {
	d := l.defineName(name)
	d.value, d.multiline = value, false
}

// findRef is find_definition() for a use: s is the text after '$'. It
// returns the definition, the length of the reference including '$', and
// any parameters given as ${NAME params}.
func (l *lexer) findRef(s string) (d *lexDef, span int, params string) {
	braces := s[0] == '{'
	name := s
	if braces {
		name = s[1:]
	}
	if name == "" || !(isAlpha(name[0]) || name[0] == '_') {
		return nil, 0, ""
	}
	n := 1
	for n < len(name) && isNameChar(name[n]) {
		n++
	}
	pStart, pEnd := -1, -1
	if braces {
		p := n
		// 2.2.7 allows digits only; 2.4 allows words, which _ENV needs.
		for ; p < len(name) && (name[p] == ' ' || isNameChar(name[p])); p++ {
			if name[p] != ' ' {
				if pStart < 0 {
					pStart = p
				}
				pEnd = p
			}
		}
		if (pStart >= 0 && pEnd+1 != p) || p >= len(name) || name[p] != '}' {
			return nil, 0, ""
		}
	} else if n < len(name) && strings.IndexByte(" \t,)", name[n]) < 0 {
		return nil, 0, ""
	}
	// A multi-line definition is only expanded where its use ends the line.
	allowML := (!braces && n == len(name)) || (braces && n+1 == len(name))
	d = l.defs[name[:n]]
	if d == nil || (d.multiline && !allowML) {
		return nil, 0, ""
	}
	span = n + 1
	if braces {
		span += 2
	}
	if pStart >= 0 {
		params = name[pStart : pEnd+1]
		if d.maxParams == 0 || !l.paramsValid(name[:n], params) {
			return nil, 0, ""
		}
		span = pEnd + 4 // "${" + name and params + "}"
	}
	return d, span, params
}

// paramsValid checks the parameters of the built-ins that take them, so that
// ${_RANDOM x} is left alone as keepalived 2.2.7 does.
func (l *lexer) paramsValid(name, params string) bool {
	words := strings.Fields(params)
	switch name {
	case "_RANDOM":
		return !strings.ContainsFunc(params, func(r rune) bool { return r != ' ' && (r < '0' || r > '9') })
	case "_ENV":
		return len(words) == 1
	}
	return true
}

// replaceParams is replace_param(): it substitutes every $NAME / ${NAME}
// with a current definition, rescanning the substituted text (so values are
// expanded recursively at use time). Undefined names are left as they are.
// A multi-line definition substitutes its first line and leaves the rest in
// *ml for the following reads. It reports whether anything was substituted;
// keepalived gives up (leaving earlier substitutions in place) when the line
// would reach maxLen bytes.
func (l *lexer) replaceParams(buf string, maxLen int, ml *mlPtr) (string, bool) {
	cur, count, found := 0, 0, false
	cur0 := *ml
	next := mlPtr{}
	for {
		i := strings.IndexByte(buf[cur:], '$')
		if i < 0 || cur+i+1 >= len(buf) {
			break
		}
		cur += i
		d, span, params := l.findRef(buf[cur+1:])
		if d == nil {
			cur++
			continue
		}
		if count++; count > maxSubstitutions {
			l.configError("Parameter substitution on line '%s' does not terminate (recursive definition?)", buf)
			return buf, false
		}
		found, next = true, cur0
		repl := l.defValue(d, params)
		if d.multiline {
			if cur0.active {
				l.mlStack = append(l.mlStack, mlEntry{ptr: cur0, seqDepth: l.mlSeqDepth})
			}
			l.mlSeqDepth = len(l.seqs)
			first, rest, _ := strings.Cut(repl, "\n")
			repl, next = first, mlPtr{active: true, text: rest}
			cur0 = next
		}
		if len(buf)-span+len(repl) >= maxLen {
			l.report(Warning, ExitOK, "Parameter substitution on line '%s' would exceed maximum line length", buf)
			return buf, false
		}
		buf = buf[:cur] + repl + buf[cur+span:]
		if strings.HasPrefix(strings.TrimLeft(d.value, " \t"), "~") {
			break // a ~SEQ/~LST value is processed as a sequence
		}
	}
	if found {
		*ml = next
	}
	return buf, found
}

// defValue returns a definition's value, computing built-ins.
func (l *lexer) defValue(d *lexDef, params string) string {
	if d.fn != nil {
		d.value = d.fn(params)
	}
	return d.value
}
