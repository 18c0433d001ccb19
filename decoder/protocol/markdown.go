package protocol

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown renders the command table — codes, names, groups, admin and
// auth flags, versions, request and response layouts, secrets — and the
// status codes as Markdown. docs/protocol.md is its output (go generate).
func WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p("# Iggy binary protocol (classic framing)\n\n")
	p("<!-- Generated from decoder/protocol by `go generate ./decoder/protocol`. Do not edit. -->\n\n")
	p("This is the command table iggytrace decodes with, rendered from its single definition in\n")
	p("`decoder/protocol/table.go`. Integers are little-endian. Field names are the names of decoded\n")
	p("values (and the JSON keys of exported events). Versions are server release lines: 0.5 (56-byte\n")
	p("message header, bare u32 partition ids, explicit ids on create), 0.6 (partition flag byte),\n")
	p("0.7 (64-byte message header, user-header key kind byte), 0.8 (Stats gains three fields and an\n")
	p("always-present semver). `auto` detects the version from the bytes.\n\n")
	p("Wire types: **Str8** = `[len u8][UTF-8]`; **Str32** = `[len u32][UTF-8]`; **Bytes32** = `[len u32][bytes]`;\n")
	p("**Identifier** = `[kind u8: 1 numeric, 2 string][len u8][u32 or UTF-8]`, decoded as one string value\n")
	p("(\"1\" or the name); **Consumer** = `[kind u8][Identifier]`; **optional partition** = `[has u8][u32]`\n")
	p("from 0.6, `[u32]` (0 = none) in 0.5, a value only when present; **PollingStrategy** = `[kind u8][value u64]`;\n")
	p("**Partitioning** = `[kind u8][len u8][value]`; **flag** = a u8 whose fields follow only when it is non-zero.\n")
	p("Secret fields are redacted before decoding: neither their bytes nor their length are kept.\n")
	p("Commands marked VSR only exist on 0.9.0-edge servers; their response layout is the typed payload that\n")
	p("follows the VSR result section (iggy-wire.md §7).\n\n")

	p("## Commands\n\n")
	p("| code | name | dotted | group | kind | versions | empty OK | secrets |\n")
	p("|---:|---|---|---|---|---|---|---|\n")
	for _, c := range reg.sorted {
		empty := ""
		if c.EmptyIsNotFound {
			empty = "not found"
		}
		p("| %d | %s | `%s` | %s | %s | %s | %s | %s |\n", c.Code, c.Name, c.Dotted, c.Group,
			commandKind(c), commandVersions(c), empty, strings.Join(c.Secrets, ", "))
	}

	p("\n## Enumerations\n\n| enum | values |\n|---|---|\n")
	for _, e := range []*Enum{
		enumCompression, enumUserStatus, enumTransport, enumPolling, enumPartitioning, enumConsumer,
		enumIdentifier, enumHeaderKind, enumNodeRole, enumNodeStatus, enumSnapshotCompression,
		enumSnapshotType, enumAckLevel, enumOptionsScope,
	} {
		var vs []string
		for _, v := range e.Values() {
			vs = append(vs, fmt.Sprintf("%d `%s`", v, e.Lookup(v)))
		}
		p("| %s | %s |\n", e.Name, strings.Join(vs, ", "))
	}
	p("\nSentinels: expiries are `%s` (0) or `%s` (u64 max); expiry times are `%s` (0); ", sentinelServerDefault, sentinelNeverExpire, sentinelNeverExpire)
	p("max topic sizes are `%s` (0) or `%s` (u64 max). These decode as enums, other values as durations, times or numbers.\n", sentinelServerDefault, sentinelUnlimited)

	p("\n## Layouts\n")
	for _, c := range reg.sorted {
		p("\n### %d %s (`%s`)\n\n", c.Code, c.Name, c.Dotted)
		p("Group %s; %s", c.Group, commandVersions(c))
		if k := commandKind(c); k != "" {
			p("; %s", k)
		}
		if c.EmptyIsNotFound {
			p("; an empty OK response means not found")
		}
		p(".\n")
		writeLayout(p, "Request", c.Request)
		writeLayout(p, "Response", c.Response)
	}

	p("\n## Status codes\n\n")
	p("The response status word: 0 = OK, otherwise an IggyError code. Union of server versions; the newest name is used.\n\n")
	p("| code | name | servers | earlier name |\n|---:|---|---|---|\n")
	for _, s := range statusTable {
		servers := s.Since + "–" + s.Until
		if s.Since == s.Until {
			servers = s.Since
		}
		p("| %d | %s | %s | %s |\n", s.Code, s.Name, servers, s.Older)
	}
	return bw.Flush()
}

func commandKind(c *Command) string {
	var k []string
	if c.Admin {
		k = append(k, "admin")
	}
	if c.Auth {
		k = append(k, "auth")
	}
	return strings.Join(k, ", ")
}

func commandVersions(c *Command) string {
	if c.VSROnly {
		return "VSR (0.9.0-edge) only"
	}
	return versionRange(c.Since, c.Until)
}

func versionRange(since, until Version) string {
	switch {
	case since == VersionUnknown && until == VersionUnknown:
		return ""
	case until == VersionUnknown:
		return since.String() + "+"
	case since == VersionUnknown:
		return "≤ " + until.String()
	case since == until:
		return since.String() + " only"
	}
	return since.String() + "–" + until.String()
}

func writeLayout(p func(string, ...any), title string, l Layout) {
	if len(l) == 0 {
		p("\n%s: empty.\n", title)
		return
	}
	p("\n%s:\n\n| field | type | versions | notes |\n|---|---|---|---|\n", title)
	writeFields(p, l, "", "")
}

// writeFields writes one row per field, nested fields under their parent's
// path; cond is the condition inherited from an enclosing flag.
func writeFields(p func(string, ...any), fs []Field, prefix, cond string) {
	for i := range fs {
		f := &fs[i]
		name := prefix + f.Name
		typ := f.Type.String()
		var notes []string
		switch f.Type {
		case TypeEnum8:
			typ = f.Enum.Name + " (u8)"
		case TypeList:
			typ = "list of " + f.Count
			if f.Elem != "" {
				typ += " × " + f.Elem
			}
		case TypeRestList:
			if f.Elem != "" {
				typ = "list of " + f.Elem + " to the end"
			}
		case TypeCustom:
			cn, cd := f.Custom()
			typ = "custom (" + cn + ")"
			notes = append(notes, cd)
		case TypeOptional:
			notes = append(notes, "no value of its own")
		case TypeSecret8:
			notes = append(notes, "**secret**: redacted")
		}
		if cond != "" {
			notes = append([]string{cond}, notes...)
		}
		if f.Doc != "" {
			notes = append(notes, f.Doc)
		}
		if f.Role != RoleNone && f.Role != RoleServerVersion && prefix == "" {
			notes = append(notes, "summary: "+f.Role.String())
		}
		if f.Tail {
			notes = append(notes, "absent from older clients' payloads")
		}
		p("| `%s` | %s | %s | %s |\n", name, typ, versionRange(f.Since, f.Until), strings.Join(notes, "; "))
		if len(f.Fields) > 0 {
			sub, subCond := prefix, cond
			switch f.Type {
			case TypeList, TypeRestList:
				sub, subCond = name+"[].", ""
			case TypeObject:
				sub = name + "."
			case TypeOptional:
				subCond = "only when `" + f.Name + "` ≠ 0"
			}
			writeFields(p, f.Fields, sub, subCond)
		}
	}
}
