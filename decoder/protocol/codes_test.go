package protocol

import (
	"errors"
	"testing"
)

// Every command decodes its sample request and response in every version
// with a fixed Version, strictly valid, and every prefix decodes as partial
// without an error into well-bracketed values.
func TestAllCodesAllVersions(t *testing.T) {
	for _, v := range versions {
		s := samples(v)
		for _, c := range Commands() {
			p, ok := s[c.Code]
			if !ok {
				t.Errorf("no sample for %d", c.Code)
				continue
			}
			d := NewDecoder(Options{Version: v, Payloads: true})
			var rec Record
			for dir, payload := range p {
				dec := d.Request
				if dir == dirResponse {
					dec = d.Response
				}
				if err := dec(c.Code, payload, len(payload), &rec); err != nil {
					t.Errorf("%v %d %s dir %d: %v", v, c.Code, c.Name, dir, err)
					continue
				}
				if err := checkBalanced(rec.Values); err != nil {
					t.Errorf("%v %d dir %d: %v", v, c.Code, dir, err)
				}
				if len(payload) > 0 && len(rec.Values) == 0 {
					t.Errorf("%v %d dir %d: no values", v, c.Code, dir)
				}
				for n := 0; n < len(payload); n++ {
					if err := dec(c.Code, payload[:n], len(payload), &rec); err != nil {
						t.Errorf("%v %d dir %d: prefix %d partial: %v", v, c.Code, dir, n, err)
					}
					if err := checkBalanced(rec.Values); err != nil {
						t.Errorf("%v %d dir %d: prefix %d: %v", v, c.Code, dir, n, err)
					}
					err := dec(c.Code, payload[:n], n, &rec)
					var de *DecodeError
					if err != nil && !errors.As(err, &de) {
						t.Errorf("%v %d dir %d: prefix %d: error %T", v, c.Code, dir, n, err)
					}
				}
			}
			if !d.ValidRequest(c.Code, p[0]) {
				t.Errorf("%v %d: sample request is not valid", v, c.Code)
			}
			if d.ValidRequest(c.Code, append(append([]byte(nil), p[0]...), 0)) {
				t.Errorf("%v %d: request with a trailing byte is valid", v, c.Code)
			}
		}
	}
}

func TestUnknownCode(t *testing.T) {
	d := NewDecoder(Options{})
	var rec Record
	err := d.Request(999, []byte{1, 2}, 2, &rec)
	var uc UnknownCommandError
	if !errors.As(err, &uc) || uc.Code != 999 || err.Error() != "unknown command code 999" {
		t.Errorf("err = %v", err)
	}
	if d.ValidRequest(999, nil) {
		t.Error("unknown code is valid")
	}
}

func TestEmptyNotFound(t *testing.T) {
	d := NewDecoder(Options{Version: V08})
	var rec Record
	for _, c := range Commands() {
		err := d.Response(c.Code, nil, 0, &rec)
		if c.EmptyIsNotFound || len(c.Response) == 0 {
			if err != nil || len(rec.Values) != 0 {
				t.Errorf("%d: empty response: %v, %d values", c.Code, err, len(rec.Values))
			}
		}
	}
	// Lists to the end of the payload decode an empty payload as an empty list.
	if err := d.Response(201, nil, 0, &rec); err != nil || len(rec.Values) != 2 {
		t.Errorf("GetStreams empty: %v %v", err, rec.Values)
	}
	if err := d.Response(10, nil, 0, &rec); err == nil {
		t.Error("empty Stats decoded")
	}
}
