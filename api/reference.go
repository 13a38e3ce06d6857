package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/concertd/concertd/engine"
)

//go:generate go run ../cmd/apidoc -o ../docs/API.md

// The Markdown reference (docs/API.md) is written from the same document as
// /openapi.json, read back through these few fields, so the two cannot disagree.
type refDoc struct {
	Info struct {
		Title, Version, Description string
	}
	Tags []struct {
		Name, Description string
	}
	Paths      map[string]map[string]refOp
	Components struct {
		Schemas map[string]*refSchema
	}
}

type refOp struct {
	Summary, Description string
	Tags                 []string
	Parameters           []struct {
		Name, In, Description string
		Required              bool
		Schema                *refSchema
	}
	RequestBody *struct {
		Content map[string]struct{ Schema *refSchema }
	}
	Responses map[string]struct {
		Description string
		Content     map[string]struct{ Schema *refSchema }
	}
	Security []map[string][]string
}

type refSchema struct {
	Ref                  string `json:"$ref"`
	Type, Format         string
	Description          string
	Enum                 []string
	Items                *refSchema
	Properties           map[string]*refSchema
	Required             []string
	Minimum, Maximum     *float64
	MinLength, MaxLength *int
}

// Reference is docs/API.md: every operation of the OpenAPI document by tag, in
// the order of the operations table, then every schema and the error codes with
// their HTTP status.
func Reference() []byte {
	var d refDoc
	if err := json.Unmarshal(openAPIJSON, &d); err != nil {
		panic("api reference: " + err.Error())
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# %s HTTP API (version %s)\n\n", d.Info.Title, d.Info.Version)
	p("<!-- Generated from api/openapi.go by `make docs`; do not edit. A running server serves the same\n")
	p("     contract as /openapi.json and browsable at /docs. -->\n\n")
	p("%s\n\n", d.Info.Description)
	for _, t := range d.Tags {
		p("- [%s](#%s): %s\n", t.Name, anchor(t.Name), t.Description)
	}
	p("- [Schemas](#schemas)\n- [Error codes](#error-codes)\n")
	for _, t := range d.Tags {
		p("\n## %s\n\n%s.\n", t.Name, upperFirst(t.Description))
		for _, o := range operations {
			if o.tag != t.Name {
				continue
			}
			writeOperation(&b, o.method, o.path, d.Paths[o.path][strings.ToLower(o.method)])
		}
	}
	p("\n## Schemas\n")
	names := make([]string, 0, len(d.Components.Schemas))
	for n := range d.Components.Schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := d.Components.Schemas[n]
		p("\n### %s\n\n", n)
		if len(s.Properties) == 0 {
			p("%s\n", typeOf(s))
			continue
		}
		p("| field | type | required | notes |\n|---|---|---|---|\n")
		fields := make([]string, 0, len(s.Properties))
		for f := range s.Properties {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		for _, f := range fields {
			req := ""
			if slices.Contains(s.Required, f) {
				req = "yes"
			}
			p("| `%s` | %s | %s | %s |\n", f, typeOf(s.Properties[f]), req, cell(s.Properties[f].Description))
		}
	}
	p("\n## Error codes\n\nEvery error answer is `{\"code\", \"message\"}`; the code decides the status.\n\n")
	p("| code | status |\n|---|---:|\n")
	codes := make([]string, 0, len(statusOf))
	for c := range statusOf {
		codes = append(codes, string(c))
	}
	slices.Sort(codes)
	for _, c := range codes {
		p("| `%s` | %d |\n", c, statusOf[engine.Code(c)])
	}
	return []byte(b.String())
}

func writeOperation(b *strings.Builder, method, path string, op refOp) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("\n### `%s %s`\n\n%s.", method, path, op.Summary)
	if op.Description != "" {
		p(" %s", op.Description)
	}
	p("\n\n")
	for _, s := range op.Security {
		for k := range s {
			switch k {
			case "bearer":
				p("Auth: `Authorization: Bearer <userToken>`.\n\n")
			case "adminKey":
				p("Auth: `X-Admin-Key`.\n\n")
			}
		}
	}
	if len(op.Parameters) > 0 {
		p("| parameter | in | type | required | notes |\n|---|---|---|---|---|\n")
		for _, q := range op.Parameters {
			req := ""
			if q.Required {
				req = "yes"
			}
			p("| `%s` | %s | %s | %s | %s |\n", q.Name, q.In, typeOf(q.Schema), req, cell(q.Description))
		}
		p("\n")
	}
	if op.RequestBody != nil {
		p("Body: %s\n\n", typeOf(op.RequestBody.Content[contentTypeJSON].Schema))
	}
	statuses := make([]string, 0, len(op.Responses))
	for st := range op.Responses {
		statuses = append(statuses, st)
	}
	slices.SortFunc(statuses, func(a, c string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(c)
		return x - y
	})
	p("| status | answer |\n|---:|---|\n")
	for _, st := range statuses {
		r := op.Responses[st]
		what := cell(r.Description)
		if s := r.Content[contentTypeJSON].Schema; s != nil && s.Ref != "" {
			what = typeOf(s) + ": " + what
		}
		p("| %s | %s |\n", st, what)
	}
}

// typeOf names a schema in a table cell: a link for a named schema, else its
// type with its bounds.
func typeOf(s *refSchema) string {
	if s == nil {
		return ""
	}
	if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
		return "[" + name + "](#" + anchor(name) + ")"
	}
	t := s.Type
	switch {
	case s.Type == "array" && s.Items != nil:
		t = "array of " + typeOf(s.Items)
	case len(s.Enum) > 0:
		t = "`" + strings.Join(s.Enum, "` \\| `") + "`"
	case s.Format != "":
		t += " (" + s.Format + ")"
	}
	var bounds []string
	if s.Minimum != nil {
		bounds = append(bounds, "≥ "+strconv.FormatFloat(*s.Minimum, 'f', -1, 64))
	}
	if s.Maximum != nil {
		bounds = append(bounds, "≤ "+strconv.FormatFloat(*s.Maximum, 'f', -1, 64))
	}
	if s.MinLength != nil {
		bounds = append(bounds, "length ≥ "+strconv.Itoa(*s.MinLength))
	}
	if s.MaxLength != nil {
		bounds = append(bounds, "length ≤ "+strconv.Itoa(*s.MaxLength))
	}
	if len(bounds) > 0 {
		t += ", " + strings.Join(bounds, ", ")
	}
	return t
}

// anchor is the fragment GitHub gives a heading.
func anchor(heading string) string {
	return strings.ReplaceAll(strings.ToLower(heading), " ", "-")
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
