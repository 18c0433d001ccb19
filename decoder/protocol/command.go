package protocol

import (
	"sort"
	"strings"
)

// Command describes one command: its identity, what it is for, where it
// exists, and the layouts of its request and response payloads. The table
// in table.go holds one per code; treat them as read-only.
type Command struct {
	Code   Code
	Name   string // Go-style constant name, e.g. "LoginUser"
	Dotted string // upstream's dotted name, e.g. "user.login"
	Group  Group
	// Admin: creates, updates, deletes or purges users, permissions,
	// passwords, tokens, streams, topics, partitions, segments or groups.
	Admin bool
	// Auth: logs in or out.
	Auth bool
	// Since and Until bound the classic servers that have the command
	// (VersionUnknown: open end).
	Since, Until Version
	// VSROnly: only VSR servers (0.9.0-edge) have the command; Since and
	// Until are then VersionUnknown.
	VSROnly bool
	// EmptyIsNotFound: an OK response with an empty payload means "not
	// found" (or "none") rather than an undecodable payload.
	EmptyIsNotFound bool
	// Secrets names the fields that are redacted ("response.token" for a
	// response field). Derived from the layouts.
	Secrets []string

	Request, Response Layout

	plans [2]dirPlans // compiled layouts, see plan.go
}

const (
	dirRequest = iota
	dirResponse
)

// In tells whether a classic server of version v has the command.
func (c *Command) In(v Version) bool {
	if c.VSROnly {
		return false
	}
	return (c.Since == VersionUnknown || v >= c.Since) && (c.Until == VersionUnknown || v <= c.Until)
}

// maxCode bounds the index by code; every code so far is below it.
const maxCode = 1024

// registry is the table indexed for lookups, built once at init.
type registry struct {
	byCode [maxCode]*Command
	sorted []*Command
	byName map[string]*Command // Dotted and lower-cased Name
}

var reg = buildRegistry(table)

func buildRegistry(cmds []*Command) *registry {
	r := &registry{byName: make(map[string]*Command, 2*len(cmds))}
	for _, c := range cmds {
		if c.Code >= maxCode || r.byCode[c.Code] != nil {
			panic("protocol: bad or duplicate code in table: " + c.Name)
		}
		r.byCode[c.Code] = c
		r.byName[c.Dotted] = c
		r.byName[strings.ToLower(c.Name)] = c
		c.Secrets = append(secretPaths(c.Request, ""), secretPaths(c.Response, "response.")...)
		c.plans[dirRequest] = compileDir(c.Request)
		c.plans[dirResponse] = compileDir(c.Response)
		r.sorted = append(r.sorted, c)
	}
	sort.Slice(r.sorted, func(i, j int) bool { return r.sorted[i].Code < r.sorted[j].Code })
	return r
}

// Commands returns every command, sorted by code. The slice is the caller's;
// the Commands are shared and must not be modified.
func Commands() []*Command {
	return append([]*Command(nil), reg.sorted...)
}

// Lookup finds a command by code.
func Lookup(c Code) (*Command, bool) {
	if c < maxCode {
		if cmd := reg.byCode[c]; cmd != nil {
			return cmd, true
		}
	}
	return nil, false
}

// LookupName finds a command by its dotted name ("stream.get") or its
// constant name ("GetStream", case-insensitive), for filters.
func LookupName(s string) (*Command, bool) {
	s = strings.TrimSpace(s)
	if c, ok := reg.byName[s]; ok {
		return c, true
	}
	c, ok := reg.byName[strings.ToLower(s)]
	return c, ok
}
