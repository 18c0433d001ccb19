// Package testserver is a test double standing in for the real Apache Iggy
// server, which cannot be built or run on the machines this project is
// developed and tested on.
//
// It speaks the classic Iggy binary protocol of server 0.8.x ("G4" in
// shared/protocol/iggy-wire.md): 8-byte request headers [length u32][code u32],
// 8-byte response headers [status u32][length u32], 0-based ids, 64-byte
// message headers with the 16-byte index table, and the 0.8 Stats layout.
// Everything is kept in memory: users, permissions, personal access tokens,
// streams, topics, partitions, messages, consumer offsets, consumer groups and
// connected clients.
//
// The real official Go SDK (github.com/apache/iggy/foreign/go v0.8.0) is the
// referee: every response this package writes must be accepted by the SDK's
// response decoders, and the tests in this package and in internal/workload
// drive the SDK against it. Where the wire document leaves room (error codes
// of rare paths, id allocation, permission details) the choices are listed in
// the comments next to the code that makes them.
//
// Deliberate behaviour worth knowing when reading captured traffic:
//
//   - GetClusterMetadata (12) answers a one-node cluster (name "iggy-cluster",
//     one healthy leader on the connection's local address) instead of error 5
//     FeatureUnavailable, so that the SDK's GetClusterMetadata succeeds. The
//     SDK calls it after every successful login to look for a leader.
//   - Ids of streams, topics, users and consumer groups are handed out from
//     per-parent counters and are never reused after a delete. Client ids
//     start at 1 (GetClient rejects 0 with InvalidClientId, as 0.8 does).
//   - Messages are stamped like the real server does it: offset, one append
//     timestamp per batch, a random UUID v4 for a zero id, and the XXH3-64
//     checksum over bytes 8.. of the record. Balanced partitioning is
//     round-robin per batch; MessagesKey hashes with FNV-1a instead of the
//     real server's murmur3 (only the choice of partition differs).
//   - Topic "server default" settings resolve to a stock 0.8 configuration:
//     message expiry and max topic size 0 become u64::MAX (never,
//     unlimited), replication factor 0 becomes 1. A personal access token
//     with expiry 0 never expires.
//   - Permissions are enforced with an approximation of the real
//     permissioner (a global flag grants everywhere, a stream or topic entry
//     grants there, manage implies read), enough for genuine 41
//     Unauthorized answers.
//   - Framing errors follow 0.8: length < 4 and control payloads over 10 MiB
//     are answered with 3 InvalidCommand without draining the payload, and an
//     unauthenticated SendMessages is answered with 40 before its body is read.
//     Unlike the real server, a SendMessages frame larger than
//     MaxSendMessagesPayload is answered with 3 and the connection is closed,
//     so a hostile length field cannot make the process buffer gigabytes.
package testserver
