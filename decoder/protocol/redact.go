package protocol

// Redaction is structural: a secret is a field of TypeSecret8 in the table,
// and the interpreter skips its bytes without copying them anywhere (see
// opSecret8 in interp.go). What reaches a Record is one KindRedacted value
// with neither the bytes nor their length; errors about a secret field say
// "truncated" without counts. Nothing downstream has to remember to redact,
// and a new secret is one table entry.
//
// Secrets (iggy-wire.md §9): LoginUser and CreateUser password,
// ChangePassword current and new password, LoginWithPersonalAccessToken
// token, the CreatePersonalAccessToken response token, and the G5
// LoginRegister password and LoginRegisterWithPat token.

// secretPaths lists the secret fields of a layout, prefixed (e.g.
// "response."), for Command.Secrets and the documentation.
func secretPaths(fs []Field, prefix string) []string {
	var out []string
	for i := range fs {
		f := &fs[i]
		if f.Type == TypeSecret8 {
			out = append(out, prefix+f.Name)
		}
		out = append(out, secretPaths(f.Fields, prefix)...)
	}
	return out
}
