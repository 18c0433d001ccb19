package protocol

// The command table: every command of the classic protocol (iggy-wire.md §3,
// §5) and the VSR-only ones, written once. Everything else — decoding,
// summaries, redaction, the CLI listing, docs/protocol.md — is derived from
// it. Layouts are for 0.8 with version gates (since/until) where older
// generations differ (§10).

// Shared fields and records. Record layouts are slices reused by several
// commands; cat copies them before extending.
var (
	fStream    = ident("stream_id").role(RoleStream)
	fTopic     = ident("topic_id").role(RoleTopic)
	fGroup     = ident("group_id").role(RoleGroup)
	fUser      = ident("user_id").role(RoleUsername).doc("the user, by id or username")
	fConsumer  = fld("consumer", TypeConsumer).doc("consumer kind and id; a consumer_group id also fills the summary's group")
	fOptPart   = fld("partition_id", TypeOptPartition).role(RolePartition).doc("present only when the client named a partition")
	fCompress  = enum8("compression_algorithm", enumCompression)
	fRepFactor = u8("replication_factor").doc("0 = unset")

	streamRecord = []Field{
		u32("id"), timestamp("created_at"), u32("topics_count"), u64("size_bytes"),
		u64("messages_count"), str8("name").role(RoleStream),
	}
	topicRecord = []Field{
		u32("id"), timestamp("created_at"), u32("partitions_count"), expiry("message_expiry"),
		fCompress, topicSize("max_topic_size"), fRepFactor, u64("size_bytes"),
		u64("messages_count"), str8("name").role(RoleTopic),
	}
	partitionRecord = []Field{
		u32("id"), timestamp("created_at"), u32("segments_count"), u64("current_offset"),
		u64("size_bytes"), u64("messages_count"),
	}
	groupRecord = []Field{
		u32("id"), u32("partitions_count"), u32("members_count"), str8("name").role(RoleGroup),
	}
	userRecord = []Field{
		u32("id"), timestamp("created_at"), enum8("status", enumUserStatus), str8("username").role(RoleUsername),
	}
	clientRecord = []Field{
		u32("client_id"), u32("user_id").doc("u32 max (0.6+) or 0 (0.5) = not logged in"),
		enum8("transport", enumTransport), str32("address"), u32("consumer_groups_count"),
	}

	streamDetails = cat(streamRecord, []Field{list("topics", "topics_count", "topic", topicRecord...)})
	topicDetails  = cat(topicRecord, []Field{list("partitions", "partitions_count", "partition", partitionRecord...)})
	groupDetails  = cat(groupRecord, []Field{list("members", "members_count", "member",
		u32("id"), u32("partitions_count"), list("partitions", "partitions_count", "", u32("partition_id")))})
	clientDetails = cat(clientRecord, []Field{list("consumer_groups", "consumer_groups_count", "consumer_group",
		u32("stream_id"), u32("topic_id"), u32("group_id"))})
	userDetails = cat(userRecord, []Field{customField("permissions", customUserPermissions, "")})

	// permissionsBlock is the [has u8][len u32][Permissions] of CreateUser
	// and UpdatePermissions.
	permissionsBlock = optional("has_permissions",
		u32("permissions_len"), customField("permissions", customPermissions, "permissions_len"))

	offsetRequest = []Field{fConsumer, fStream, fTopic, fOptPart}
	groupRequest  = []Field{fStream, fTopic, fGroup}

	loginRegisterResponse = []Field{
		u32("user_id").role(RoleUserID), u64("session"), u32("server_protocol_version"), str8("server_version"),
	}

	statsResponse = []Field{
		u32("process_id"), f32("cpu_usage"), f32("total_cpu_usage"),
		u64("memory_usage"), u64("total_memory"), u64("available_memory"),
		duration("run_time"), timestamp("start_time"),
		u64("read_bytes"), u64("written_bytes"), u64("messages_size_bytes"),
		u32("streams_count"), u32("topics_count"), u32("partitions_count"), u32("segments_count"),
		u64("messages_count"), u32("clients_count"), u32("consumer_groups_count"),
		str32("hostname"), str32("os_name"), str32("os_version"), str32("kernel_version"),
		str32("iggy_server_version").role(RoleServerVersion),
		u32("iggy_server_semver").since(V08).doc("major*1000000 + minor*1000 + patch; 0 = unknown"),
		customField("iggy_server_semver", customLegacySemver, "").until(V07),
		u32("cache_metrics_count"),
		list("cache_metrics", "cache_metrics_count", "cache_metric",
			u32("stream_id"), u32("topic_id"), u32("partition_id"), u64("hits"), u64("misses"), f32("hit_ratio")),
		u32("threads_count").since(V08), u64("free_disk_space").since(V08), u64("total_disk_space").since(V08),
	}
)

// table is every command, in code order. It is read-only after init.
var table = []*Command{
	// System.
	{Code: 1, Name: "Ping", Dotted: "ping", Group: GroupSystem, Since: V05},
	{Code: 10, Name: "GetStats", Dotted: "stats", Group: GroupSystem, Since: V05,
		Response: statsResponse},
	{Code: 11, Name: "GetSnapshotFile", Dotted: "snapshot", Group: GroupSystem, Since: V05,
		Request: []Field{
			enum8("compression", enumSnapshotCompression), u8("types_count"),
			list("types", "types_count", "", enum8("type", enumSnapshotType)),
		},
		Response: []Field{rest("archive").doc("the ZIP archive; may hold server config and logs")}},
	{Code: 12, Name: "GetClusterMetadata", Dotted: "cluster.metadata", Group: GroupSystem, Since: V06,
		Response: []Field{
			str32("name"), u32("nodes_count"),
			list("nodes", "nodes_count", "node",
				str32("name"), str32("ip"), u16("tcp_port"), u16("quic_port"), u16("http_port"),
				u16("websocket_port"), enum8("role", enumNodeRole), enum8("status", enumNodeStatus)),
		}},
	{Code: 13, Name: "DescribeOptions", Dotted: "options.describe", Group: GroupSystem, VSROnly: true,
		Request: []Field{enum8("scope", enumOptionsScope)},
		Response: []Field{
			u32("options_count"),
			list("options", "options_count", "option",
				str8("key"), enum8("kind", enumHeaderKind), bytes32("default"), str32("description")),
		}},

	// Clients.
	{Code: 20, Name: "GetMe", Dotted: "me", Group: GroupClients, Since: V05, Response: clientDetails},
	{Code: 21, Name: "GetClient", Dotted: "client.get", Group: GroupClients, Since: V05, EmptyIsNotFound: true,
		Request: []Field{u32("client_id")}, Response: clientDetails},
	{Code: 22, Name: "GetClients", Dotted: "client.list", Group: GroupClients, Since: V05,
		Response: []Field{restList("clients", "client", clientRecord...)}},

	// Users.
	{Code: 31, Name: "GetUser", Dotted: "user.get", Group: GroupUsers, Since: V05, EmptyIsNotFound: true,
		Request: []Field{fUser}, Response: userDetails},
	{Code: 32, Name: "GetUsers", Dotted: "user.list", Group: GroupUsers, Since: V05,
		Response: []Field{restList("users", "user", userRecord...)}},
	{Code: 33, Name: "CreateUser", Dotted: "user.create", Group: GroupUsers, Since: V05, Admin: true,
		Request: []Field{
			str8("username").role(RoleUsername), secret8("password"),
			enum8("status", enumUserStatus), permissionsBlock,
		},
		Response: userDetails},
	{Code: 34, Name: "DeleteUser", Dotted: "user.delete", Group: GroupUsers, Since: V05, Admin: true,
		Request: []Field{fUser}},
	{Code: 35, Name: "UpdateUser", Dotted: "user.update", Group: GroupUsers, Since: V05, Admin: true,
		Request: []Field{
			fUser, optional("has_username", str8("username")),
			optional("has_status", enum8("status", enumUserStatus)),
		}},
	{Code: 36, Name: "UpdatePermissions", Dotted: "user.permissions", Group: GroupUsers, Since: V05, Admin: true,
		Request: []Field{fUser, permissionsBlock}},
	{Code: 37, Name: "ChangePassword", Dotted: "user.password", Group: GroupUsers, Since: V05, Admin: true,
		Request: []Field{fUser, secret8("current_password"), secret8("new_password")}},

	// Authentication.
	{Code: 38, Name: "LoginUser", Dotted: "user.login", Group: GroupAuth, Since: V05, Auth: true,
		Request: []Field{
			str8("username").role(RoleUsername), secret8("password"),
			str32("version").tail().doc("client SDK version; empty = absent"),
			str32("context").tail().doc("free-form client context; empty = absent"),
		},
		Response: []Field{u32("user_id").role(RoleUserID)}},
	{Code: 39, Name: "LogoutUser", Dotted: "user.logout", Group: GroupAuth, Since: V05, Auth: true},
	{Code: 40, Name: "LoginRegister", Dotted: "user.login_register", Group: GroupAuth, VSROnly: true, Auth: true,
		Request: []Field{
			u32("protocol_version"), str8("sdk_name"), str8("sdk_version"),
			str8("username").role(RoleUsername), secret8("password"), str32("context"),
		},
		Response: loginRegisterResponse},

	// Personal access tokens.
	{Code: 41, Name: "GetPersonalAccessTokens", Dotted: "personal_access_token.list", Group: GroupTokens, Since: V05,
		Response: []Field{restList("tokens", "token", str8("name"), expiryAt("expiry_at"))}},
	{Code: 42, Name: "CreatePersonalAccessToken", Dotted: "personal_access_token.create", Group: GroupTokens, Since: V05, Admin: true,
		Request:  []Field{str8("name"), expiry("expiry")},
		Response: []Field{secret8("token").doc("the raw token, disclosed only here")}},
	{Code: 43, Name: "DeletePersonalAccessToken", Dotted: "personal_access_token.delete", Group: GroupTokens, Since: V05, Admin: true,
		Request: []Field{str8("name")}},
	{Code: 44, Name: "LoginWithPersonalAccessToken", Dotted: "personal_access_token.login", Group: GroupAuth, Since: V05, Auth: true,
		Request:  []Field{secret8("token")},
		Response: []Field{u32("user_id").role(RoleUserID)}},
	{Code: 45, Name: "LoginRegisterWithPat", Dotted: "user.login_register_with_pat", Group: GroupAuth, VSROnly: true, Auth: true,
		Request: []Field{
			u32("protocol_version"), str8("sdk_name"), str8("sdk_version"), secret8("token"), str32("context"),
		},
		Response: loginRegisterResponse},

	// Messages.
	{Code: 100, Name: "PollMessages", Dotted: "message.poll", Group: GroupMessages, Since: V05,
		Request: []Field{
			fConsumer, fStream, fTopic, fOptPart, fld("strategy", TypeStrategy),
			u32("count"), boolean("auto_commit"),
		},
		Response: []Field{
			u32("partition_id").role(RolePartition), u64("current_offset"),
			u32("messages_count").role(RoleMessageCount),
			customField("messages", customPolledMessages, "messages_count"),
		}},
	{Code: 101, Name: "SendMessages", Dotted: "message.send", Group: GroupMessages, Since: V05,
		Request: []Field{
			u32("metadata_length").doc("bytes of stream_id … messages_count"),
			fStream, fTopic, fld("partitioning", TypePartitioning),
			u32("messages_count").role(RoleMessageCount),
			customField("messages", customSentMessages, "messages_count"),
		}},
	{Code: 102, Name: "FlushUnsavedBuffer", Dotted: "message.flush_unsaved_buffer", Group: GroupMessages, Since: V05,
		Request: []Field{fStream, fTopic, u32("partition_id").role(RolePartition), boolean("fsync")}},

	// Consumer offsets.
	{Code: 120, Name: "GetConsumerOffset", Dotted: "consumer_offset.get", Group: GroupOffsets, Since: V05, EmptyIsNotFound: true,
		Request: offsetRequest,
		Response: []Field{
			u32("partition_id").role(RolePartition), u64("current_offset"), u64("stored_offset"),
		}},
	{Code: 121, Name: "StoreConsumerOffset", Dotted: "consumer_offset.store", Group: GroupOffsets, Since: V05,
		Request: cat(offsetRequest, []Field{u64("offset")})},
	{Code: 122, Name: "DeleteConsumerOffset", Dotted: "consumer_offset.delete", Group: GroupOffsets, Since: V05,
		Request: offsetRequest},
	{Code: 123, Name: "StoreConsumerOffset2", Dotted: "consumer_offset.store.v2", Group: GroupOffsets, VSROnly: true,
		Request: cat(offsetRequest, []Field{u64("offset"), enum8("ack", enumAckLevel)})},
	{Code: 124, Name: "DeleteConsumerOffset2", Dotted: "consumer_offset.delete.v2", Group: GroupOffsets, VSROnly: true,
		Request: cat(offsetRequest, []Field{enum8("ack", enumAckLevel)})},

	// Streams.
	{Code: 200, Name: "GetStream", Dotted: "stream.get", Group: GroupStreams, Since: V05, EmptyIsNotFound: true,
		Request: []Field{fStream}, Response: streamDetails},
	{Code: 201, Name: "GetStreams", Dotted: "stream.list", Group: GroupStreams, Since: V05,
		Response: []Field{restList("streams", "stream", streamRecord...)}},
	{Code: 202, Name: "CreateStream", Dotted: "stream.create", Group: GroupStreams, Since: V05, Admin: true,
		Request: []Field{
			u32("stream_id").until(V05).doc("0 = the server assigns"),
			str8("name").role(RoleStream),
		},
		Response: streamDetails},
	{Code: 203, Name: "DeleteStream", Dotted: "stream.delete", Group: GroupStreams, Since: V05, Admin: true,
		Request: []Field{fStream}},
	{Code: 204, Name: "UpdateStream", Dotted: "stream.update", Group: GroupStreams, Since: V05, Admin: true,
		Request: []Field{fStream, str8("name")}},
	{Code: 205, Name: "PurgeStream", Dotted: "stream.purge", Group: GroupStreams, Since: V05, Admin: true,
		Request: []Field{fStream}},

	// Topics.
	{Code: 300, Name: "GetTopic", Dotted: "topic.get", Group: GroupTopics, Since: V05, EmptyIsNotFound: true,
		Request: []Field{fStream, fTopic}, Response: topicDetails},
	{Code: 301, Name: "GetTopics", Dotted: "topic.list", Group: GroupTopics, Since: V05, EmptyIsNotFound: true,
		Request:  []Field{fStream},
		Response: []Field{restList("topics", "topic", topicRecord...)}},
	{Code: 302, Name: "CreateTopic", Dotted: "topic.create", Group: GroupTopics, Since: V05, Admin: true,
		Request: []Field{
			fStream, u32("topic_id").until(V05).doc("0 = the server assigns"),
			u32("partitions_count"), fCompress, expiry("message_expiry"), topicSize("max_topic_size"),
			fRepFactor, str8("name").role(RoleTopic),
		},
		Response: topicDetails},
	{Code: 303, Name: "DeleteTopic", Dotted: "topic.delete", Group: GroupTopics, Since: V05, Admin: true,
		Request: []Field{fStream, fTopic}},
	{Code: 304, Name: "UpdateTopic", Dotted: "topic.update", Group: GroupTopics, Since: V05, Admin: true,
		Request: []Field{
			fStream, fTopic, fCompress, expiry("message_expiry"), topicSize("max_topic_size"),
			fRepFactor, str8("name"),
		}},
	{Code: 305, Name: "PurgeTopic", Dotted: "topic.purge", Group: GroupTopics, Since: V05, Admin: true,
		Request: []Field{fStream, fTopic}},

	// Partitions and segments.
	{Code: 402, Name: "CreatePartitions", Dotted: "partition.create", Group: GroupPartitions, Since: V05, Admin: true,
		Request: []Field{fStream, fTopic, u32("partitions_count")}},
	{Code: 403, Name: "DeletePartitions", Dotted: "partition.delete", Group: GroupPartitions, Since: V05, Admin: true,
		Request: []Field{fStream, fTopic, u32("partitions_count").doc("removes the last N")}},
	{Code: 503, Name: "DeleteSegments", Dotted: "segment.delete", Group: GroupSegments, Since: V05, Admin: true,
		Request: []Field{fStream, fTopic, u32("partition_id").role(RolePartition), u32("segments_count")}},

	// Consumer groups.
	{Code: 600, Name: "GetConsumerGroup", Dotted: "consumer_group.get", Group: GroupConsumerGroups, Since: V05, EmptyIsNotFound: true,
		Request: groupRequest, Response: groupDetails},
	{Code: 601, Name: "GetConsumerGroups", Dotted: "consumer_group.list", Group: GroupConsumerGroups, Since: V05, EmptyIsNotFound: true,
		Request:  []Field{fStream, fTopic},
		Response: []Field{restList("consumer_groups", "consumer_group", groupRecord...)}},
	{Code: 602, Name: "CreateConsumerGroup", Dotted: "consumer_group.create", Group: GroupConsumerGroups, Since: V05, Admin: true,
		Request: []Field{
			fStream, fTopic, u32("group_id").until(V05).doc("0 = the server assigns"),
			str8("name").role(RoleGroup),
		},
		Response: groupDetails},
	{Code: 603, Name: "DeleteConsumerGroup", Dotted: "consumer_group.delete", Group: GroupConsumerGroups, Since: V05, Admin: true,
		Request: groupRequest},
	{Code: 604, Name: "JoinConsumerGroup", Dotted: "consumer_group.join", Group: GroupConsumerGroups, Since: V05,
		Request: groupRequest},
	{Code: 605, Name: "LeaveConsumerGroup", Dotted: "consumer_group.leave", Group: GroupConsumerGroups, Since: V05,
		Request: groupRequest},
	{Code: 606, Name: "SyncConsumerGroup", Dotted: "consumer_group.sync", Group: GroupConsumerGroups, VSROnly: true, EmptyIsNotFound: true,
		Request: groupRequest,
		Response: []Field{
			u64("generation"), u32("partitions_count"), list("partitions", "partitions_count", "", u32("partition_id")),
		}},
}
