package decoder_test

import (
	"fmt"
	"testing"
)

func TestZZExplore(t *testing.T) {
	segs := loadSession(t)
	for i, s := range segs {
		fmt.Printf("%3d %d conn=%d dir=%d fl=%d seq=%d len=%d\n", i, s.Time, s.Key.Client.Port(), s.Dir, s.Flags, s.Seq, s.Len)
	}
}
