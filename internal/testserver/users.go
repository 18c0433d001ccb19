package testserver

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
)

// Validation limits of the real server (http/users/defaults.rs).
const (
	minUsernameLen = 3
	maxUsernameLen = 50
	minPasswordLen = 3
	maxPasswordLen = 100
)

// secretHash is a salted SHA-256 of a password. The double never keeps a
// password in clear, so nothing but the wire ever carries one.
type secretHash struct {
	salt [16]byte
	sum  [32]byte
}

func hashSecret(secret string) secretHash {
	var h secretHash
	_, _ = rand.Read(h.salt[:]) // never fails on supported platforms
	h.sum = saltedSum(h.salt, secret)
	return h
}

func saltedSum(salt [16]byte, secret string) [32]byte {
	d := sha256.New()
	d.Write(salt[:])
	d.Write([]byte(secret))
	var out [32]byte
	copy(out[:], d.Sum(nil))
	return out
}

func (h secretHash) matches(secret string) bool {
	sum := saltedSum(h.salt, secret)
	return subtle.ConstantTimeCompare(sum[:], h.sum[:]) == 1
}

// identity is the IdentityResponse of both login commands: [user_id u32].
func identity(id uint32) []byte {
	return binary.LittleEndian.AppendUint32(nil, id)
}

// handleLoginUser (38): username, password, version Str32, context Str32.
// Unknown user and wrong password are both InvalidCredentials, an inactive
// user is UserInactive.
func handleLoginUser(q *request) ([]byte, error) {
	username := q.r.str8(false)
	password := q.r.str8(true)
	version := q.r.str32()
	clientContext := q.r.str32()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	u := q.st.userByName(username)
	if u == nil || !u.password.matches(password) {
		return nil, statusError(statusInvalidCredentials)
	}
	if u.status != userActive {
		return nil, statusError(statusUserInactive)
	}
	q.c.userID = u.id
	q.s.log.Debug("user logged in", "client_id", q.c.id, "user_id", u.id, "sdk_version", version, "context", clientContext)
	return identity(u.id), nil
}

// handleLogout (39) forgets the session's user.
func handleLogout(q *request) ([]byte, error) {
	if err := q.decoded(); err != nil {
		return nil, err
	}
	q.c.userID = noUser
	return nil, nil
}

// handleGetUser (31): a user may always read itself; others need read_users.
// An unknown user is an empty OK.
func handleGetUser(q *request) ([]byte, error) {
	id := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	self := (id.numeric && id.id == q.u.id) || (!id.numeric && id.name == q.u.username)
	if !self {
		if err := allow(q.u.perms.canReadUsers()); err != nil {
			return nil, err
		}
	}
	u, err := q.st.findUser(id)
	if err != nil {
		return nil, nil
	}
	var w writer
	w.userDetails(u)
	return w.b, nil
}

// handleGetUsers (32) lists user headers sorted by id, without permissions.
func handleGetUsers(q *request) ([]byte, error) {
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canReadUsers()); err != nil {
		return nil, err
	}
	var w writer
	for _, id := range sortedKeys(q.st.users) {
		w.userRecord(q.st.users[id])
	}
	return w.b, nil
}

// readOptPermissions reads [has u8] and, when set, [len u32][Perms]; like the
// 0.8 decoders it requires the blob to be exactly len bytes.
func readOptPermissions(r *reader) *permissions {
	if !r.boolean() {
		return nil
	}
	n := r.u32()
	if r.err() != nil {
		return nil
	}
	if uint64(n) > uint64(r.remaining()) {
		r.fail(errTruncated)
		return nil
	}
	sub := newReader(r.take(int(n)))
	p := readPermissions(sub)
	switch {
	case sub.err() != nil:
		r.fail(sub.err())
	case sub.remaining() != 0:
		r.fail(errMalformed)
	}
	return p
}

func validUsername(name string) error {
	if len(name) < minUsernameLen || len(name) > maxUsernameLen {
		return statusError(statusInvalidUsername)
	}
	return nil
}

func validPassword(pw string) error {
	if len(pw) < minPasswordLen || len(pw) > maxPasswordLen {
		return statusError(statusInvalidPassword)
	}
	return nil
}

func validStatus(status uint8) error {
	if status != userActive && status != userInactive {
		return statusError(statusInvalidUserStatus)
	}
	return nil
}

// handleCreateUser (33) answers the created user's UserDetails.
func handleCreateUser(q *request) ([]byte, error) {
	username := q.r.str8(false)
	password := q.r.str8(true)
	status := q.r.u8()
	perms := readOptPermissions(q.r)
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageUsers()); err != nil {
		return nil, err
	}
	if err := validUsername(username); err != nil {
		return nil, err
	}
	if err := validPassword(password); err != nil {
		return nil, err
	}
	if err := validStatus(status); err != nil {
		return nil, err
	}
	if q.st.userByName(username) != nil {
		return nil, statusError(statusUserAlreadyExists)
	}
	u := &user{
		id:        q.st.nextUserID,
		createdAt: nowMicros(),
		status:    status,
		username:  username,
		password:  hashSecret(password),
		perms:     perms,
		tokens:    map[string]*accessToken{},
	}
	q.st.nextUserID++
	q.st.users[u.id] = u
	var w writer
	w.userDetails(u)
	return w.b, nil
}

// handleDeleteUser (34): the root user cannot be deleted. Sessions logged in
// as the deleted user become unauthenticated.
func handleDeleteUser(q *request) ([]byte, error) {
	id := q.r.ident()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageUsers()); err != nil {
		return nil, err
	}
	u, err := q.st.findUser(id)
	if err != nil {
		return nil, err
	}
	if u.id == rootUserID {
		return nil, statusError(statusCannotDeleteUser)
	}
	delete(q.st.users, u.id)
	for _, c := range q.st.sessions {
		if c.userID == u.id {
			c.userID = noUser
		}
	}
	return nil, nil
}

// handleUpdateUser (35): optional new username, optional new status.
func handleUpdateUser(q *request) ([]byte, error) {
	id := q.r.ident()
	var username string
	hasName := q.r.boolean()
	if hasName {
		username = q.r.str8(false)
	}
	var status uint8
	hasStatus := q.r.boolean()
	if hasStatus {
		status = q.r.u8()
	}
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageUsers()); err != nil {
		return nil, err
	}
	u, err := q.st.findUser(id)
	if err != nil {
		return nil, err
	}
	if hasName {
		if err := validUsername(username); err != nil {
			return nil, err
		}
		if other := q.st.userByName(username); other != nil && other.id != u.id {
			return nil, statusError(statusUserAlreadyExists)
		}
	}
	if hasStatus {
		if err := validStatus(status); err != nil {
			return nil, err
		}
	}
	if hasName {
		u.username = username
	}
	if hasStatus {
		u.status = status
	}
	return nil, nil
}

// handleUpdatePermissions (36): the root user's permissions are fixed.
func handleUpdatePermissions(q *request) ([]byte, error) {
	id := q.r.ident()
	perms := readOptPermissions(q.r)
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if err := allow(q.u.perms.canManageUsers()); err != nil {
		return nil, err
	}
	u, err := q.st.findUser(id)
	if err != nil {
		return nil, err
	}
	if u.id == rootUserID {
		return nil, statusError(statusCannotChangePermissions)
	}
	u.perms = perms
	return nil, nil
}

// handleChangePassword (37): a user may change its own password; changing
// someone else's needs manage_users. A wrong current password is
// InvalidCredentials.
func handleChangePassword(q *request) ([]byte, error) {
	id := q.r.ident()
	current := q.r.str8(true)
	next := q.r.str8(true)
	if err := q.decoded(); err != nil {
		return nil, err
	}
	u, err := q.st.findUser(id)
	if err != nil {
		return nil, err
	}
	if u.id != q.u.id {
		if err := allow(q.u.perms.canManageUsers()); err != nil {
			return nil, err
		}
	}
	if err := validPassword(next); err != nil {
		return nil, err
	}
	if !u.password.matches(current) {
		return nil, statusError(statusInvalidCredentials)
	}
	u.password = hashSecret(next)
	return nil, nil
}
