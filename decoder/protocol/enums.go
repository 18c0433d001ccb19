package protocol

// Enumerations of iggy-wire.md §4.8 and §4.9. Names are snake_case because
// they are printed and filtered on; the numbers are the wire values.
var (
	enumCompression  = newEnum("CompressionAlgorithm", map[int]string{1: "none", 2: "gzip"})
	enumUserStatus   = newEnum("UserStatus", map[int]string{1: "active", 2: "inactive"})
	enumTransport    = newEnum("Transport", map[int]string{1: "tcp", 2: "quic", 3: "http", 4: "websocket"})
	enumPolling      = newEnum("PollingKind", map[int]string{1: "offset", 2: "timestamp", 3: "first", 4: "last", 5: "next"})
	enumPartitioning = newEnum("PartitioningKind", map[int]string{1: "balanced", 2: "partition_id", 3: "messages_key"})
	enumConsumer     = newEnum("ConsumerKind", map[int]string{1: "consumer", 2: "consumer_group"})
	enumIdentifier   = newEnum("IdentifierKind", map[int]string{1: "numeric", 2: "string"})
	enumHeaderKind   = newEnum("HeaderKind", map[int]string{
		1: "raw", 2: "string", 3: "bool", 4: "int8", 5: "int16", 6: "int32", 7: "int64", 8: "int128",
		9: "uint8", 10: "uint16", 11: "uint32", 12: "uint64", 13: "uint128", 14: "float32", 15: "float64",
	})
	enumNodeRole            = newEnum("ClusterNodeRole", map[int]string{0: "leader", 1: "follower"})
	enumNodeStatus          = newEnum("ClusterNodeStatus", map[int]string{0: "healthy", 1: "starting", 2: "stopping", 3: "unreachable", 4: "maintenance"})
	enumSnapshotCompression = newEnum("SnapshotCompression", map[int]string{
		1: "stored", 2: "deflated", 3: "bzip2", 4: "zstd", 5: "lzma", 6: "xz",
	})
	enumSnapshotType = newEnum("SnapshotType", map[int]string{
		1: "filesystem_overview", 2: "process_list", 3: "resource_usage", 4: "test",
		5: "server_logs", 6: "server_config", 100: "all",
	})
	enumAckLevel     = newEnum("AckLevel", map[int]string{0: "no_ack", 1: "quorum"})
	enumOptionsScope = newEnum("OptionsScope", map[int]string{1: "topic", 2: "stream", 3: "user"})
)

// Sentinel names of u64 fields whose extreme values mean something else
// than a number (§4.8).
const (
	sentinelServerDefault = "server_default"
	sentinelNeverExpire   = "never_expire"
	sentinelUnlimited     = "unlimited"
)

// headerKindSize is the fixed value size of a header kind, 0 when variable
// or unknown (§4.9).
func headerKindSize(k byte) int {
	switch k {
	case 3, 4, 9:
		return 1
	case 5, 10:
		return 2
	case 6, 11, 14:
		return 4
	case 7, 12, 15:
		return 8
	case 8, 13:
		return 16
	}
	return 0
}
