// Package workload drives the real Iggy Go SDK (github.com/apache/iggy/foreign/go
// v0.8.0, classic protocol) against a server and returns a machine-readable
// log of every request it caused, so that tests can compare what a passive
// decoder reports with what actually happened.
//
// Every entry of the log is one request frame on the wire: for each
// connection (Call.ConnIndex), the calls in log order correspond one to one,
// in order, to the request frames the server received on that connection.
// Two SDK behaviours are made explicit to keep that true:
//
//   - After every successful LoginUser / LoginWithPersonalAccessToken the SDK
//     itself sends GetClusterMetadata (code 12) to look for a cluster leader.
//     The log records it as a separate call with Args["implicit"] = true.
//   - The SDK's 5-second heartbeat Ping is switched off (client.Options has
//     no setter for it in v0.8.0; the zero Options value has it disabled), so
//     no unlogged frame can appear.
//
// The SDK v0.8.0 has no methods for GetSnapshotFile (11), GetMe (20),
// FlushUnsavedBuffer (102), PurgeStream (205), PurgeTopic (305) and
// DeleteSegments (503), and its GetClient panics on the empty "not found"
// answer. For those, a tiny raw classic-protocol client (RawConn) stands in:
// it opens its own connection, logs in, and sends the frames itself.
//
// The workload uses fixed, recognisable secrets (see the constants and
// Secrets) so a test can grep any decoder output for them. The server must
// be started with root password RootPassword.
package workload
