package testserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sort"
)

const (
	minTokenNameLen = 3
	maxTokenNameLen = 30
	rawTokenBytes   = 50 // the raw token is base64 of 50 random bytes: 68 chars
)

// handleGetTokens (41) lists the caller's tokens as {name Str8, expiry_at u64}
// sorted by name; none is an empty OK.
func handleGetTokens(q *request) ([]byte, error) {
	if err := q.decoded(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(q.u.tokens))
	for name := range q.u.tokens {
		names = append(names, name)
	}
	sort.Strings(names)
	var w writer
	for _, name := range names {
		w.str8(name)
		w.u64(q.u.tokens[name].expiryAt)
	}
	return w.b, nil
}

// handleCreateToken (42): [name Str8][expiry u64] → [token Str8]. The raw
// token leaves the server only here; the server keeps its SHA-256.
// expiry 0 (server default) and u64::MAX mean "never expires"; anything
// else is a duration in µs from now.
func handleCreateToken(q *request) ([]byte, error) {
	name := q.r.str8(false)
	expiry := q.r.u64()
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if len(name) < minTokenNameLen || len(name) > maxTokenNameLen {
		return nil, statusError(statusInvalidPersonalAccessTokenName)
	}
	if _, ok := q.u.tokens[name]; ok {
		return nil, statusError(statusPersonalAccessTokenAlreadyExists)
	}
	if len(q.u.tokens) >= maxTokensPerUser {
		return nil, statusError(statusPersonalAccessTokensLimitReached)
	}
	var random [rawTokenBytes]byte
	_, _ = rand.Read(random[:]) // never fails on supported platforms
	raw := base64.URLEncoding.EncodeToString(random[:])
	var expiryAt uint64
	if expiry != 0 && expiry != expiryNever {
		now := nowMicros()
		if expiry <= expiryNever-now {
			expiryAt = now + expiry
		}
	}
	q.u.tokens[name] = &accessToken{name: name, hash: sha256.Sum256([]byte(raw)), expiryAt: expiryAt}
	var w writer
	w.str8(raw)
	return w.b, nil
}

// handleDeleteToken (43): an unknown name is ResourceNotFound.
func handleDeleteToken(q *request) ([]byte, error) {
	name := q.r.str8(false)
	if err := q.decoded(); err != nil {
		return nil, err
	}
	if _, ok := q.u.tokens[name]; !ok {
		return nil, statusError(statusResourceNotFound)
	}
	delete(q.u.tokens, name)
	return nil, nil
}

// handleLoginWithToken (44): [token Str8] → [user_id u32]. The token is
// looked up by its hash.
func handleLoginWithToken(q *request) ([]byte, error) {
	raw := q.r.str8(false)
	if err := q.decoded(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(raw))
	for _, id := range sortedKeys(q.st.users) {
		u := q.st.users[id]
		for _, t := range u.tokens {
			if t.hash != sum {
				continue
			}
			if t.expiryAt != 0 && t.expiryAt <= nowMicros() {
				return nil, statusError(statusPersonalAccessTokenExpired)
			}
			if u.status != userActive {
				return nil, statusError(statusUserInactive)
			}
			q.c.userID = u.id
			return identity(u.id), nil
		}
	}
	return nil, statusError(statusInvalidPersonalAccessToken)
}
