package protocol

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// The expected codes and names are copied from iggy-wire.md §3, not from
// the table, so that the two are checked against each other.
var wireDocCommands = []struct {
	code     Code
	constant string // Rust constant without _CODE
	dotted   string
	classic  string // "all", "0.6+" or "vsr"
}{
	{1, "PING", "ping", "all"},
	{10, "GET_STATS", "stats", "all"},
	{11, "GET_SNAPSHOT_FILE", "snapshot", "all"},
	{12, "GET_CLUSTER_METADATA", "cluster.metadata", "0.6+"},
	{13, "DESCRIBE_OPTIONS", "options.describe", "vsr"},
	{20, "GET_ME", "me", "all"},
	{21, "GET_CLIENT", "client.get", "all"},
	{22, "GET_CLIENTS", "client.list", "all"},
	{31, "GET_USER", "user.get", "all"},
	{32, "GET_USERS", "user.list", "all"},
	{33, "CREATE_USER", "user.create", "all"},
	{34, "DELETE_USER", "user.delete", "all"},
	{35, "UPDATE_USER", "user.update", "all"},
	{36, "UPDATE_PERMISSIONS", "user.permissions", "all"},
	{37, "CHANGE_PASSWORD", "user.password", "all"},
	{38, "LOGIN_USER", "user.login", "all"},
	{39, "LOGOUT_USER", "user.logout", "all"},
	{40, "LOGIN_REGISTER", "user.login_register", "vsr"},
	{41, "GET_PERSONAL_ACCESS_TOKENS", "personal_access_token.list", "all"},
	{42, "CREATE_PERSONAL_ACCESS_TOKEN", "personal_access_token.create", "all"},
	{43, "DELETE_PERSONAL_ACCESS_TOKEN", "personal_access_token.delete", "all"},
	{44, "LOGIN_WITH_PERSONAL_ACCESS_TOKEN", "personal_access_token.login", "all"},
	{45, "LOGIN_REGISTER_WITH_PAT", "user.login_register_with_pat", "vsr"},
	{100, "POLL_MESSAGES", "message.poll", "all"},
	{101, "SEND_MESSAGES", "message.send", "all"},
	{102, "FLUSH_UNSAVED_BUFFER", "message.flush_unsaved_buffer", "all"},
	{120, "GET_CONSUMER_OFFSET", "consumer_offset.get", "all"},
	{121, "STORE_CONSUMER_OFFSET", "consumer_offset.store", "all"},
	{122, "DELETE_CONSUMER_OFFSET", "consumer_offset.delete", "all"},
	{123, "STORE_CONSUMER_OFFSET_2", "consumer_offset.store.v2", "vsr"},
	{124, "DELETE_CONSUMER_OFFSET_2", "consumer_offset.delete.v2", "vsr"},
	{200, "GET_STREAM", "stream.get", "all"},
	{201, "GET_STREAMS", "stream.list", "all"},
	{202, "CREATE_STREAM", "stream.create", "all"},
	{203, "DELETE_STREAM", "stream.delete", "all"},
	{204, "UPDATE_STREAM", "stream.update", "all"},
	{205, "PURGE_STREAM", "stream.purge", "all"},
	{300, "GET_TOPIC", "topic.get", "all"},
	{301, "GET_TOPICS", "topic.list", "all"},
	{302, "CREATE_TOPIC", "topic.create", "all"},
	{303, "DELETE_TOPIC", "topic.delete", "all"},
	{304, "UPDATE_TOPIC", "topic.update", "all"},
	{305, "PURGE_TOPIC", "topic.purge", "all"},
	{402, "CREATE_PARTITIONS", "partition.create", "all"},
	{403, "DELETE_PARTITIONS", "partition.delete", "all"},
	{503, "DELETE_SEGMENTS", "segment.delete", "all"},
	{600, "GET_CONSUMER_GROUP", "consumer_group.get", "all"},
	{601, "GET_CONSUMER_GROUPS", "consumer_group.list", "all"},
	{602, "CREATE_CONSUMER_GROUP", "consumer_group.create", "all"},
	{603, "DELETE_CONSUMER_GROUP", "consumer_group.delete", "all"},
	{604, "JOIN_CONSUMER_GROUP", "consumer_group.join", "all"},
	{605, "LEAVE_CONSUMER_GROUP", "consumer_group.leave", "all"},
	{606, "SYNC_CONSUMER_GROUP", "consumer_group.sync", "vsr"},
}

// classic08 is the §3 list of the 47 codes a 0.8 classic server handles.
var classic08 = []Code{1, 10, 11, 12, 20, 21, 22, 31, 32, 33, 34, 35, 36, 37, 38, 39, 41, 42, 43, 44,
	100, 101, 102, 120, 121, 122, 200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 304, 305,
	402, 403, 503, 600, 601, 602, 603, 604, 605}

func TestTableMatchesWireDoc(t *testing.T) {
	if len(classic08) != 47 {
		t.Fatalf("test list has %d codes", len(classic08))
	}
	cmds := Commands()
	if len(cmds) != len(wireDocCommands) {
		t.Errorf("table has %d commands, wire doc %d", len(cmds), len(wireDocCommands))
	}
	if !sort.SliceIsSorted(cmds, func(i, j int) bool { return cmds[i].Code < cmds[j].Code }) {
		t.Error("Commands() is not sorted by code")
	}
	var got08 []Code
	for _, c := range cmds {
		if c.In(V08) {
			got08 = append(got08, c.Code)
		}
	}
	if !slices.Equal(got08, classic08) {
		t.Errorf("0.8 codes = %v\nwant %v", got08, classic08)
	}
	for _, w := range wireDocCommands {
		c, ok := Lookup(w.code)
		if !ok {
			t.Errorf("code %d (%s) missing", w.code, w.dotted)
			continue
		}
		if c.Dotted != w.dotted {
			t.Errorf("code %d: dotted %q, want %q", w.code, c.Dotted, w.dotted)
		}
		if got := constantName(c.Name); got != w.constant {
			t.Errorf("code %d: name %s is %s as a constant, want %s", w.code, c.Name, got, w.constant)
		}
		switch w.classic {
		case "all":
			if c.VSROnly || !c.In(V05) || !c.In(V08) {
				t.Errorf("code %d should be in every classic version", w.code)
			}
		case "0.6+":
			if c.VSROnly || c.In(V05) || !c.In(V06) || !c.In(V08) {
				t.Errorf("code %d should be 0.6+", w.code)
			}
		case "vsr":
			if !c.VSROnly || c.In(V08) || c.Since != VersionUnknown {
				t.Errorf("code %d should be VSR only", w.code)
			}
		}
		if c2, ok := LookupName(c.Dotted); !ok || c2 != c {
			t.Errorf("LookupName(%q) failed", c.Dotted)
		}
		if c2, ok := LookupName(strings.ToUpper(c.Name)); !ok || c2 != c {
			t.Errorf("LookupName(%q) failed", c.Name)
		}
		if c.Code.String() != c.Dotted {
			t.Errorf("Code(%d).String() = %q", c.Code, c.Code.String())
		}
	}
	if _, ok := Lookup(999); ok {
		t.Error("Lookup(999) found a command")
	}
	if Code(999).String() != "999" {
		t.Error("unknown code does not print as a number")
	}
}

// constantName turns "GetPersonalAccessTokens" into GET_PERSONAL_ACCESS_TOKENS.
func constantName(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' && !(name[i-1] >= '0' && name[i-1] <= '9') {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// Every classic 0.8 command has a request and a response layout, empty
// exactly where §3/§5 say the payload is empty.
func TestLayoutsPresent(t *testing.T) {
	emptyReq := []Code{1, 10, 12, 20, 22, 32, 39, 41, 201}
	emptyResp := []Code{1, 34, 35, 36, 37, 39, 43, 101, 102, 121, 122, 203, 204, 205, 303, 304, 305,
		402, 403, 503, 603, 604, 605}
	for _, code := range classic08 {
		c, _ := Lookup(code)
		if got, want := len(c.Request) == 0, slices.Contains(emptyReq, code); got != want {
			t.Errorf("%d %s: empty request layout = %v, want %v", code, c.Name, got, want)
		}
		if got, want := len(c.Response) == 0, slices.Contains(emptyResp, code); got != want {
			t.Errorf("%d %s: empty response layout = %v, want %v", code, c.Name, got, want)
		}
		for dir := range c.plans {
			for _, v := range versions {
				if c.plans[dir].byVersion[v] == nil {
					t.Errorf("%d: no plan for %v dir %d", code, v, dir)
				}
			}
		}
	}
}

func TestCommandClassification(t *testing.T) {
	admin := []Code{33, 34, 35, 36, 37, 42, 43, 202, 203, 204, 205, 302, 303, 304, 305, 402, 403, 503, 602, 603}
	auth := []Code{38, 39, 40, 44, 45}
	notFound := []Code{21, 31, 120, 200, 300, 301, 600, 601, 606}
	groups := map[Group][]Code{
		GroupSystem:         {1, 10, 11, 12, 13},
		GroupClients:        {20, 21, 22},
		GroupUsers:          {31, 32, 33, 34, 35, 36, 37},
		GroupAuth:           {38, 39, 40, 44, 45},
		GroupTokens:         {41, 42, 43},
		GroupMessages:       {100, 101, 102},
		GroupOffsets:        {120, 121, 122, 123, 124},
		GroupStreams:        {200, 201, 202, 203, 204, 205},
		GroupTopics:         {300, 301, 302, 303, 304, 305},
		GroupPartitions:     {402, 403},
		GroupSegments:       {503},
		GroupConsumerGroups: {600, 601, 602, 603, 604, 605, 606},
	}
	secrets := map[Code][]string{
		33: {"password"}, 37: {"current_password", "new_password"}, 38: {"password"},
		40: {"password"}, 42: {"response.token"}, 44: {"token"}, 45: {"token"},
	}
	for _, c := range Commands() {
		if c.Admin != slices.Contains(admin, c.Code) {
			t.Errorf("%d %s: Admin = %v", c.Code, c.Name, c.Admin)
		}
		if c.Auth != slices.Contains(auth, c.Code) {
			t.Errorf("%d %s: Auth = %v", c.Code, c.Name, c.Auth)
		}
		if c.EmptyIsNotFound != slices.Contains(notFound, c.Code) {
			t.Errorf("%d %s: EmptyIsNotFound = %v", c.Code, c.Name, c.EmptyIsNotFound)
		}
		if !slices.Contains(groups[c.Group], c.Code) {
			t.Errorf("%d %s: group %v", c.Code, c.Name, c.Group)
		}
		if !slices.Equal(c.Secrets, secrets[c.Code]) {
			t.Errorf("%d %s: secrets %v, want %v", c.Code, c.Name, c.Secrets, secrets[c.Code])
		}
	}
	for _, g := range Groups() {
		if g2, ok := ParseGroup(g.String()); !ok || g2 != g {
			t.Errorf("ParseGroup(%q) = %v, %v", g.String(), g2, ok)
		}
	}
	if g, ok := ParseGroup("Consumer-Groups"); !ok || g != GroupConsumerGroups {
		t.Error("ParseGroup is not lenient about case and dashes")
	}
	if _, ok := ParseGroup("nope"); ok {
		t.Error("ParseGroup accepted nope")
	}
	if Group(0).String() != "unknown" || len(Groups()) != 12 {
		t.Error("group list")
	}
}

func TestParseVersion(t *testing.T) {
	for s, want := range map[string]Version{
		"": VersionUnknown, "auto": VersionUnknown, "0.5": V05, "0.6": V06, "0.7": V07, "0.8": V08,
		"0.8.2": V08, "v0.7.0-edge.1": V07,
	} {
		got, err := ParseVersion(s)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"0.4", "0.9", "1.0", "x"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted", s)
		}
	}
	for _, v := range versions {
		if got, _ := ParseVersion(v.String()); got != v {
			t.Errorf("%v does not round-trip", v)
		}
	}
	if VersionUnknown.String() != "auto" {
		t.Error("VersionUnknown.String()")
	}
}

// Versions that decode a command identically share one plan; the ones that
// differ are exactly those of §10.
func TestPlanVariants(t *testing.T) {
	want := map[[2]int]int{ // (code, dir) → number of distinct plans; default 1
		{10, dirResponse}:  2, // Stats tail (0.8) vs legacy semver
		{100, dirRequest}:  2, // partition flag byte
		{100, dirResponse}: 2, // 56/64-byte header
		{101, dirRequest}:  2, // 56/64-byte header
		{120, dirRequest}:  2,
		{121, dirRequest}:  2,
		{122, dirRequest}:  2,
		{123, dirRequest}:  2,
		{124, dirRequest}:  2,
		{202, dirRequest}:  2, // explicit ids in 0.5
		{302, dirRequest}:  2,
		{602, dirRequest}:  2,
	}
	for _, c := range Commands() {
		for dir := range c.plans {
			n := len(c.plans[dir].variants)
			w := want[[2]int{int(c.Code), dir}]
			if w == 0 {
				w = 1
			}
			if n != w {
				t.Errorf("%d dir %d: %d plans, want %d", c.Code, dir, n, w)
			}
		}
	}
}
