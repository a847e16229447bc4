package config

import "strings"

// readLine is keepalived's read_line(): it returns the next non-empty line
// after conditionals, definitions, sequences, substitution and includes have
// been dealt with. Brace splitting is done by emit().
func (l *lexer) readLine() (string, bool) {
	inDef := false // a multi-line definition is collecting lines (local in C too)
	for !l.stopped {
		buf, ok := l.nextSource(&inDef)
		if !ok {
			return "", false
		}
		if inDef {
			l.addDefinitionLine(buf, &inDef)
			continue
		}
		if buf == "" {
			continue
		}
		buf = l.expand(buf, &inDef)
		if buf == "" || l.checkInclude(buf) {
			continue
		}
		return buf, true
	}
	return "", false
}

// nextSource picks the next line in keepalived's order of priority: text
// left after a brace, then the active ~SEQ/~LST, then the rest of a
// multi-line definition, and only then the file.
func (l *lexer) nextSource(inDef *bool) (string, bool) {
	l.work++
	if l.work > 4*l.opts.MaxLines {
		l.stop("Configuration expands to more than %d lines - stopping", l.opts.MaxLines)
		return "", false
	}
	if l.hasResidue {
		s := l.residue
		l.residue, l.hasResidue = "", false
		return s, true
	}
	if len(l.seqs) > 0 && len(l.seqs) > l.mlSeqDepth {
		return l.nextSeqLine(), true
	}
	if l.ml.active {
		return l.nextMultiline(), true
	}
	return l.nextFileLine(inDef)
}

// nextMultiline returns the next line of the multi-line definition being
// expanded, resuming an outer expansion when this one is done.
func (l *lexer) nextMultiline() string {
	text := l.ml.text
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		l.ml.text = text[i+1:]
		return text[:i]
	}
	if n := len(l.mlStack); n > 0 {
		e := l.mlStack[n-1]
		l.mlStack = l.mlStack[:n-1]
		l.ml = e.ptr
		l.mlSeqDepth = e.seqDepth
	} else {
		l.ml = mlPtr{}
		l.mlSeqDepth = 0
	}
	return text
}

// nextFileLine reads the next non-blank decommented line from the include
// stack, moving on to the next file at end of file.
func (l *lexer) nextFileLine(inDef *bool) (string, bool) {
	for len(l.stack) > 0 {
		g := l.stack[len(l.stack)-1]
		raw, ok := l.nextChunk(g.file)
		if !ok {
			l.nextFile()
			continue
		}
		if raw == "" {
			// Only a truly empty line ends a multi-line definition; a comment
			// line does not.
			if *inDef {
				*inDef = false
				if l.curDef.value == "" {
					l.curDef.multiline = false
				}
			}
			continue
		}
		if buf := l.decomment(raw); buf != "" {
			return buf, true
		}
	}
	return "", false
}

// addDefinitionLine appends a line to the multi-line definition being read.
// A trailing '\' continues it; lines are joined with '\n'.
func (l *lexer) addDefinitionLine(buf string, inDef *bool) {
	if strings.HasSuffix(buf, "\\") {
		buf = strings.TrimRight(buf[:len(buf)-1], " \t") + "\n"
	} else {
		*inDef = false
		if l.curDef.value == "" {
			l.curDef.multiline = false
		}
	}
	// Blank continuation lines are not added.
	if len(buf) >= 2 || (buf != "" && !*inDef) {
		l.curDef.value += buf
	}
}

// expand handles conditionals, definitions, sequences and substitution,
// repeating while substitution produces something that needs another pass.
// It returns "" when the line was consumed.
func (l *lexer) expand(buf string, inDef *bool) string {
	for pass := 0; ; pass++ {
		if pass > maxSubstitutions {
			l.configError("Parameter substitution on line '%s' does not terminate (recursive definition?)", buf)
			return buf
		}
		if strings.HasPrefix(buf, "@") {
			var keep bool
			if buf, keep = l.conditional(buf); !keep {
				return ""
			}
		}
		if strings.HasPrefix(buf, "$") {
			if d := l.checkDefinition(buf); d != nil {
				if d.multiline {
					*inDef = true
					l.curDef = d
				}
				return ""
			}
		}
		if strings.HasPrefix(buf, "~SEQ") || strings.HasPrefix(buf, "~LST") {
			l.addSequence(buf)
			return ""
		}
		if strings.HasPrefix(buf, "~") || !strings.Contains(buf, "$") {
			return buf
		}
		nb, changed := l.replaceParams(buf, lexMaxBuf, &l.ml)
		if !changed {
			return nb
		}
		buf = l.decomment(nb)
		if !strings.HasPrefix(buf, "@") && !strings.Contains(buf, "$") {
			return buf
		}
	}
}

// conditional handles "@ID rest" and "@^ID rest": it strips the prefix and
// reports whether the rest is kept. A bare "@ID" line is dropped.
func (l *lexer) conditional(buf string) (string, bool) {
	ofs, rev := 1, false
	if len(buf) > 1 && buf[1] == '^' {
		ofs, rev = 2, true
	}
	sp := strings.IndexAny(buf[ofs:], " \t")
	if sp < 0 {
		return "", false
	}
	match := buf[ofs:ofs+sp] == l.opts.ConfigID
	if match == rev {
		return "", false
	}
	return strings.TrimLeft(buf[ofs+sp:], " \t"), true
}
