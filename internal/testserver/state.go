package testserver

import (
	"time"
)

// Sentinels and defaults of §4.8 and of a default 0.8 server configuration.
const (
	noUser             uint32 = ^uint32(0) // Client.user_id when not logged in (G2+)
	rootUserID         uint32 = 0
	transportTCP       uint8  = 1
	userActive         uint8  = 1
	userInactive       uint8  = 2
	compressionNone    uint8  = 1
	compressionGzip    uint8  = 2
	expiryNever        uint64 = ^uint64(0)
	maxTopicSizeNone   uint64 = ^uint64(0)
	segmentSize        uint64 = 1 << 30 // default segment.size "1 GiB"
	maxPartitions             = 1000    // MAX_PARTITIONS_COUNT
	maxTokensPerUser          = 100     // personal_access_token.max_tokens_per_user
	messageHeaderSize         = 64      // G3/G4 message header
	indexEntrySize            = 16
	maxPayloadSize            = 64_000_000 // per-message payload limit from 0.6
	maxUserHeadersSize        = 100_000
)

// state is everything the server remembers. It is guarded by Server.mu; every
// handler runs with the lock held, so handlers never race with each other and
// the order of effects is the order in which requests were received.
type state struct {
	users        map[uint32]*user
	nextUserID   uint32
	streams      map[uint32]*stream
	nextStreamID uint32
	sessions     map[uint32]*session
	nextClientID uint32
	startedAt    time.Time
}

type user struct {
	id        uint32
	createdAt uint64
	status    uint8
	username  string
	password  secretHash
	perms     *permissions
	tokens    map[string]*accessToken
}

// accessToken is a personal access token. Only the hash of the raw token is
// kept, as the real server does: the raw token exists once, in the
// CreatePersonalAccessToken response.
type accessToken struct {
	name     string
	hash     [32]byte
	expiryAt uint64 // absolute µs; 0 = never
}

type stream struct {
	id          uint32
	createdAt   uint64
	name        string
	topics      map[uint32]*topic
	nextTopicID uint32
}

type topic struct {
	id                uint32
	createdAt         uint64
	name              string
	compression       uint8
	messageExpiry     uint64
	maxTopicSize      uint64
	replicationFactor uint8
	partitions        []*partition
	groups            map[uint32]*group
	nextGroupID       uint32
	balanced          uint32 // round-robin cursor for Balanced partitioning
	offsets           map[offsetKey]uint64
}

// offsetKey identifies a stored consumer offset: a single consumer (by its
// identifier as sent) or a consumer group (by group id) on one partition.
type offsetKey struct {
	kind      uint8
	consumer  string
	partition uint32
}

type partition struct {
	id         uint32
	createdAt  uint64
	messages   []storedMessage
	sizeBytes  uint64
	nextOffset uint64
}

// storedMessage is a message exactly as PollMessages returns it: the 64-byte
// header with offset, timestamp and checksum stamped, then payload and user
// headers.
type storedMessage struct {
	offset    uint64
	timestamp uint64
	record    []byte
}

type group struct {
	id      uint32
	name    string
	members map[uint32]*member // by client id
}

// member is a client in a consumer group with the partitions assigned to it.
type member struct {
	id         uint32
	partitions []uint32
	cursor     int // next partition index for polls without a partition id
}

// groupRef names a group a client is a member of (GetClient's group list).
type groupRef struct{ stream, topic, group uint32 }

func nowMicros() uint64 { return uint64(time.Now().UnixMicro()) }

func (s *stream) totals() (size, count uint64) {
	for _, t := range s.topics {
		ts, tc := t.totals()
		size += ts
		count += tc
	}
	return size, count
}

func (t *topic) totals() (size, count uint64) {
	for _, p := range t.partitions {
		size += p.sizeBytes
		count += uint64(len(p.messages))
	}
	return size, count
}

// currentOffset is the offset of the last message, 0 for an empty partition.
func (p *partition) currentOffset() uint64 {
	if len(p.messages) == 0 {
		return 0
	}
	return p.messages[len(p.messages)-1].offset
}

// segmentsCount mirrors a server that rolls a new 1 GiB segment when the
// current one is full; an empty partition still has its first segment.
func (p *partition) segmentsCount() uint32 {
	return uint32(p.sizeBytes/segmentSize) + 1
}

// findStream resolves a stream identifier; the error is the one 0.8 commands
// that need an existing stream answer with.
func (st *state) findStream(id ident) (*stream, error) {
	if id.numeric {
		if s, ok := st.streams[id.id]; ok {
			return s, nil
		}
		return nil, statusError(statusStreamIDNotFound)
	}
	for _, s := range st.streams {
		if s.name == id.name {
			return s, nil
		}
	}
	return nil, statusError(statusStreamNameNotFound)
}

func (st *state) streamByName(name string) *stream {
	for _, s := range st.streams {
		if s.name == name {
			return s
		}
	}
	return nil
}

func (s *stream) findTopic(id ident) (*topic, error) {
	if id.numeric {
		if t, ok := s.topics[id.id]; ok {
			return t, nil
		}
		return nil, statusError(statusTopicIDNotFound)
	}
	for _, t := range s.topics {
		if t.name == id.name {
			return t, nil
		}
	}
	return nil, statusError(statusTopicNameNotFound)
}

func (s *stream) topicByName(name string) *topic {
	for _, t := range s.topics {
		if t.name == name {
			return t
		}
	}
	return nil
}

// findTopic resolves a stream and a topic identifier together.
func (st *state) findTopic(sid, tid ident) (*stream, *topic, error) {
	s, err := st.findStream(sid)
	if err != nil {
		return nil, nil, err
	}
	t, err := s.findTopic(tid)
	if err != nil {
		return nil, nil, err
	}
	return s, t, nil
}

func (t *topic) partition(id uint32) (*partition, error) {
	if int64(id) < int64(len(t.partitions)) {
		return t.partitions[id], nil
	}
	return nil, statusError(statusPartitionNotFound)
}

func (t *topic) findGroup(id ident) (*group, error) {
	if id.numeric {
		if g, ok := t.groups[id.id]; ok {
			return g, nil
		}
		return nil, statusError(statusConsumerGroupIDNotFound)
	}
	for _, g := range t.groups {
		if g.name == id.name {
			return g, nil
		}
	}
	return nil, statusError(statusConsumerGroupNameNotFound)
}

func (st *state) findUser(id ident) (*user, error) {
	if id.numeric {
		if u, ok := st.users[id.id]; ok {
			return u, nil
		}
		return nil, statusError(statusResourceNotFound)
	}
	if u := st.userByName(id.name); u != nil {
		return u, nil
	}
	return nil, statusError(statusResourceNotFound)
}

func (st *state) userByName(name string) *user {
	for _, u := range st.users {
		if u.username == name {
			return u
		}
	}
	return nil
}

// groupsOf lists the consumer groups a client is a member of, sorted.
func (st *state) groupsOf(clientID uint32) []groupRef {
	var out []groupRef
	for _, sid := range sortedKeys(st.streams) {
		s := st.streams[sid]
		for _, tid := range sortedKeys(s.topics) {
			t := s.topics[tid]
			for _, gid := range sortedKeys(t.groups) {
				if _, ok := t.groups[gid].members[clientID]; ok {
					out = append(out, groupRef{stream: sid, topic: tid, group: gid})
				}
			}
		}
	}
	return out
}

// leaveAllGroups removes a disconnecting client from every group.
func (st *state) leaveAllGroups(clientID uint32) {
	for _, s := range st.streams {
		for _, t := range s.topics {
			for _, g := range t.groups {
				if _, ok := g.members[clientID]; ok {
					delete(g.members, clientID)
					g.rebalance(len(t.partitions))
				}
			}
		}
	}
}
