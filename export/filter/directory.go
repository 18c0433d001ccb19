package filter

import (
	"strings"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// directory links the numeric ids of streams and topics to their names, as
// the answers of the capture tell them: a client that created or looked up
// stream "orders" and got id 3 sends later messages to stream "3". It is
// bounded: past maxEntries per map it learns nothing new.
type directory struct {
	streamNames map[uint32]string
	streamIDs   map[string]uint32
	topicNames  map[topicKey]string
	topicIDs    map[topicName]uint32
}

type topicKey struct{ stream, topic uint32 }

type topicName struct {
	stream uint32
	name   string
}

const maxEntries = 1 << 16

func newDirectory() *directory {
	return &directory{
		streamNames: map[uint32]string{}, streamIDs: map[string]uint32{},
		topicNames: map[topicKey]string{}, topicIDs: map[topicName]uint32{},
	}
}

// What an OK answer of a command teaches.
type lesson uint8

const (
	lessonNone         lesson = iota
	lessonStream              // top level: a stream; nested: its topics (CreateStream, GetStream)
	lessonStreams             // nested: streams (GetStreams)
	lessonTopic               // top level: a topic of the request's stream (CreateTopic, GetTopic)
	lessonTopics              // nested: topics of the request's stream (GetTopics)
	lessonRenameStream        // request: stream and its new "name" (UpdateStream)
	lessonRenameTopic         // request: stream, topic and the topic's new "name" (UpdateTopic)
	lessonDeleteStream        // DeleteStream
	lessonDeleteTopic         // DeleteTopic
)

// lessons maps command codes to what their answers teach. The commands are
// found by name in the protocol table.
var lessons = func() (t [maxLowCode]lesson) {
	for name, l := range map[string]lesson{
		"CreateStream": lessonStream, "GetStream": lessonStream, "GetStreams": lessonStreams,
		"CreateTopic": lessonTopic, "GetTopic": lessonTopic, "GetTopics": lessonTopics,
		"UpdateStream": lessonRenameStream, "UpdateTopic": lessonRenameTopic,
		"DeleteStream": lessonDeleteStream, "DeleteTopic": lessonDeleteTopic,
	} {
		c, ok := protocol.LookupName(name)
		if !ok || c.Code >= maxLowCode {
			panic("filter: command " + name + " not in the protocol table")
		}
		t[c.Code] = l
	}
	return t
}()

// learn takes what an OK exchange tells about ids and names (deletes: see forget).
func (d *directory) learn(ev *decoder.Event) {
	if ev.Code >= maxLowCode || ev.NotFound {
		return
	}
	switch lessons[ev.Code] {
	case lessonStream:
		sid, name, ok := protocol.IDName(ev.Response, "name")
		if !ok {
			return
		}
		d.setStream(sid, name)
		protocol.EachIDName(ev.Response, "name", func(id uint32, name string) { d.setTopic(sid, id, name) })
	case lessonStreams:
		protocol.EachIDName(ev.Response, "name", d.setStream)
	case lessonTopic:
		if sid, ok := d.resolveStream(requestStream(ev)); ok {
			if tid, name, ok := protocol.IDName(ev.Response, "name"); ok {
				d.setTopic(sid, tid, name)
			}
		}
	case lessonTopics:
		if sid, ok := d.resolveStream(requestStream(ev)); ok {
			protocol.EachIDName(ev.Response, "name", func(id uint32, name string) { d.setTopic(sid, id, name) })
		}
	case lessonRenameStream:
		if sid, ok := d.resolveStream(ev.Summary.Stream); ok {
			if name, ok := topString(ev.Request, "name"); ok {
				d.setStream(sid, name) // the topics stay: same id
			}
		}
	case lessonRenameTopic:
		sid, ok := d.resolveStream(ev.Summary.Stream)
		if !ok {
			return
		}
		if tid, ok := d.resolveTopic(sid, ev.Summary.Topic); ok {
			if name, ok := topString(ev.Request, "name"); ok {
				d.setTopic(sid, tid, name)
			}
		}
	}
}

// forget drops what an OK delete removed; called after the delete is judged.
func (d *directory) forget(ev *decoder.Event) {
	if ev.Code >= maxLowCode {
		return
	}
	switch lessons[ev.Code] {
	case lessonDeleteStream:
		if sid, ok := d.resolveStream(ev.Summary.Stream); ok {
			d.deleteStream(sid)
		}
	case lessonDeleteTopic:
		if sid, ok := d.resolveStream(ev.Summary.Stream); ok {
			if tid, ok := d.resolveTopic(sid, ev.Summary.Topic); ok {
				d.deleteTopic(sid, tid)
			}
		}
	}
}

// requestStream is the stream identifier of the request (the Summary's may
// have been replaced by a name from the answer).
func requestStream(ev *decoder.Event) string {
	if s, ok := topString(ev.Request, "stream_id"); ok {
		return s
	}
	return ev.Summary.Stream
}

func (d *directory) setStream(id uint32, name string) {
	if old, ok := d.streamNames[id]; ok && old == name {
		return
	}
	// Keep the maps inverse of each other: the id's old name and the
	// name's old id (a stream deleted and created again) are dropped.
	if old, ok := d.streamNames[id]; ok {
		delete(d.streamIDs, old)
		delete(d.streamNames, id)
	}
	if oldID, ok := d.streamIDs[name]; ok {
		delete(d.streamNames, oldID)
		delete(d.streamIDs, name)
	}
	if len(d.streamNames) >= maxEntries {
		return
	}
	name = strings.Clone(name) // do not keep the event's memory alive
	d.streamNames[id] = name
	d.streamIDs[name] = id
}

func (d *directory) deleteStream(id uint32) {
	if name, ok := d.streamNames[id]; ok {
		delete(d.streamIDs, name)
		delete(d.streamNames, id)
	}
	for k, name := range d.topicNames {
		if k.stream == id {
			delete(d.topicNames, k)
			delete(d.topicIDs, topicName{id, name})
		}
	}
}

func (d *directory) setTopic(sid, tid uint32, name string) {
	if old, ok := d.topicNames[topicKey{sid, tid}]; ok && old == name {
		return
	}
	if old, ok := d.topicNames[topicKey{sid, tid}]; ok {
		delete(d.topicIDs, topicName{sid, old})
		delete(d.topicNames, topicKey{sid, tid})
	}
	if oldID, ok := d.topicIDs[topicName{sid, name}]; ok {
		delete(d.topicNames, topicKey{sid, oldID})
		delete(d.topicIDs, topicName{sid, name})
	}
	if len(d.topicNames) >= maxEntries {
		return
	}
	name = strings.Clone(name)
	d.topicNames[topicKey{sid, tid}] = name
	d.topicIDs[topicName{sid, name}] = tid
}

func (d *directory) deleteTopic(sid, tid uint32) {
	if name, ok := d.topicNames[topicKey{sid, tid}]; ok {
		delete(d.topicIDs, topicName{sid, name})
		delete(d.topicNames, topicKey{sid, tid})
	}
}

func (d *directory) streamName(id uint32) (string, bool) {
	n, ok := d.streamNames[id]
	return n, ok
}

func (d *directory) streamID(name string) (uint32, bool) {
	id, ok := d.streamIDs[name]
	return id, ok
}

func (d *directory) topicName(sid, tid uint32) (string, bool) {
	n, ok := d.topicNames[topicKey{sid, tid}]
	return n, ok
}

func (d *directory) topicID(sid uint32, name string) (uint32, bool) {
	id, ok := d.topicIDs[topicName{sid, name}]
	return id, ok
}

// resolveStream turns a stream identifier (number or name) into its id.
func (d *directory) resolveStream(s string) (uint32, bool) {
	if id, ok := parseID(s); ok {
		return id, true
	}
	return d.streamID(s)
}

func (d *directory) resolveTopic(sid uint32, s string) (uint32, bool) {
	if id, ok := parseID(s); ok {
		return id, true
	}
	return d.topicID(sid, s)
}

// topString finds a top-level string value by name.
func topString(vals []protocol.Value, name string) (string, bool) {
	v, ok := protocol.Top(vals, name, protocol.KindString)
	if !ok {
		return "", false
	}
	return v.Str, true
}
