package config

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxBraceAlternatives bounds brace expansion: "{a,b}" repeated 100 times
// on one line would otherwise mean 2^100 patterns.
const maxBraceAlternatives = 1024

// globResult is what glob(GLOB_MARK|GLOB_BRACE|GLOB_ALTDIRFUNC) tells
// keepalived: the matches, and (through its opendir/lstat hooks) whether
// directories or named files were missing and whether a wildcard was used.
type globResult struct {
	matches       []globMatch
	missingFiles  int
	missingDirs   int
	haveWildcards bool
}

// globber expands one pattern relative to base, the directory keepalived
// would have chdir()ed into.
type globber struct {
	base string
	res  *globResult
}

// glob expands pattern like glibc: brace alternatives in the order written,
// each alternative's matches sorted, directories marked with a trailing '/'.
func (l *lexer) glob(base, pattern string) globResult {
	var res globResult
	g := globber{base: base, res: &res}
	alts := expandBraces(pattern, maxBraceAlternatives)
	if len(alts) >= maxBraceAlternatives {
		l.report(Warning, ExitOK, "Include pattern '%s' has more than %d brace alternatives; the rest are ignored", pattern, maxBraceAlternatives)
	}
	for _, alt := range alts {
		var names []string
		for _, n := range g.glob(alt) {
			if st, err := os.Stat(g.real(n)); err == nil && st.IsDir() {
				n += "/"
			}
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			res.matches = append(res.matches, globMatch{display: n, real: g.real(strings.TrimSuffix(n, "/"))})
		}
	}
	return res
}

// real turns a name relative to the including file's directory into a path.
func (g globber) real(name string) string {
	if name == "" {
		name = "."
	}
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(g.base, name)
}

// glob expands a pattern without braces, the way glibc splits it: the
// directory part (itself globbed if it has wildcards), then the last name.
func (g globber) glob(pat string) []string {
	if pat == "" {
		g.res.missingFiles++
		return nil
	}
	if !hasMagic(pat) {
		if _, err := os.Lstat(g.real(pat)); err != nil {
			g.res.missingFiles++
			return nil
		}
		return []string{pat}
	}
	dir, file := "", pat
	if i := strings.LastIndexByte(pat, '/'); i >= 0 {
		dir, file = pat[:i], pat[i+1:]
		if dir == "" {
			dir = "/"
		}
	}
	dirs := []string{dir}
	if hasMagic(dir) {
		dirs = nil
		for _, d := range g.glob(dir) {
			if st, err := os.Stat(g.real(d)); err == nil && st.IsDir() {
				dirs = append(dirs, d)
			}
		}
	}
	var out []string
	for _, d := range dirs {
		out = append(out, g.inDir(d, file)...)
	}
	return out
}

// inDir matches one name pattern in directory d (glob_in_dir()).
func (g globber) inDir(d, file string) []string {
	if file == "" {
		return []string{d}
	}
	if !hasMagic(file) {
		p := joinGlob(d, file)
		if _, err := os.Lstat(g.real(p)); err != nil {
			g.res.missingFiles++
			return nil
		}
		return []string{p}
	}
	g.res.haveWildcards = true
	entries, err := os.ReadDir(g.real(d))
	if err != nil {
		g.res.missingDirs++
		return nil
	}
	pat := strings.ReplaceAll(file, "[!", "[^") // fnmatch negation
	var out []string
	for _, e := range entries {
		name := e.Name()
		if name[0] == '.' && file[0] != '.' {
			continue // a leading '.' must be matched explicitly
		}
		if ok, _ := filepath.Match(pat, name); ok {
			out = append(out, joinGlob(d, name))
		}
	}
	return out
}

func joinGlob(d, name string) string {
	switch {
	case d == "":
		return name
	case strings.HasSuffix(d, "/"):
		return d + name
	}
	return d + "/" + name
}

// hasMagic reports an unescaped '*', '?' or '['.
func hasMagic(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// hasBrace is have_brace(): an unescaped '{'.
func hasBrace(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			return true
		}
	}
	return false
}

// expandBraces expands csh-style braces, "{a,b{c,d}}x" -> ax bcx bdx, in
// the order written. Unbalanced braces are taken literally, as glibc does.
// At most limit patterns are returned.
func expandBraces(pat string, limit int) []string {
	if limit <= 0 {
		return nil
	}
	open, close, commas := findBraceGroup(pat)
	if open < 0 {
		return []string{pat}
	}
	var out []string
	prev := open + 1
	for _, c := range append(commas, close) {
		alt := pat[:open] + pat[prev:c] + pat[close+1:]
		out = append(out, expandBraces(alt, limit-len(out))...)
		if len(out) >= limit {
			return out[:limit]
		}
		prev = c + 1
	}
	return out
}

// findBraceGroup finds the first balanced, unescaped {...} and the commas
// at its top level.
func findBraceGroup(pat string) (open, close int, commas []int) {
	open, depth := -1, 0
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '\\':
			i++
		case '{':
			if depth == 0 {
				open, commas = i, nil
			}
			depth++
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		case '}':
			if depth == 0 {
				continue
			}
			if depth--; depth == 0 {
				return open, i, commas
			}
		}
	}
	return -1, -1, nil
}
