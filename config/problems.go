package config

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Problem is one thing wrong with the configuration. Path is the dotted
// option path ("server.read_timeout"), "(file)" for the file as a whole, or
// the name of an environment variable when the variable itself is the
// problem. Line (1-based) or Env tell the operator where the value came from,
// when known.
type Problem struct {
	Path    string
	Message string
	Line    int
	Env     string
}

// String renders the problem as one line: "path: message (line N)".
// Control characters (from odd keys or parser messages) are escaped so one
// problem is always one line.
func (p Problem) String() string {
	return oneLine.Replace(p.raw())
}

var oneLine = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", " ")

func (p Problem) raw() string {
	var b strings.Builder
	b.WriteString(p.Path)
	b.WriteString(": ")
	b.WriteString(p.Message)
	switch {
	case p.Line > 0:
		fmt.Fprintf(&b, " (line %d)", p.Line)
	case p.Env != "" && p.Env != p.Path:
		fmt.Fprintf(&b, " (from %s)", p.Env)
	}
	return b.String()
}

// Problems is every problem found in one Load, in the order found: the file
// in document order, then the environment, then the cross-field checks in
// the order of the Config struct. It is the error Load returns when the
// configuration is unusable; commands should exit with status 2 on it.
type Problems struct {
	List []Problem
}

// Error renders one problem per line, no header, so the output can be
// printed as is and grepped.
func (ps *Problems) Error() string {
	lines := make([]string, len(ps.List))
	for i, p := range ps.List {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problemSet collects problems and knows where each option's value came
// from, so that cross-field checks can point at a line or a variable.
type problemSet struct {
	list    []Problem
	lines   map[string]int    // option path → line in the file
	envs    map[string]string // option path → environment variable
	flagged map[string]bool   // paths that already have a problem
}

func newProblemSet() *problemSet {
	return &problemSet{lines: map[string]int{}, envs: map[string]string{}, flagged: map[string]bool{}}
}

// add records a problem for path unless path already has one: a value that
// failed to decode must not be reported a second time as "required".
func (s *problemSet) add(path, format string, args ...any) {
	if s.flagged[path] {
		return
	}
	s.flagged[path] = true
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	base, _, _ := strings.Cut(path, "[") // list items share their list's variable
	if env, ok := s.envs[base]; ok {
		p.Env = env
	} else if p.Line = s.lines[path]; p.Line == 0 {
		p.Line = s.lines[base] // an item written inline: its list's line
	}
	s.list = append(s.list, p)
}

// addRelated is add for a problem about a missing value: it points at
// where the related option that makes it necessary was set.
func (s *problemSet) addRelated(path, related, format string, args ...any) {
	_, hasLine := s.lines[path]
	_, hasEnv := s.envs[path]
	if hasLine || hasEnv || s.flagged[path] {
		s.add(path, format, args...)
		return
	}
	s.flagged[path] = true
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if env, ok := s.envs[related]; ok {
		p.Env = env
	} else {
		p.Line = s.lines[related]
	}
	s.list = append(s.list, p)
}

// addAt records a problem at an explicit line (decode problems know the
// node they came from even when the path is not an option).
func (s *problemSet) addAt(path string, line int, format string, args ...any) {
	s.flagged[path] = true
	s.list = append(s.list, Problem{Path: path, Message: fmt.Sprintf(format, args...), Line: line})
}

// addEnv records a problem caused by an environment variable.
func (s *problemSet) addEnv(path, env, format string, args ...any) {
	s.flagged[path] = true
	s.list = append(s.list, Problem{Path: path, Message: fmt.Sprintf(format, args...), Env: env})
}

func (s *problemSet) err() error {
	if len(s.list) == 0 {
		return nil
	}
	return &Problems{List: append([]Problem(nil), s.list...)}
}

// suggest returns the candidate closest to got, or "" when none is close
// enough to be a plausible typo. Spelling variants that differ only in case,
// '-' or '_' ("baseURL", "base-url") always match.
func suggest(got string, candidates []string) string {
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '_' || r == '-' || r == '.' {
				return -1
			}
			return unicode.ToLower(r)
		}, s)
	}
	ng := norm(got)
	for _, c := range candidates {
		if norm(c) == ng {
			return c
		}
	}
	// A known name the operator shortened or lengthened ("warning" for
	// "warn"), when only one candidate fits.
	var prefixed []string
	for _, c := range candidates {
		lc := strings.ToLower(c)
		lg := strings.ToLower(got)
		if short := min(len(lc), len(lg)); short >= 3 && (strings.HasPrefix(lc, lg) || strings.HasPrefix(lg, lc)) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	limit := 1
	switch n := len([]rune(got)); {
	case n >= 12:
		limit = 3
	case n >= 5:
		limit = 2
	}
	best, bestD := "", limit+1
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted) // ties resolve the same way every run
	for _, c := range sorted {
		if d := editDistance(strings.ToLower(got), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of two adjacent letters each cost one,
// so "read_timout" and "raed_timeout" are both one step away.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// clip shortens a value echoed in a message: a pasted certificate or a
// runaway line should not flood the terminal.
func clip(s string) string {
	const max = 100
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
