package protocol

import (
	"errors"
	"reflect"
	"testing"
)

// withoutBatches returns vals without the message lists of batches: what
// a decode without Options.Messages should leave of a decode with it.
func withoutBatches(vals []Value) []Value {
	var out []Value
	depth, skip := 0, -1
	for _, v := range vals {
		if skip < 0 && depth == 0 && v.Kind == KindList && v.Name == "messages" {
			skip = depth
		}
		switch v.Kind {
		case KindObject, KindList:
			depth++
		case KindEnd:
			depth--
		}
		if skip < 0 {
			out = append(out, v)
		} else if depth == skip {
			skip = -1
		}
	}
	return out
}

// sameDecode decodes payload with and without Options.Messages and reports
// how they differ beyond the message lists: errors, summaries, the other
// Values, what version detection learnt. Detail is the decode with them.
func sameDecode(code Code, resp bool, payload []byte, wire int, with, without *Decoder) (detail Record, err error) {
	var summary Record
	var errD, errS error
	if resp {
		errD, errS = with.Response(code, payload, wire, &detail), without.Response(code, payload, wire, &summary)
	} else {
		errD, errS = with.Request(code, payload, wire, &detail), without.Request(code, payload, wire, &summary)
	}
	switch {
	case (errD == nil) != (errS == nil) || (errD != nil && errD.Error() != errS.Error()):
		return detail, errors.New("errors differ: " + errString(errD) + " / " + errString(errS))
	case detail.Summary != summary.Summary:
		return detail, errors.New("summaries differ")
	case !reflect.DeepEqual(withoutBatches(detail.Values), summary.Values):
		return detail, errors.New("values other than the message lists differ")
	case with.set != without.set:
		return detail, errors.New("version detection differs")
	}
	for _, v := range summary.Values {
		if v.Name == "message" {
			return detail, errors.New("a message decoded without Options.Messages")
		}
	}
	return detail, checkBalanced(summary.Values)
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// Without Options.Messages a batch decodes to the same summary, the same
// other fields, the same errors and the same version evidence as with it,
// only without a Value per message: over every sample of every version,
// whole and cut at every byte as a header-only capture would cut it, and
// with detection on and off.
func TestMessagesOption(t *testing.T) {
	batches := 0
	for _, v := range versions {
		for _, fixed := range []Version{v, VersionUnknown} {
			for code, pair := range samples(v) {
				for i, payload := range pair {
					resp := i == 1
					with := NewDecoder(Options{Version: fixed, Messages: true})
					without := NewDecoder(Options{Version: fixed})
					for cut := 0; cut <= len(payload); cut++ {
						detail, err := sameDecode(code, resp, payload[:cut], len(payload), with, without)
						if err != nil {
							t.Fatalf("%v (fixed %v) code %d resp=%v cut %d/%d: %v", v, fixed, code, resp, cut, len(payload), err)
						}
						if cut == len(payload) && detail.Summary.MessageCount > 0 {
							if _, ok := flatten(detail.Values)["messages[0]"]; !ok {
								t.Fatalf("%v code %d: the detailed decode has no messages", v, code)
							}
							batches++
						}
					}
				}
			}
		}
	}
	if batches < 2*len(versions) {
		t.Errorf("only %d whole batches compared", batches)
	}
}
