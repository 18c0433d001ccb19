package protocol

import "encoding/binary"

// Permissions (§4.7) are a linked list of streams, each with a linked list
// of topics, chained by "has next" flag bytes: no count a table could use.
// They decode to
//
//	permissions {global {10 bools} streams [stream {stream_id, 6 bools, topics [topic {topic_id, 4 bools}]}]}

var (
	globalPermissionNames = [...]string{
		"manage_servers", "read_servers", "manage_users", "read_users", "manage_streams",
		"read_streams", "manage_topics", "read_topics", "poll_messages", "send_messages",
	}
	streamPermissionNames = [...]string{
		"manage_stream", "read_stream", "manage_topics", "read_topics", "poll_messages", "send_messages",
	}
	topicPermissionNames = [...]string{"manage_topic", "read_topic", "poll_messages", "send_messages"}
)

const permissionsDoc = "Decodes to `permissions {global {manage_servers, read_servers, manage_users, read_users, " +
	"manage_streams, read_streams, manage_topics, read_topics, poll_messages, send_messages}, streams [stream {stream_id, " +
	"manage_stream, read_stream, manage_topics, read_topics, poll_messages, send_messages, topics [topic {topic_id, " +
	"manage_topic, read_topic, poll_messages, send_messages}]}]}` (bools); a flag byte with nothing after it ends its list."

var customPermissions = &custom{
	name: "permissions",
	doc: "global: 10 bool bytes; then `[has_streams u8]` and per stream `[stream_id u32][6 bools][has_topics u8]` " +
		"(per topic `[topic_id u32][4 bools][has_next_topic u8]`) `[has_next_stream u8]`; exactly permissions_len bytes. " +
		permissionsDoc,
	decode: func(s *state, o *op) error { return s.permissionsBlob(o.name, s.regs[o.count]) },
}

var customUserPermissions = &custom{
	name: "user_permissions",
	doc: "a marker: four zero bytes when the user has no permissions, " +
		"else `[0x01][permissions_len u32][Permissions]`; no value without permissions. " + permissionsDoc,
	decode: (*state).userPermissions,
}

func (s *state) userPermissions(o *op) error {
	b := s.b[s.off:]
	if len(b) < 1 {
		return s.short(o, 1)
	}
	if b[0] == 0 {
		if len(b) < 4 {
			return s.short(o, 4)
		}
		if s.strict && (b[1]|b[2]|b[3]) != 0 {
			return invalid(o.name, "no-permissions marker is not four zero bytes")
		}
		s.off += 4
		return nil
	}
	if len(b) < 5 {
		return s.short(o, 5)
	}
	s.off += 5
	return s.permissionsBlob(o.name, uint64(binary.LittleEndian.Uint32(b[1:])))
}

// permissionsBlob decodes n bytes of Permissions at s.off. Up to 0.6.0,
// encoders could write has_streams/has_topics = 1 followed by nothing for an
// empty map, so the end of the blob ends the lists wherever it comes.
func (s *state) permissionsBlob(name string, n uint64) error {
	full := s.b
	end := len(full)
	if n <= uint64(s.left()) {
		end = s.off + int(n)
	} else if !s.partial {
		return s.shortName(name, false, int(min(n, 1<<31-1)))
	}
	s.b = full[:end]
	err := s.permissions(name)
	s.b = full
	if err != nil {
		return err
	}
	if s.off != end {
		return invalidValue(name, "bytes left inside permissions_len:", uint64(end-s.off))
	}
	return nil
}

func (s *state) permissions(name string) error {
	s.begin(name, KindObject)
	s.begin("global", KindObject)
	if err := s.bools(globalPermissionNames[:]); err != nil {
		return err
	}
	s.end()
	s.begin("streams", KindList)
	more, err := s.flag("has_streams")
	for err == nil && more {
		s.begin("stream", KindObject)
		if err = s.u32Value("stream_id"); err != nil {
			break
		}
		if err = s.bools(streamPermissionNames[:]); err != nil {
			break
		}
		s.begin("topics", KindList)
		topics, err2 := s.flag("has_topics")
		for err2 == nil && topics {
			s.begin("topic", KindObject)
			if err2 = s.u32Value("topic_id"); err2 != nil {
				break
			}
			if err2 = s.bools(topicPermissionNames[:]); err2 != nil {
				break
			}
			s.end()
			topics, err2 = s.flag("has_next_topic")
		}
		if err = err2; err != nil {
			break
		}
		s.end() // topics
		s.end() // stream
		more, err = s.flag("has_next_stream")
	}
	if err != nil {
		return err
	}
	s.end() // streams
	s.end() // permissions
	return nil
}

// flag reads a has-next byte. The end of the blob reads as "no more", and
// so does a set flag with nothing after it (the pre-0.6.1 dangling flag).
func (s *state) flag(name string) (bool, error) {
	if s.off == len(s.b) {
		return false, nil
	}
	v := s.b[s.off]
	s.off++
	if s.strict && v > 1 {
		return false, invalidValue(name, "invalid flag", uint64(v))
	}
	return v != 0 && s.off < len(s.b), nil
}

func (s *state) bools(names []string) error {
	if s.left() < len(names) {
		return s.shortName(names[0], false, len(names))
	}
	for i, n := range names {
		s.emit(Value{Name: n, Num: uint64(min(s.b[s.off+i], 1)), Kind: KindBool})
	}
	s.off += len(names)
	return nil
}

func (s *state) u32Value(name string) error {
	if s.left() < 4 {
		return s.shortName(name, false, 4)
	}
	s.emit(Value{Name: name, Num: uint64(binary.LittleEndian.Uint32(s.b[s.off:])), Kind: KindUint})
	s.off += 4
	return nil
}
