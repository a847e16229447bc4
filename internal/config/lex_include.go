package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"
)

// srcFile is one configuration file being read.
type srcFile struct {
	display string // the name keepalived prints: the glob match, relative to the includer's directory
	dir     string // absolute directory: base of relative includes and ${_PWD}
	key     string // canonical path, to detect include loops
	text    string // the file's contents
	off     int    // read offset
	nl      int    // '\n's consumed so far
	line    int    // physical line number of the text being processed
	hasNUL  bool   // text has a NUL byte (known once reading starts)
}

// globState is one include directive (or the main -f glob): its matches
// are read one after another (include_file_t).
type globState struct {
	matches  []globMatch
	next     int
	incType  int
	savCheck int      // include_check to restore when each file ends
	at       position // the include line, for diagnostics
	file     *srcFile
}

type globMatch struct {
	display string // as glob() returns it, with '/' appended to directories
	real    string // the path to open
}

// isInclude recognises "include", "includer", "includem", "includew",
// "includeb" and "includea" followed by white space (is_include()).
func isInclude(buf string) (rest string, incType int, ok bool) {
	if !strings.HasPrefix(buf, "include") || len(buf) < 8 {
		return "", 0, false
	}
	if isSpace(buf[7]) {
		return buf[8:], 0, true
	}
	if len(buf) < 9 || !isSpace(buf[8]) {
		return "", 0, false
	}
	types := map[byte]int{'r': incR, 'm': incR | incM, 'w': incR | incM | incW, 'b': incR | incB, 'a': incR | incM | incW | incB}
	t, ok := types[buf[7]]
	return buf[9:], t, ok
}

func isSpace(c byte) bool { return strings.IndexByte(lexWhiteSpace, c) >= 0 }

// checkInclude opens the files of an include line and reports whether the
// line was one. Includes are detected after conditionals and substitution,
// as read_line() does.
func (l *lexer) checkInclude(buf string) bool {
	rest, t, ok := isInclude(buf)
	if !ok {
		return false
	}
	l.openGlob(l.currentDir(), strings.TrimLeft(rest, " \t"), t, l.pos())
	return true
}

// openGlob expands an include pattern and starts reading its first usable
// match (open_glob_file()).
func (l *lexer) openGlob(base, pattern string, incType int, at position) {
	flags := l.includeCheck | incType
	res := l.glob(base, pattern)
	if !l.checkGlobResult(res, pattern, flags, at) {
		return
	}
	g := &globState{matches: res.matches, incType: incType, savCheck: l.includeCheck, at: at}
	l.stack = append(l.stack, g)
	if !l.openConfFile(g) {
		l.stack = l.stack[:len(l.stack)-1]
	}
}

// checkGlobResult reports missing files as open_and_check_glob() does and
// says whether to go on with the matches.
func (l *lexer) checkGlobResult(res globResult, pattern string, flags int, at position) bool {
	if len(res.matches) == 0 {
		if res.missingFiles+res.missingDirs > 0 {
			t := incM
			if hasBrace(pattern) {
				t = incB
			}
			l.fileError(t, flags, at, "Config files missing '%s'.", pattern)
		} else if res.haveWildcards && flags&incW != 0 {
			l.fileError(incW, flags, at, "No config files matched '%s'.", pattern)
		}
		return false
	}
	if res.missingFiles+res.missingDirs > 0 {
		l.fileError(incB, flags, at, "Some config files missing: \"%s\".", pattern)
		return flags&incB == 0
	}
	return true
}

// fileError is file_config_error(): the finding only counts (and then
// makes keepalived exit 6 after reading) when the include check asks for it.
func (l *lexer) fileError(errType, flags int, at position, format string, args ...any) {
	if flags&errType != 0 {
		l.reportAt(at, Error, exitNoConfig, format, args...)
	} else {
		l.reportAt(at, Warning, ExitOK, format, args...)
	}
}

// openConfFile opens the next usable match of g (open_conf_file()).
func (l *lexer) openConfFile(g *globState) bool {
	flags := l.includeCheck | g.incType
	for g.next < len(g.matches) {
		m := g.matches[g.next]
		g.next++
		if !l.checkGlobFile(m, flags, g.at) {
			continue
		}
		key := canonicalPath(m.real)
		if why := l.cannotNest(key); why != "" {
			l.fileError(incR, flags, g.at, "Configuration file '%s' open problem (%s) - skipping", m.display, why)
			continue
		}
		data, err := os.ReadFile(m.real)
		if err != nil {
			l.fileError(incR, flags, g.at, "Configuration file '%s' open problem (%s) - skipping", m.display, errnoText(err))
			continue
		}
		// data is ours alone and never written again, so the text can
		// share its memory: lines and words are substrings of it.
		g.file = &srcFile{display: m.display, dir: physicalDir(filepath.Dir(m.real)), key: key, text: unsafe.String(unsafe.SliceData(data), len(data))}
		return true
	}
	return false
}

// cannotNest explains why a file cannot be opened inside the current
// includes. keepalived recurses until it runs out of file descriptors.
func (l *lexer) cannotNest(key string) string {
	if len(l.stack) > maxIncludeDepth {
		return "include depth exceeded"
	}
	for _, g := range l.stack {
		if g.file != nil && g.file.key == key {
			return "include loop"
		}
	}
	return ""
}

// checkGlobFile accepts only regular, non-executable files (check_glob_file()).
func (l *lexer) checkGlobFile(m globMatch, flags int, at position) bool {
	if strings.HasSuffix(m.display, "/") {
		l.fileError(incR, flags, at, "Configuration file '%s' is a directory - skipping", m.display)
		return false
	}
	st, err := os.Stat(m.real)
	if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 != 0 {
		l.fileError(incR, flags, at, "Configuration file '%s' is not a regular non-executable file - skipping", m.display)
		return false
	}
	return true
}

// nextFile ends the current file and opens the next match of its include,
// or returns to the including file (get_next_file()).
func (l *lexer) nextFile() {
	g := l.stack[len(l.stack)-1]
	l.includeCheck = g.savCheck
	g.file = nil
	if !l.openConfFile(g) {
		l.stack = l.stack[:len(l.stack)-1]
	}
}

// checkMainFile is check_conf_file() for the -f argument. Nothing is on the
// include stack yet, so missing files are only logged (exit 0), and a
// directory or executable among the matches rejects the whole configuration.
func (l *lexer) checkMainFile(cwd, path string) bool {
	res := l.glob(cwd, path)
	if !l.checkGlobResult(res, path, 0, position{}) {
		return false
	}
	ok, n := true, 0
	for _, m := range res.matches {
		if !l.checkGlobFile(m, 0, position{}) {
			ok = false
			continue
		}
		f, err := os.Open(m.real)
		if err != nil {
			l.reportAt(position{}, Error, ExitFatal, "Unable to read configuration file %s", m.display)
			return false
		}
		f.Close()
		n++
	}
	if ok && n > 1 {
		l.reportAt(position{}, Error, ExitConfigErrors, "WARNING, multiple configuration file matches of %s, starting with %s", path, res.matches[0].display)
	}
	return ok
}

// errnoText renders an open error as strerror() would.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return fmt.Sprint(err)
}

// physicalDir is what getcwd() returns after chdir(dir): symlinks resolved.
func physicalDir(dir string) string {
	if p, err := filepath.EvalSymlinks(dir); err == nil {
		return p
	}
	return dir
}

// canonicalPath identifies a file for loop detection.
func canonicalPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
