// Package protocol is iggytrace's one description of the Apache Iggy binary
// protocol (classic framing, servers 0.5–0.8, plus the VSR-only command
// codes), and the decoder of its payloads.
//
// Everything starts from the command table (table.go): per command its code,
// names, group, whether it is an admin or an auth command, the versions that
// have it, whether an empty OK response means "not found", and the request
// and response layouts, with version gates where generations differ
// (iggy-wire.md §10). The CLI listing, docs/protocol.md, filters and the
// audit trail read the table through Commands, Lookup, LookupName and
// ParseGroup.
//
// Layouts are compiled once, at package init, into a plan per command,
// version and direction (plan.go): gates applied, list counts resolved to
// registers, versions that decode alike sharing one plan. The interpreter
// (interp.go) runs a plan with no version branching. What a table cannot
// say is hand-written: message batches (messages.go), the 0.5–0.7 Stats
// semver (stats.go), permissions and the user-details marker
// (permissions.go), user headers.
//
// A Decoder holds one connection's state. With Options.Version unset it
// detects the version: where the plans of the candidate versions differ it
// tries each, keeps the versions whose plans decode the payload, and decodes
// with the newest of them (decoder.go). Secrets are skipped before any
// Value exists (redact.go). Values are written into a reusable Record whose
// strings live in its own arena, so a warm Record decodes without
// allocating; Record.Clone keeps them.
package protocol
