package protocol

//go:generate go run ./internal/cmd/statusgen
//go:generate go run ./internal/cmd/gendocs

import "sort"

// Status is one response status code (iggy-wire.md §8): an IggyError
// discriminant, named as upstream's enum names it.
type Status struct {
	Code  uint32
	Name  string
	Since string // first server version whose enum has it ("0.5.0" … "head")
	Until string // last one
	Older string // earlier names, "version: Name", when it was renamed
}

// StatusName names a response status: "OK" for 0, the IggyError name
// ("InvalidCommand") for a code any known server version defines, "" for
// anything else. A code renamed over time has its newest name (1011 is
// "StreamDirectoryNotFound", "StreamIdAlreadyExists" up to 0.5).
func StatusName(status uint32) string {
	if status == 0 {
		return "OK"
	}
	i := sort.Search(len(statusTable), func(i int) bool { return statusTable[i].Code >= status })
	if i < len(statusTable) && statusTable[i].Code == status {
		return statusTable[i].Name
	}
	return ""
}

// Statuses returns every known status code, sorted by code.
func Statuses() []Status {
	return append([]Status(nil), statusTable[:]...)
}
