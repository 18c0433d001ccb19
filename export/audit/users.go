package audit

import (
	"strings"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/decoder/protocol"
)

// users remembers the names of user ids, as the capture shows them on any
// connection: a login by name answered with an id, and the answers of
// CreateUser, GetUser and GetUsers; UpdateUser renames, DeleteUser
// forgets. It names the user of a token login and the users admin commands
// name by id. Bounded: past max ids it learns nothing new.
type users struct {
	max   int
	names map[uint32]string
	ids   map[string]uint32
}

func newUsers(max int) users {
	return users{max: max, names: map[uint32]string{}, ids: map[string]uint32{}}
}

func (u *users) name(id uint32) (string, bool) {
	n, ok := u.names[id]
	return n, ok
}

// resolve turns a user identifier (an id or a name) into an id.
func (u *users) resolve(s string) (uint32, bool) {
	if id, ok := parseID(s); ok {
		return id, true
	}
	id, ok := u.ids[s]
	return id, ok
}

func (u *users) set(id uint32, name string) {
	if name == "" || name == UserUnknown {
		return
	}
	if old, ok := u.names[id]; ok {
		if old == name {
			return
		}
		delete(u.ids, old)
		delete(u.names, id)
	}
	if oldID, ok := u.ids[name]; ok {
		delete(u.names, oldID)
		delete(u.ids, name)
	}
	if len(u.names) >= u.max {
		return
	}
	name = strings.Clone(name)
	u.names[id] = name
	u.ids[name] = id
}

func (u *users) forget(id uint32) {
	if name, ok := u.names[id]; ok {
		delete(u.ids, name)
		delete(u.names, id)
	}
}

// What an OK answer teaches about users.
type userLesson uint8

const (
	userNone   userLesson = iota
	userRecord            // top level: id and username (CreateUser, GetUser)
	userList              // nested: id and username (GetUsers)
	userRename            // request: the user and its new "username" (UpdateUser)
	userDelete            // DeleteUser
)

var userLessons = func() map[protocol.Code]userLesson {
	t := map[protocol.Code]userLesson{}
	for name, l := range map[string]userLesson{
		"CreateUser": userRecord, "GetUser": userRecord, "GetUsers": userList,
		"UpdateUser": userRename, "DeleteUser": userDelete,
	} {
		c, ok := protocol.LookupName(name)
		if !ok {
			panic("audit: command " + name + " not in the protocol table")
		}
		t[c.Code] = l
	}
	return t
}()

// learn takes what an OK exchange tells about user names.
func (u *users) learn(ev *decoder.Event, cmd *protocol.Command) {
	if ev.NotFound {
		return
	}
	switch userLessons[cmd.Code] {
	case userRecord:
		if id, name, ok := protocol.IDName(ev.Response, "username"); ok {
			u.set(id, name)
		}
	case userList:
		protocol.EachIDName(ev.Response, "username", u.set)
	case userRename:
		if id, ok := u.resolve(ev.Summary.Username); ok {
			if name, ok := topString(ev.Request, "username"); ok {
				u.set(id, name)
			}
		}
	case userDelete:
		if id, ok := u.resolve(ev.Summary.Username); ok {
			u.forget(id)
		}
	}
}

// topString finds a top-level string value by name.
func topString(vals []protocol.Value, name string) (string, bool) {
	v, ok := protocol.Top(vals, name, protocol.KindString)
	if !ok {
		return "", false
	}
	return v.Str, true
}

// topUint finds a top-level unsigned value by name.
func topUint(vals []protocol.Value, name string) (uint32, bool) {
	v, ok := protocol.Top(vals, name, protocol.KindUint)
	if !ok {
		return 0, false
	}
	return uint32(v.Num), true
}
