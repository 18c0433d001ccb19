package protocol

import (
	"fmt"
	"strconv"
	"strings"
)

// This file fixes the package's contract with the rest of iggytrace. The command
// table, the payload layouts and their interpreter live in the other files.
// Code is a classic command code (the u32 after the request length).
type Code uint32

// Version is a classic protocol generation, named after the first server
// release that spoke it. The differences are not negotiated on the wire
// (iggy-wire.md §10), so a Decoder detects them from the bytes or is told.
type Version uint8

const (
	VersionUnknown Version = iota // not yet known: detect from the bytes
	V05                           // server 0.5.x: 56-byte message header, bare u32 partition ids, explicit ids on create
	V06                           // server 0.6.x: partition flag byte, 0-based ids
	V07                           // server 0.7.x: 64-byte message header, user-header key kind byte
	V08                           // server 0.8.x: Stats gains threads/disk fields and an always-present semver
)

// Group is what a command acts on; filters and metrics use it.
type Group uint8

// Options configure a Decoder.
type Options struct {
	// Version fixes the protocol generation; VersionUnknown detects it.
	Version Version
	// Messages decodes each message of a batch (SendMessages requests,
	// PollMessages responses) into Values of its own: id, offset,
	// timestamps, lengths, user-header keys. Off by default: a batch is then
	// validated and summarised (Summary.MessageCount, Summary.PayloadBytes)
	// without a Value per message, which costs a fraction of the time and
	// keeps a 100-message batch one short event instead of 30 KB of JSON.
	Messages bool
	// Payloads includes message payload bytes and user-header values in the
	// decoded Values; it implies Messages. Off by default: payloads are the
	// users' data.
	Payloads bool
}

// versionNames are the release lines the generations are named after, as
// ParseVersion accepts them and String prints them.
var versionNames = [...]string{VersionUnknown: "auto", V05: "0.5", V06: "0.6", V07: "0.7", V08: "0.8"}

// String returns "0.5" … "0.8", or "auto" for VersionUnknown.
func (v Version) String() string {
	if int(v) < len(versionNames) {
		return versionNames[v]
	}
	return "v" + strconv.Itoa(int(v))
}

// ParseVersion reads a version as a user writes it on the command line:
// "auto" or "" (detect), or a server release line "0.5" … "0.8". A full
// release ("0.8.2", "0.7.0-edge.1") is accepted and reduced to its line.
func ParseVersion(s string) (Version, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if s == "" || s == "auto" {
		return VersionUnknown, nil
	}
	if v, ok := versionFromRelease(s); ok {
		return v, nil
	}
	return VersionUnknown, fmt.Errorf("unknown protocol version %q (want auto, 0.5, 0.6, 0.7 or 0.8)", s)
}

// versionFromRelease maps a server release string ("0.8.0", "0.7.3-edge.1")
// to its generation by major.minor.
func versionFromRelease(s string) (Version, bool) {
	maj, rest, ok := strings.Cut(s, ".")
	if !ok || maj != "0" {
		return VersionUnknown, false
	}
	minor := rest
	if i := strings.IndexAny(rest, ".-+"); i >= 0 {
		minor = rest[:i]
	}
	switch minor {
	case "5":
		return V05, true
	case "6":
		return V06, true
	case "7":
		return V07, true
	case "8":
		return V08, true
	}
	return VersionUnknown, false
}

// versions lists the concrete generations, oldest first.
var versions = [...]Version{V05, V06, V07, V08}

// versionSet is a set of concrete versions, bit v set for Version v.
type versionSet uint8

const allVersions versionSet = 1<<V05 | 1<<V06 | 1<<V07 | 1<<V08

func (s versionSet) has(v Version) bool { return s&(1<<v) != 0 }

// newest returns the newest version in s, or VersionUnknown for an empty set.
func (s versionSet) newest() Version {
	for i := len(versions) - 1; i >= 0; i-- {
		if s.has(versions[i]) {
			return versions[i]
		}
	}
	return VersionUnknown
}

// single returns the only version in s.
func (s versionSet) single() (Version, bool) {
	if s == 0 || s&(s-1) != 0 {
		return VersionUnknown, false
	}
	return s.newest(), true
}

// The groups, in the order the documentation lists them.
const (
	GroupSystem Group = iota + 1
	GroupClients
	GroupUsers
	GroupAuth
	GroupTokens
	GroupStreams
	GroupTopics
	GroupPartitions
	GroupSegments
	GroupConsumerGroups
	GroupOffsets
	GroupMessages
)

var groupNames = [...]string{
	GroupSystem:         "system",
	GroupClients:        "clients",
	GroupUsers:          "users",
	GroupAuth:           "auth",
	GroupTokens:         "tokens",
	GroupStreams:        "streams",
	GroupTopics:         "topics",
	GroupPartitions:     "partitions",
	GroupSegments:       "segments",
	GroupConsumerGroups: "consumer_groups",
	GroupOffsets:        "offsets",
	GroupMessages:       "messages",
}

// String returns the group's filter name, e.g. "consumer_groups".
func (g Group) String() string {
	if g != 0 && int(g) < len(groupNames) {
		return groupNames[g]
	}
	return "unknown"
}

// ParseGroup finds a group by its filter name (case-insensitive; "-" may
// stand for "_").
func ParseGroup(s string) (Group, bool) {
	s = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	for g := GroupSystem; int(g) < len(groupNames); g++ {
		if groupNames[g] == s {
			return g, true
		}
	}
	return 0, false
}

// Groups lists every group in documentation order.
func Groups() []Group {
	gs := make([]Group, 0, len(groupNames)-1)
	for g := GroupSystem; int(g) < len(groupNames); g++ {
		gs = append(gs, g)
	}
	return gs
}

// String returns the command's dotted name ("stream.get"), or the number for
// a code the table does not know.
func (c Code) String() string {
	if cmd, ok := Lookup(c); ok {
		return cmd.Dotted
	}
	return strconv.FormatUint(uint64(c), 10)
}
