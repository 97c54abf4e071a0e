package afterhours

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// compileProfileSchema compiles the embedded schema with a draft 2020-12
// validator.
func compileProfileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ProfileSchema()))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(ProfileSchemaID, doc))
	sch, err := c.Compile(ProfileSchemaID)
	require.NoError(t, err)
	return sch
}

// schemaAccepts reports whether data is JSON that the schema accepts, and
// the validator's complaint when not.
func schemaAccepts(sch *jsonschema.Schema, data []byte) (bool, string) {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return false, "not JSON: " + err.Error()
	}
	if err := sch.Validate(inst); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func TestProfileSchemaIsTheEmbeddedFile(t *testing.T) {
	file, err := os.ReadFile("profile.schema.json")
	require.NoError(t, err)
	got := ProfileSchema()
	require.Equal(t, file, got)
	got[0] = 'x' // a copy: the next caller still gets the schema
	require.Equal(t, file, ProfileSchema())

	var head struct {
		Schema string `json:"$schema"`
		ID     string `json:"$id"`
	}
	require.NoError(t, json.Unmarshal(file, &head))
	require.Equal(t, "https://json-schema.org/draft/2020-12/schema", head.Schema)
	require.Equal(t, ProfileSchemaID, head.ID)
}

// profileFiles lists the profiles of the repository: every *profile.json
// under testdata/, examples/ and cmd/afterhours/testdata/. Read them with
// readProfile.
func profileFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"testdata", "examples", filepath.Join("cmd", "afterhours", "testdata")} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, "profile.json") {
				files = append(files, path)
			}
			return nil
		})
		require.NoError(t, err)
	}
	require.Greater(t, len(files), 20)
	return files
}

// TestProfileSchemaAcceptsTheProfiles validates every profile of the
// repository against the schema: those ParseProfile accepts (all but the
// command's invalid example) must pass, and that one must fail both.
func TestProfileSchemaAcceptsTheProfiles(t *testing.T) {
	sch := compileProfileSchema(t)
	for _, name := range profileFiles(t) {
		t.Run(name, func(t *testing.T) {
			data := readProfile(t, name)
			ok, why := schemaAccepts(sch, data)
			if strings.HasSuffix(name, "invalid.profile.json") {
				require.False(t, ok, "the schema accepts %s", name)
				_, err := ParseProfile(data)
				require.Error(t, err)
				return
			}
			_, err := ParseProfile(data)
			require.NoError(t, err)
			require.True(t, ok, "ParseProfile accepts %s, the schema does not: %s", name, why)
		})
	}
}

// TestProfileSchemaNamesItself checks that a profile may name the schema
// in "$schema", and both accept it.
func TestProfileSchemaNamesItself(t *testing.T) {
	sch := compileProfileSchema(t)
	doc := []byte(`{"$schema":"` + ProfileSchemaID + `","client":"c","site":{"timezone":"UTC"}}`)
	_, err := ParseProfile(doc)
	require.NoError(t, err)
	ok, why := schemaAccepts(sch, doc)
	require.True(t, ok, why)
}

// beyondSchema lists the rules ParseProfile checks that the schema cannot
// express (ProfileSchema's doc and the schema's description list them): a
// problem of a profile the schema accepts must be one of these, found by
// its path and message.
var beyondSchema = []struct {
	rule          string
	path, message *regexp.Regexp
}{
	{"a key twice in an object", regexp.MustCompile(``), regexp.MustCompile(`^duplicate key`)},
	{"a NUL byte in a string", regexp.MustCompile(``), regexp.MustCompile(`NUL byte`)},
	{"task names unique across the profile", regexp.MustCompile(`\.name$`), regexp.MustCompile(`already used at`)},
	{"resource names unique", regexp.MustCompile(`^resources\[\d+\]\.name$`), regexp.MustCompile(`^resource ".*" repeated$`)},
	{"tokens unique", regexp.MustCompile(`^sharing\[\d+\]\.token$`), regexp.MustCompile(`^token ".*" repeated$`)},
	{"x with !x", regexp.MustCompile(`\.tags\[\d+\]$`), regexp.MustCompile(`^selector has both`)},
	{"business intervals overlap", regexp.MustCompile(`^site\.business_hours\.\w+$`), regexp.MustCompile(`overlap$`)},
	{"business intervals end after they start", regexp.MustCompile(`^site\.business_hours\.\w+\[\d+\]$`), regexp.MustCompile(`ends before it starts`)},
	{"business hours leave a window", regexp.MustCompile(`^site\.business_hours$`), regexp.MustCompile(`^no after-hours window`)},
	{"a downtime's to other than its from", regexp.MustCompile(`\.downtimes\[\d+\]\.to$`), regexp.MustCompile(`^equals from`)},
	{"grace up to 12h", regexp.MustCompile(`^site\.grace$`), regexp.MustCompile(`out of range: want 0 to 12h`)},
	{"buffer and duration up to 24h", regexp.MustCompile(`^sharing\[\d+\]$`), regexp.MustCompile(`exceed 24h`)},
	{"estimate up to timeout", regexp.MustCompile(`\.estimate$`), regexp.MustCompile(`exceeds the timeout`)},
	{"disk_busy_over up to 1m", regexp.MustCompile(`^constraints\.disk_busy_over$`), regexp.MustCompile(`out of range: want up to 1m`)},
	{"a positive duration that rounds to 0ns", regexp.MustCompile(`\.duration$`), regexp.MustCompile(`^required: a positive duration`)},
	{"a duration that overflows", regexp.MustCompile(``), regexp.MustCompile(`^invalid duration`)},
	{"a size that overflows", regexp.MustCompile(``), regexp.MustCompile(`^invalid size`)},
	{"dates that exist", regexp.MustCompile(``), regexp.MustCompile(`^invalid date`)},
	{"instants that exist", regexp.MustCompile(`\.(start|ended)$`), regexp.MustCompile(`^invalid (start|instant)`)},
	{"zones the database has", regexp.MustCompile(`^site\.timezone$`), regexp.MustCompile(`^unknown time zone`)},
	{"cron specs robfig/cron takes and that can fire", regexp.MustCompile(`\.schedule$`),
		regexp.MustCompile(`^(invalid schedule|schedule .* can never fire|invalid day.of.week|day-of-week range|empty day-of-week|time zone prefixes|@every)`)},
	{"probe URLs that net/url parses", regexp.MustCompile(`^constraints\.probe$`), regexp.MustCompile(`is not an http or https URL$`)},
	{"whole numbers in range", regexp.MustCompile(``), regexp.MustCompile(`^want a (whole )?number, not`)},
	{"JSON nested at most 64 deep", regexp.MustCompile(`^$`), regexp.MustCompile(`nested deeper than 64`)},
}

// explainedBeyondSchema returns the problems of err that no rule of
// beyondSchema explains.
func explainedBeyondSchema(err error) []string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	// A key given twice has two values: the schema judges one of them
	// (the last, as most decoders keep) and ParseProfile may judge the
	// other, so every problem in the object that repeats a key is
	// explained by the repetition: at or under the key, and at its
	// siblings, whose rules may depend on its value (a timer's start on
	// its repeat).
	var repeated []string // the objects that repeat a key; "" the root
	for _, p := range ve.Problems {
		if strings.HasPrefix(p.Message, "duplicate key") {
			parent := ""
			if i := strings.LastIndexByte(p.Path, '.'); i >= 0 {
				parent = p.Path[:i]
			}
			repeated = append(repeated, parent)
		}
	}
	under := func(path string) bool {
		return slices.ContainsFunc(repeated, func(r string) bool {
			return r == "" || path == r || strings.HasPrefix(path, r+".") || strings.HasPrefix(path, r+"[")
		})
	}
	var left []string
	for _, p := range ve.Problems {
		if under(p.Path) {
			continue
		}
		if !slices.ContainsFunc(beyondSchema, func(r struct {
			rule          string
			path, message *regexp.Regexp
		}) bool {
			return r.path.MatchString(p.Path) && r.message.MatchString(p.Message)
		}) {
			left = append(left, p.String())
		}
	}
	return left
}

// hostileInputs collects the inputs of the tests that feed ParseProfile:
// every string constant of this package's tests that starts with '{' or '['
// (the fuzz seeds, the hostile-profile and validation tables, the
// property profiles: whatever tests are added later), the fuzz corpus under
// testdata/fuzz, and the repository's profiles.
func hostileInputs(t testing.TB) map[string][]byte {
	t.Helper()
	inputs := map[string][]byte{}
	fset := token.NewFileSet()
	tests, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	for _, name := range tests {
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			expr, ok := n.(ast.Expr)
			if !ok {
				return true
			}
			s, ok := constString(expr)
			if !ok {
				return true
			}
			if trimmed := strings.TrimSpace(s); strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
				inputs[fset.Position(n.Pos()).String()] = []byte(s)
			}
			return false
		})
	}
	corpus, err := filepath.Glob(filepath.Join("testdata", "fuzz", "*", "*"))
	require.NoError(t, err)
	for _, name := range corpus {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		for i, line := range strings.Split(string(data), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				require.NoError(t, err, "%s:%d", name, i+1)
				inputs[name+":"+strconv.Itoa(i+1)] = []byte(s)
			}
		}
	}
	for _, name := range profileFiles(t) {
		inputs[name] = readProfile(t, name)
	}
	return inputs
}

// readProfile reads a profile of the repository. The agent example's
// profile names its scripts under "${AGENT_DIR}", which the example
// replaces with its directory before parsing; so does readProfile.
func readProfile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	return bytes.ReplaceAll(data, []byte("${AGENT_DIR}"), []byte("/opt/afterhours-agent"))
}

// constString returns the value of a string literal or of a sum of them.
func constString(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok := constString(e.X)
		if !ok {
			return "", false
		}
		b, ok := constString(e.Y)
		return a + b, ok
	case *ast.ParenExpr:
		return constString(e.X)
	}
	return "", false
}

// TestProfileSchemaAgreesWithParseProfile checks both directions over every
// input of the fuzz corpus, the hostile-profile tests and the repository's
// profiles: what ParseProfile accepts the schema accepts (so what the
// schema rejects ParseProfile rejects), and what ParseProfile rejects while
// the schema accepts breaks only rules of beyondSchema.
func TestProfileSchemaAgreesWithParseProfile(t *testing.T) {
	sch := compileProfileSchema(t)
	inputs := hostileInputs(t)
	require.Greater(t, len(inputs), 200)
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	var accepted, rejectedBoth, beyond int
	for _, name := range names {
		data := inputs[name]
		_, perr := ParseProfile(data)
		ok, why := schemaAccepts(sch, data)
		switch {
		case perr == nil && !ok:
			t.Errorf("%s: ParseProfile accepts, the schema rejects: %s\n%s", name, why, data)
		case perr == nil:
			accepted++
		case !ok:
			rejectedBoth++
		default:
			beyond++
			if left := explainedBeyondSchema(perr); len(left) > 0 {
				t.Errorf("%s: the schema accepts, ParseProfile rejects for a rule the schema could express:\n  %s\n%s",
					name, strings.Join(left, "\n  "), data)
			}
		}
	}
	t.Logf("%d inputs: %d accepted by both, %d rejected by both, %d rejected by ParseProfile alone (rules beyond the schema)",
		len(inputs), accepted, rejectedBoth, beyond)
	require.Positive(t, accepted)
	require.Positive(t, rejectedBoth)
}

// FuzzProfileSchema looks for inputs on which the schema and ParseProfile
// disagree beyond the rules of beyondSchema, starting from every input
// TestProfileSchemaAgreesWithParseProfile checks.
func FuzzProfileSchema(f *testing.F) {
	sch := compileProfileSchema(f)
	inputs := hostileInputs(f)
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		f.Add(inputs[name])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, perr := ParseProfile(data)
		ok, why := schemaAccepts(sch, data)
		switch {
		case perr == nil && !ok:
			t.Fatalf("ParseProfile accepts, the schema rejects: %s\n%q", why, data)
		case perr != nil && ok:
			if left := explainedBeyondSchema(perr); len(left) > 0 {
				t.Fatalf("the schema accepts, ParseProfile rejects for a rule the schema could express:\n  %s\n%q", strings.Join(left, "\n  "), data)
			}
		}
	})
}

// schemaDefs maps each struct type of the profile to the schema objects
// that describe it (JSON pointers into the schema).
var schemaDefs = map[reflect.Type][]string{
	reflect.TypeFor[Profile]():          {""},
	reflect.TypeFor[Site]():             {"/$defs/site"},
	reflect.TypeFor[Token]():            {"/$defs/token"},
	reflect.TypeFor[Task]():             {"/$defs/recurringTask", "/$defs/oneOffTask"},
	reflect.TypeFor[Resource]():         {"/$defs/resource"},
	reflect.TypeFor[DowntimeSchedule](): {"/$defs/downtime"},
	reflect.TypeFor[Constraints]():      {"/$defs/constraints"},
}

// TestProfileSchemaCoversTheGoTypes checks that the schema and the Go types
// cannot drift apart: every struct type reachable from Profile has its
// schema objects, each lists exactly the JSON fields of the type (and the
// root also "$schema"), refuses other fields, and every property, everywhere,
// has a description (its own or that of the definition it refers to).
func TestProfileSchemaCoversTheGoTypes(t *testing.T) {
	var schema map[string]any
	require.NoError(t, json.Unmarshal(ProfileSchema(), &schema))
	defs := schema["$defs"].(map[string]any)

	found := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		switch rt.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			walk(rt.Elem())
		case reflect.Struct:
			if found[rt] {
				return
			}
			found[rt] = true
			for _, ft := range jsonFields(rt) {
				walk(ft)
			}
		}
	}
	walk(reflect.TypeFor[Profile]())
	for rt := range found {
		require.Contains(t, schemaDefs, rt, "struct %v of the profile has no schema object", rt)
	}
	require.Len(t, schemaDefs, len(found))

	for rt, pointers := range schemaDefs {
		want := slices.Sorted(func(yield func(string) bool) {
			for name := range jsonFields(rt) {
				if !yield(name) {
					return
				}
			}
		})
		if rt == reflect.TypeFor[Profile]() {
			want = append([]string{schemaKey}, want...)
			sort.Strings(want)
		}
		for _, ptr := range pointers {
			obj := schema
			if ptr != "" {
				obj = defs[strings.TrimPrefix(ptr, "/$defs/")].(map[string]any)
			}
			props := obj["properties"].(map[string]any)
			got := slices.Sorted(func(yield func(string) bool) {
				for name := range props {
					if !yield(name) {
						return
					}
				}
			})
			require.Equal(t, want, got, "schema %q and the fields of %v", ptr, rt)
			require.Equal(t, false, obj["additionalProperties"], "schema %q must refuse unknown fields, as ParseProfile does", ptr)
		}
	}

	// Every property has a description, directly or by its reference.
	var check func(path string, node any)
	check = func(path string, node any) {
		switch n := node.(type) {
		case map[string]any:
			if props, ok := n["properties"].(map[string]any); ok {
				for name, p := range props {
					pm := p.(map[string]any)
					if _, ok := pm["description"]; ok {
						continue
					}
					ref, _ := pm["$ref"].(string)
					target, _ := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
					if _, ok := target["description"]; !ok && !isConstraintOnly(pm) {
						t.Errorf("property %s/%s has no description", path, name)
					}
				}
			}
			for k, v := range n {
				check(path+"/"+k, v)
			}
		case []any:
			for i, v := range n {
				check(path+"/"+strconv.Itoa(i), v)
			}
		}
	}
	check("", schema)
}

// isConstraintOnly reports whether a properties entry only narrows a
// property described elsewhere (inside allOf, if, then, not): such entries
// carry no description of their own.
func isConstraintOnly(p map[string]any) bool {
	for k := range p {
		switch k {
		case "type", "minLength", "minItems", "maxItems", "const", "enum":
		default:
			return false
		}
	}
	return true
}

// schemaEdges are inputs at the edges of the formats the schema describes,
// each with whether ParseProfile accepts it; the schema must agree where it
// can (TestProfileSchemaEdges).
var schemaEdges = []struct {
	name, doc string
	ok        bool
	beyond    bool // ParseProfile rejects it for a rule of beyondSchema, the schema accepts it
}{
	{"null leaves a field unset", `{"client":"c","site":{"timezone":"UTC","tags":null,"grace":null,"business_hours":{"mon":null}},
	  "sharing":null,"updates":[{"name":"u","run":["/u",null],"enabled":null,"on_failure":null,"schedule":null}],
	  "self_update":null,"parallel":null,"constraints":{"max_load":null,"min_free_disk":{"/var":null}}}`, true, false},
	{"durations Go reads", `{"client":"c","site":{"timezone":"UTC","grace":"+1.h"},"housekeeping":[
	  {"name":"a","run":["/a"],"estimate":".5m","timeout":"1h0m0.5s"},{"name":"b","run":["/b"],"estimate":"-0s","timeout":"90µs"}]}`, true, false},
	{"a negative duration", `{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"a","run":["/a"],"estimate":"-1m"}]}`, false, false},
	{"a duration without a unit", `{"client":"c","site":{"timezone":"UTC","grace":"30"}}`, false, false},
	{"a zero slot", `{"client":"c","site":{"timezone":"UTC"},"sharing":[{"token":"t","base":"01:00","duration":"0s"}]}`, false, false},
	{"sizes ParseFloat reads", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"min_free_memory":"0x1p20",
	  "min_free_disk":{"/":" 1.5 GiB","/var":"-0","/tmp":1e6,"/srv":"2E3KB"}}}`, true, false},
	{"NaN is no size", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"min_free_memory":"NaN"}}`, false, false},
	{"a negative size", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"min_free_memory":"-5MB"}}`, false, false},
	{"a relative disk path", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"min_free_disk":{"var":"1GiB"}}}`, false, false},
	{"cron specs and descriptors", `{"client":"c","site":{"timezone":"UTC"},"housekeeping":[
	  {"name":"a","run":["/a"],"schedule":" 0 3 * JAN-MAR sun,7 "},{"name":"b","run":["/b"],"schedule":"@midnight"},
	  {"name":"c","run":["/c"],"schedule":"*/15 2-4 1,15 * ?","start":"2026-01-01T00:00:00,5+05:45"}]}`, true, false},
	{"a cron spec of 4 fields", `{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"a","run":["/a"],"schedule":"0 3 * *"}]}`, false, false},
	{"@every", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"],"schedule":"@every 1h"}]}`, false, false},
	{"a time zone prefix", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"],"schedule":"TZ=UTC 0 3 * * *"}]}`, false, false},
	{"a timer without a schedule", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"]}]}`, false, false},
	{"a schedule and a repeat", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"],"schedule":"@daily","repeat":"daily","start":"2026-01-01T00:00:00Z"}]}`, false, false},
	{"a repeat without a start", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"],"repeat":"daily"}]}`, false, false},
	{"a start alone", `{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"a","run":["/a"],"start":"2026-01-01T00:00:00Z"}]}`, false, false},
	{"an update that recurs", `{"client":"c","site":{"timezone":"UTC"},"updates":[{"name":"a","run":["/a"],"schedule":"@daily"}]}`, false, false},
	{"an unknown repeat", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"],"repeat":"yearly","start":"2026-01-01T00:00:00Z"}]}`, false, false},
	{"a lower-case t in an instant", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"],"repeat":"daily","start":"2026-01-01t00:00:00Z"}]}`, false, false},
	{"the zone Local", `{"client":"c","site":{"timezone":"Local"}}`, false, false},
	{"zones", `{"client":"c","site":{"timezone":"America/Argentina/Buenos_Aires"},"sharing":[{"token":"t","base":"23:59","zone":"site","duration":"1m"}]}`, true, false},
	{"Etc zones", `{"client":"c","site":{"timezone":"Etc/GMT+5"}}`, true, false},
	{"a site tag with !", `{"client":"c","site":{"timezone":"UTC","tags":["!x"]}}`, false, false},
	{"a tag twice", `{"client":"c","site":{"timezone":"UTC","tags":["x","x"]}}`, false, false},
	{"a selector of !", `{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"a","run":["/a"],"tags":["!"]}]}`, false, false},
	{"business hours to 24:00", `{"client":"c","site":{"timezone":"UTC","business_hours":{"mon":["00:00-08:00","18:00-24:00"]}}}`, true, false},
	{"business hours from 24:00", `{"client":"c","site":{"timezone":"UTC","business_hours":{"mon":["24:00-24:00"]}}}`, false, false},
	{"a weekday in full", `{"client":"c","site":{"timezone":"UTC","business_hours":{"monday":["08:00-18:00"]}}}`, false, false},
	{"a closed date of one digit", `{"client":"c","site":{"timezone":"UTC","closed":["2026-1-01"]}}`, false, false},
	{"an unplaced token", `{"client":"c","site":{"timezone":"UTC"},"sharing":[{"token":"t","unplaced":"full","duration":"20m","tasks":[{"name":"s","run":["/s"]}]}]}`, true, false},
	{"an unplaced token with a base", `{"client":"c","site":{"timezone":"UTC"},"sharing":[{"token":"t","unplaced":"full","base":"01:00","duration":"20m"}]}`, false, false},
	{"a token without a base", `{"client":"c","site":{"timezone":"UTC"},"sharing":[{"token":"t","duration":"20m"}]}`, false, false},
	{"a token zone", `{"client":"c","site":{"timezone":"UTC"},"sharing":[{"token":"t","base":"01:00","zone":"local","duration":"20m"}]}`, false, false},
	{"downtimes", `{"client":"c","site":{"timezone":"UTC"},"resources":[{"name":"db","downtimes":[
	  {"dates":["2026-11-24"],"from":"23:00","to":"24:00","action":"anticipate","once":true,"ended":"2026-11-24T23:30:00Z"},
	  {"days":["sun"],"action":""}]}]}`, true, false},
	{"a downtime with neither dates nor days", `{"client":"c","site":{"timezone":"UTC"},"resources":[{"name":"db","downtimes":[{"dates":[]}]}]}`, false, false},
	{"a downtime from without to", `{"client":"c","site":{"timezone":"UTC"},"resources":[{"name":"db","downtimes":[{"days":["mon"],"from":"01:00"}]}]}`, false, false},
	{"a weekly downtime once", `{"client":"c","site":{"timezone":"UTC"},"resources":[{"name":"db","downtimes":[{"days":["mon"],"once":true}]}]}`, false, false},
	{"a downtime from 00:00 to 24:00", `{"client":"c","site":{"timezone":"UTC"},"resources":[{"name":"db","downtimes":[{"days":["mon"],"from":"00:00","to":"24:00"}]}]}`, false, true},
	{"x with !x", `{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"a","run":["/a"],"tags":["x","!x"]}]}`, false, true},
	{"an estimate over the timeout", `{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"a","run":["/a"],"estimate":"2h","timeout":"1h"}]}`, false, true},
	{"a date that does not exist", `{"client":"c","site":{"timezone":"UTC","closed":["2026-02-30"]}}`, false, true},
	{"a zone the database lacks", `{"client":"c","site":{"timezone":"Nowhere/Land"}}`, false, true},
	{"a cron minute of 60", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"],"schedule":"60 * * * *"}]}`, false, true},
	{"a task name twice", `{"client":"c","site":{"timezone":"UTC"},"updates":[{"name":"a","run":["/a"]},{"name":"a","run":["/a"]}]}`, false, true},
	{"an unknown action", `{"client":"c","site":{"timezone":"UTC"},"resources":[{"name":"db","downtimes":[{"days":["mon"],"action":"pause"}]}]}`, false, false},
	{"a probe", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"probe":"HTTPS://example.com:8443/health","probe_timeout":"2s","max_disk_busy":100,"disk_busy_over":"1m"}}`, true, false},
	{"a probe by ftp", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"probe":"ftp://example.com/"}}`, false, false},
	{"a busy disk over 100%", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"max_disk_busy":101}}`, false, false},
	{"negative parallel", `{"client":"c","site":{"timezone":"UTC"},"parallel":-1}`, false, false},
	{"parallel beyond int32", `{"client":"c","site":{"timezone":"UTC"},"parallel":2147483648}`, false, false},
	{"an unknown on_failure", `{"client":"c","site":{"timezone":"UTC"},"updates":[{"name":"a","run":["/a"],"on_failure":"retry"}]}`, false, false},
	{"a relative command", `{"client":"c","site":{"timezone":"UTC"},"updates":[{"name":"a","run":["a"]}]}`, false, false},
	{"no command", `{"client":"c","site":{"timezone":"UTC"},"updates":[{"name":"a","run":[]}]}`, false, false},
}

// TestProfileSchemaEdges checks the schema and ParseProfile on inputs at the
// edges of the formats: ParseProfile as the table says, and the schema the
// same, but for the inputs that break a rule beyond the schema, which the
// schema accepts.
func TestProfileSchemaEdges(t *testing.T) {
	sch := compileProfileSchema(t)
	for _, tt := range schemaEdges {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProfile([]byte(tt.doc))
			ok, why := schemaAccepts(sch, []byte(tt.doc))
			if tt.ok {
				require.NoError(t, err)
				require.True(t, ok, "the schema rejects: %s", why)
				return
			}
			require.Error(t, err)
			if tt.beyond {
				require.True(t, ok, "the schema rejects: %s", why)
				require.Empty(t, explainedBeyondSchema(err))
				return
			}
			require.False(t, ok, "the schema accepts what ParseProfile rejects with %v", err)
		})
	}
}
