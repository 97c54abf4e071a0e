package afterhours_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// TestReadmeSample checks that the README's first Go sample is
// Example_readme: the sample's main function has the example's body, word
// for word, and it imports what the example's file does, so the sample
// runs as the example does and the two cannot drift apart.
func TestReadmeSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```go\n")
	if !ok {
		t.Fatal("README.md has no Go sample")
	}
	sample, _, ok := strings.Cut(rest, "```\n")
	if !ok {
		t.Fatal("README.md's Go sample does not end")
	}
	_, mainBody, ok := strings.Cut(sample, "func main() {\n")
	if !ok {
		t.Fatalf("README.md's first Go sample has no main function:\n%s", sample)
	}
	mainBody = strings.TrimSuffix(mainBody, "}\n")

	src, err := os.ReadFile("example_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, exBody, ok := strings.Cut(string(src), "func Example_readme() {\n")
	if !ok {
		t.Fatal("example_readme_test.go has no Example_readme")
	}
	exBody, _, ok = strings.Cut(exBody, "\t// Output:")
	if !ok {
		t.Fatal("Example_readme has no output")
	}
	if mainBody != exBody {
		t.Errorf("README.md's sample differs from Example_readme:\n--- README main:\n%s\n--- Example_readme:\n%s", mainBody, exBody)
	}

	// The example's file imports exactly what its body uses, so the sample
	// must import the same packages to compile.
	if got, want := importsOf(sample), importsOf(string(src)); !slices.Equal(got, want) {
		t.Errorf("README.md's sample imports %q, Example_readme's file %q", got, want)
	}
	if !strings.HasPrefix(sample, "package main\n") {
		t.Errorf("README.md's sample is not a whole program: it does not start with package main")
	}
}

// importsOf returns the import paths of the Go source's import block, in
// order.
func importsOf(src string) []string {
	_, block, _ := strings.Cut(src, "import (\n")
	block, _, _ = strings.Cut(block, "\n)\n")
	var paths []string
	for _, line := range strings.Split(block, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			paths = append(paths, line)
		}
	}
	return paths
}

// TestReadmeTestSample checks that the README's sample of a test of one's
// own profile is the body of TestReadmeProfile, indented one tab less, so
// that it compiles and passes as the README shows it.
func TestReadmeTestSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Testing your own profile\n")
	if !ok {
		t.Fatal("README.md has no section on testing your own profile")
	}
	_, sample, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal("the README's section on testing has no Go sample")
	}
	sample, _, _ = strings.Cut(sample, "```\n")

	src, err := os.ReadFile("readme_profile_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "func TestReadmeProfile(t *testing.T) {\n")
	if !ok {
		t.Fatal("readme_profile_test.go has no TestReadmeProfile")
	}
	body, _, _ = strings.Cut(body, "\n}\n")
	var want strings.Builder
	for _, line := range strings.Split(body, "\n") {
		want.WriteString(strings.TrimPrefix(line, "\t") + "\n")
	}
	if sample != want.String() {
		t.Errorf("the README's test sample differs from TestReadmeProfile's body:\n--- README:\n%s\n--- TestReadmeProfile:\n%s", sample, want.String())
	}
}

// TestReadmeDowntimeTimelines checks the README's timelines of the
// downtime actions against the plans of downtimeNight: a row's "=" run is
// the task's step (a character is 30 minutes from 18:00), a row without
// one a task deferred by the downtime, and the "db down" row the
// downtime. The stop timeline draws a run-time case and is not a plan.
func TestReadmeDowntimeTimelines(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Downtime actions\n")
	if !ok {
		t.Fatal("README.md has no section on downtime actions")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	monday := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC) // 18:00 London time, GMT
	const col = 17                                           // where the bars start
	for _, action := range []string{"suppress", "skip", "postpone", "anticipate", "hold"} {
		_, rest, ok := strings.Cut(section, "**`"+action+"`**")
		if !ok {
			t.Errorf("no timeline of %s", action)
			continue
		}
		_, block, _ := strings.Cut(rest, "```\n")
		block, _, _ = strings.Cut(block, "```\n")
		p, err := afterhours.ParseProfile([]byte(downtimeNight(action)))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := afterhours.PlanAt(p, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, line := range strings.Split(block, "\n") {
			if len(line) < col+28 || !strings.HasPrefix(line, "  ") {
				continue
			}
			name, bar := strings.TrimSpace(line[:col]), line[col:col+28]
			if name == "" { // the axis
				continue
			}
			first, last := strings.IndexAny(bar, "=#"), strings.LastIndexAny(bar, "=#")
			var drawn afterhours.Interval
			if first >= 0 {
				drawn = afterhours.Interval{Start: monday.Add(time.Duration(first) * 30 * time.Minute),
					End: monday.Add(time.Duration(last+1) * 30 * time.Minute)}
			}
			rows++
			if name == "db down" {
				if len(plan.Downtimes) != 1 || !plan.Downtimes[0].Start.Equal(drawn.Start) || !plan.Downtimes[0].End.Equal(drawn.End) {
					t.Errorf("%s: db down drawn %v, planned %v", action, drawn, plan.Downtimes)
				}
				continue
			}
			var step *afterhours.Step
			for i := range plan.Steps {
				if plan.Steps[i].Task.Name == name {
					step = &plan.Steps[i]
				}
			}
			switch {
			case step == nil && first >= 0:
				t.Errorf("%s: %s drawn at %v but not planned", action, name, drawn)
			case step == nil:
				if !slices.ContainsFunc(plan.Deferred, func(d afterhours.Deferral) bool {
					return d.Task.Name == name && d.Reason == afterhours.ReasonDowntime("db")
				}) {
					t.Errorf("%s: %s drawn without a run but not deferred by the downtime", action, name)
				}
			case !step.Start.Equal(drawn.Start) || !step.End.Equal(drawn.End):
				t.Errorf("%s: %s drawn %v to %v, planned %v to %v", action, name, drawn.Start, drawn.End, step.Start, step.End)
			}
		}
		if rows != 4 {
			t.Errorf("%s: %d rows in the timeline, want 4", action, rows)
		}
	}
}

// TestReadmeProfileReference checks that the README's profile reference
// has a row for every JSON field of the profile's types, so that a field
// added to a type cannot be missing from it.
func TestReadmeProfileReference(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, ref, ok := strings.Cut(string(readme), "## Profile reference\n")
	if !ok {
		t.Fatal("README.md has no profile reference")
	}
	ref, _, _ = strings.Cut(ref, "\n## ")
	types := []any{afterhours.Profile{}, afterhours.Site{}, afterhours.Token{}, afterhours.Task{},
		afterhours.Resource{}, afterhours.DowntimeSchedule{}, afterhours.Constraints{}}
	for _, v := range types {
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !strings.Contains(ref, "\n| `"+name+"`") && !strings.Contains(ref, ", `"+name+"` |") {
				t.Errorf("the README's profile reference has no row for %s's %q", rt.Name(), name)
			}
		}
	}
}

// TestReadmeReferenceExamples checks that the example of every row of the
// README's profile reference is valid: each, put into a minimal profile at
// its place, parses. A row of two fields ("from", "to") takes its two
// examples together; a row of one field with two examples takes each.
func TestReadmeReferenceExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const site = `{"timezone": "Europe/London"}`
	profile := func(extra map[string]string) string {
		m := map[string]string{"client": `"c"`, "site": site}
		maps.Copy(m, extra)
		return object(m)
	}
	list := func(fields map[string]string) string { return "[" + object(fields) + "]" }
	tables := map[string]func(fields map[string]string) string{
		"### Top level\n": func(f map[string]string) string { return profile(f) },
		"### `site`\n": func(f map[string]string) string {
			return profile(map[string]string{"site": object(with(map[string]string{"timezone": `"Europe/London"`}, f))})
		},
		"### Sharing token": func(f map[string]string) string {
			tok := with(map[string]string{"token": `"tok"`, "base": `"01:40"`, "duration": `"20m"`}, f)
			if _, ok := f["unplaced"]; ok {
				delete(tok, "base")
			}
			return profile(map[string]string{"sharing": list(tok)})
		},
		"### Task": func(f map[string]string) string {
			task := with(map[string]string{"name": `"t"`, "run": `["/bin/true"]`}, f)
			if _, ok := f["repeat"]; ok {
				task["start"] = `"2026-11-01T00:00:00Z"`
			}
			if _, ok := f["start"]; ok {
				task["repeat"] = `"daily"`
			}
			return profile(map[string]string{"housekeeping": list(task)})
		},
		"### Resource and downtime": func(f map[string]string) string {
			res, down := map[string]string{"name": `"db"`}, map[string]string{"dates": `["2026-11-24"]`}
			for k, v := range f {
				if k == "name" || k == "downtimes" {
					res[k] = v
				} else {
					down[k] = v
				}
			}
			if _, ok := res["downtimes"]; !ok {
				res["downtimes"] = list(down)
			}
			return profile(map[string]string{"resources": list(res)})
		},
		"### `constraints`": func(f map[string]string) string {
			return profile(map[string]string{"constraints": object(f)})
		},
	}
	for heading, build := range tables {
		_, table, ok := strings.Cut(string(readme), heading)
		if !ok {
			t.Fatalf("README.md has no %q", heading)
		}
		_, table, _ = strings.Cut(table, "|---|")
		table, _, _ = strings.Cut(table, "\n\n")
		rows := 0
		for _, line := range strings.Split(table, "\n") {
			cells := strings.Split(line, "|") // no cell of these tables holds a "|"
			if len(cells) != 6 || !strings.HasPrefix(cells[1], " `") {
				continue
			}
			rows++
			fields := strings.Split(strings.Trim(cells[1], " `"), "`, `")
			examples := strings.Split(strings.Trim(cells[4], " `"), "`, `")
			var cases []map[string]string
			switch {
			case len(fields) == len(examples):
				m := map[string]string{}
				for i, f := range fields {
					m[f] = examples[i]
				}
				cases = append(cases, m)
			case len(fields) == 1:
				for _, ex := range examples {
					cases = append(cases, map[string]string{fields[0]: ex})
				}
			default:
				t.Errorf("%s: row %q: %d fields, %d examples", heading, cells[1], len(fields), len(examples))
			}
			for _, c := range cases {
				src := build(c)
				if _, err := afterhours.ParseProfile([]byte(src)); err != nil {
					t.Errorf("%s: %v: %v", strings.TrimSpace(heading), c, err)
				}
			}
		}
		if rows < 6 {
			t.Errorf("%s: %d rows read", heading, rows)
		}
	}
}

// with returns a copy of base with the fields of extra set.
func with(base, extra map[string]string) map[string]string {
	m := maps.Clone(base)
	maps.Copy(m, extra)
	return m
}

// object writes the fields as a JSON object, their values as given.
func object(fields map[string]string) string {
	var b strings.Builder
	b.WriteString("{")
	for i, k := range slices.Sorted(maps.Keys(fields)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + k + `": ` + fields[k])
	}
	return b.String() + "}"
}

// TestReadmeReasonsAndActions checks that the README names every deferral
// reason and every downtime action the package declares: each exported
// string constant named Reason* has a row in the deferral reasons, and
// each Action* its paragraph in the downtime actions.
func TestReadmeReasonsAndActions(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, reasons, _ := strings.Cut(string(readme), "## Deferral reasons\n")
	reasons, _, _ = strings.Cut(reasons, "\n## ")
	_, actions, _ := strings.Cut(string(readme), "## Downtime actions\n")
	actions, _, _ = strings.Cut(actions, "\n## ")

	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					value, _ := strconv.Unquote(lit.Value)
					switch {
					case strings.HasPrefix(id.Name, "Reason"):
						found++
						if !strings.Contains(reasons, "| `"+value) || !strings.Contains(reasons, "(`"+id.Name) {
							t.Errorf("the README's deferral reasons have no row for %s (%q)", id.Name, value)
						}
					case strings.HasPrefix(id.Name, "Action"):
						found++
						if !strings.Contains(actions, "**`"+value+"`**") {
							t.Errorf("the README's downtime actions do not describe %s (%q)", id.Name, value)
						}
					}
				}
			}
		}
	}
	if found < 20 {
		t.Errorf("found %d reason and action constants: the test reads too few", found)
	}
}
