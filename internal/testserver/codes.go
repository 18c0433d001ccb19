package testserver

import "strconv"

// Command codes of the classic protocol (iggy-wire.md §3). Only the codes a
// 0.8 classic server handles are listed; anything else is answered with
// statusInvalidCommand.
const (
	cmdPing                    uint32 = 1
	cmdGetStats                uint32 = 10
	cmdGetSnapshotFile         uint32 = 11
	cmdGetClusterMetadata      uint32 = 12
	cmdGetMe                   uint32 = 20
	cmdGetClient               uint32 = 21
	cmdGetClients              uint32 = 22
	cmdGetUser                 uint32 = 31
	cmdGetUsers                uint32 = 32
	cmdCreateUser              uint32 = 33
	cmdDeleteUser              uint32 = 34
	cmdUpdateUser              uint32 = 35
	cmdUpdatePermissions       uint32 = 36
	cmdChangePassword          uint32 = 37
	cmdLoginUser               uint32 = 38
	cmdLogoutUser              uint32 = 39
	cmdGetPersonalAccessTokens uint32 = 41
	cmdCreatePersonalAccessTok uint32 = 42
	cmdDeletePersonalAccessTok uint32 = 43
	cmdLoginWithPersonalAccess uint32 = 44
	cmdPollMessages            uint32 = 100
	cmdSendMessages            uint32 = 101
	cmdFlushUnsavedBuffer      uint32 = 102
	cmdGetConsumerOffset       uint32 = 120
	cmdStoreConsumerOffset     uint32 = 121
	cmdDeleteConsumerOffset    uint32 = 122
	cmdGetStream               uint32 = 200
	cmdGetStreams              uint32 = 201
	cmdCreateStream            uint32 = 202
	cmdDeleteStream            uint32 = 203
	cmdUpdateStream            uint32 = 204
	cmdPurgeStream             uint32 = 205
	cmdGetTopic                uint32 = 300
	cmdGetTopics               uint32 = 301
	cmdCreateTopic             uint32 = 302
	cmdDeleteTopic             uint32 = 303
	cmdUpdateTopic             uint32 = 304
	cmdPurgeTopic              uint32 = 305
	cmdCreatePartitions        uint32 = 402
	cmdDeletePartitions        uint32 = 403
	cmdDeleteSegments          uint32 = 503
	cmdGetConsumerGroup        uint32 = 600
	cmdGetConsumerGroups       uint32 = 601
	cmdCreateConsumerGroup     uint32 = 602
	cmdDeleteConsumerGroup     uint32 = 603
	cmdJoinConsumerGroup       uint32 = 604
	cmdLeaveConsumerGroup      uint32 = 605
)

// Status codes the server can answer with. Names and numbers are those of
// shared/protocol/errors/errors_0.8.0.tsv.
const (
	statusOK                               uint32 = 0
	statusInvalidCommand                   uint32 = 3
	statusInvalidFormat                    uint32 = 4
	statusDisconnected                     uint32 = 8
	statusResourceNotFound                 uint32 = 20
	statusUnauthenticated                  uint32 = 40
	statusUnauthorized                     uint32 = 41
	statusInvalidCredentials               uint32 = 42
	statusInvalidUsername                  uint32 = 43
	statusInvalidPassword                  uint32 = 44
	statusInvalidUserStatus                uint32 = 45
	statusUserAlreadyExists                uint32 = 46
	statusUserInactive                     uint32 = 47
	statusCannotDeleteUser                 uint32 = 48
	statusCannotChangePermissions          uint32 = 49
	statusInvalidPersonalAccessTokenName   uint32 = 50
	statusPersonalAccessTokenAlreadyExists uint32 = 51
	statusPersonalAccessTokensLimitReached uint32 = 52
	statusInvalidPersonalAccessToken       uint32 = 53
	statusPersonalAccessTokenExpired       uint32 = 54
	statusInvalidClientID                  uint32 = 101
	statusStreamIDNotFound                 uint32 = 1009
	statusStreamNameNotFound               uint32 = 1010
	statusStreamNameAlreadyExists          uint32 = 1012
	statusInvalidStreamName                uint32 = 1013
	statusInvalidTopicSize                 uint32 = 1019
	statusTopicIDNotFound                  uint32 = 2010
	statusTopicNameNotFound                uint32 = 2011
	statusTopicNameAlreadyExists           uint32 = 2013
	statusInvalidTopicName                 uint32 = 2014
	statusTooManyPartitions                uint32 = 2015
	statusInvalidPartitionsCount           uint32 = 2019
	statusPartitionNotFound                uint32 = 3007
	statusNoPartitions                     uint32 = 3008
	statusConsumerOffsetNotFound           uint32 = 3021
	statusInvalidMessagesCount             uint32 = 4009
	statusTooBigUserHeaders                uint32 = 4017
	statusTooBigMessagePayload             uint32 = 4022
	statusEmptyMessagePayload              uint32 = 4024
	statusInvalidSegmentsCount             uint32 = 4030
	statusNonZeroOffset                    uint32 = 4031
	statusNonZeroTimestamp                 uint32 = 4032
	statusInvalidIndexesCount              uint32 = 4035
	statusInvalidMessagesSize              uint32 = 4036
	statusTooSmallMessage                  uint32 = 4037
	statusInvalidOffset                    uint32 = 4100
	statusInvalidReservedField             uint32 = 4101
	statusConsumerGroupIDNotFound          uint32 = 5000
	statusConsumerGroupNameNotFound        uint32 = 5003
	statusConsumerGroupNameAlreadyExists   uint32 = 5004
	statusInvalidConsumerGroupName         uint32 = 5005
	statusConsumerGroupMemberNotFound      uint32 = 5006
)

// statusName gives the TSV name of a status, for error values and log lines.
// A switch rather than a map keeps the package free of mutable globals.
func statusName(code uint32) string {
	switch code {
	case statusInvalidCommand:
		return "InvalidCommand"
	case statusInvalidFormat:
		return "InvalidFormat"
	case statusDisconnected:
		return "Disconnected"
	case statusResourceNotFound:
		return "ResourceNotFound"
	case statusUnauthenticated:
		return "Unauthenticated"
	case statusUnauthorized:
		return "Unauthorized"
	case statusInvalidCredentials:
		return "InvalidCredentials"
	case statusInvalidUsername:
		return "InvalidUsername"
	case statusInvalidPassword:
		return "InvalidPassword"
	case statusInvalidUserStatus:
		return "InvalidUserStatus"
	case statusUserAlreadyExists:
		return "UserAlreadyExists"
	case statusUserInactive:
		return "UserInactive"
	case statusCannotDeleteUser:
		return "CannotDeleteUser"
	case statusCannotChangePermissions:
		return "CannotChangePermissions"
	case statusInvalidPersonalAccessTokenName:
		return "InvalidPersonalAccessTokenName"
	case statusPersonalAccessTokenAlreadyExists:
		return "PersonalAccessTokenAlreadyExists"
	case statusPersonalAccessTokensLimitReached:
		return "PersonalAccessTokensLimitReached"
	case statusInvalidPersonalAccessToken:
		return "InvalidPersonalAccessToken"
	case statusPersonalAccessTokenExpired:
		return "PersonalAccessTokenExpired"
	case statusInvalidClientID:
		return "InvalidClientId"
	case statusStreamIDNotFound:
		return "StreamIdNotFound"
	case statusStreamNameNotFound:
		return "StreamNameNotFound"
	case statusStreamNameAlreadyExists:
		return "StreamNameAlreadyExists"
	case statusInvalidStreamName:
		return "InvalidStreamName"
	case statusInvalidTopicSize:
		return "InvalidTopicSize"
	case statusTopicIDNotFound:
		return "TopicIdNotFound"
	case statusTopicNameNotFound:
		return "TopicNameNotFound"
	case statusTopicNameAlreadyExists:
		return "TopicNameAlreadyExists"
	case statusInvalidTopicName:
		return "InvalidTopicName"
	case statusTooManyPartitions:
		return "TooManyPartitions"
	case statusInvalidPartitionsCount:
		return "InvalidPartitionsCount"
	case statusPartitionNotFound:
		return "PartitionNotFound"
	case statusNoPartitions:
		return "NoPartitions"
	case statusConsumerOffsetNotFound:
		return "ConsumerOffsetNotFound"
	case statusInvalidMessagesCount:
		return "InvalidMessagesCount"
	case statusTooBigUserHeaders:
		return "TooBigUserHeaders"
	case statusTooBigMessagePayload:
		return "TooBigMessagePayload"
	case statusEmptyMessagePayload:
		return "EmptyMessagePayload"
	case statusInvalidSegmentsCount:
		return "InvalidSegmentsCount"
	case statusNonZeroOffset:
		return "NonZeroOffset"
	case statusNonZeroTimestamp:
		return "NonZeroTimestamp"
	case statusInvalidIndexesCount:
		return "InvalidIndexesCount"
	case statusInvalidMessagesSize:
		return "InvalidMessagesSize"
	case statusTooSmallMessage:
		return "TooSmallMessage"
	case statusInvalidOffset:
		return "InvalidOffset"
	case statusInvalidReservedField:
		return "InvalidReservedField"
	case statusConsumerGroupIDNotFound:
		return "ConsumerGroupIdNotFound"
	case statusConsumerGroupNameNotFound:
		return "ConsumerGroupNameNotFound"
	case statusConsumerGroupNameAlreadyExists:
		return "ConsumerGroupNameAlreadyExists"
	case statusInvalidConsumerGroupName:
		return "InvalidConsumerGroupName"
	case statusConsumerGroupMemberNotFound:
		return "ConsumerGroupMemberNotFound"
	default:
		return "status " + strconv.FormatUint(uint64(code), 10)
	}
}

// statusError is a failed command: the connection loop turns it into an
// error frame [status u32][0 u32] with no payload, as every Iggy server does.
type statusError uint32

func (e statusError) Error() string { return statusName(uint32(e)) }
