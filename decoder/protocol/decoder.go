package protocol

// Decoder decodes the payloads of one connection. It keeps what it has
// learnt about the connection's protocol version and its scratch space, so
// use one per connection, from one goroutine.
type Decoder struct {
	opts Options
	// set holds the versions the connection may still speak. Fixed by
	// Options.Version, or narrowed by detection until one is left.
	set     versionSet
	st      state
	scratch Record
	// assumed records whether the last decode had to pick between layouts
	// that differ by version, with nothing in the bytes to choose by.
	assumed bool
}

// NewDecoder returns a Decoder for one connection.
func NewDecoder(o Options) *Decoder {
	d := &Decoder{opts: o, set: allVersions}
	d.opts.Messages = o.Messages || o.Payloads
	if o.Version > V08 {
		d.opts.Version = VersionUnknown
	}
	if d.opts.Version != VersionUnknown {
		d.set = 1 << d.opts.Version
	}
	return d
}

// Version returns the version the Decoder decodes with and whether it was
// detected from the connection's bytes. With Options.Version set it returns
// that version and false; while detection has not narrowed the candidates
// to one, it returns the newest candidate and false.
//
// 0.7 and 0.8 differ only in the Stats response, so a connection that never
// asks for Stats stays "0.8, assumed" even once everything else is known.
func (d *Decoder) Version() (v Version, detected bool) {
	if d.opts.Version != VersionUnknown {
		return d.opts.Version, false
	}
	if v, ok := d.set.single(); ok {
		return v, true
	}
	return d.set.newest(), false
}

// Request decodes a request payload of command code into rec (which it
// resets first). wire is the payload's length on the wire: when it exceeds
// len(payload), payload is only a captured prefix, decoding stops without
// an error where it ends, and a field that runs to the end of the payload
// still reports its length on the wire. On an error, rec holds what decoded
// before it, well bracketed.
func (d *Decoder) Request(code Code, payload []byte, wire int, rec *Record) error {
	return d.decode(code, dirRequest, payload, wire, rec)
}

// Response decodes an OK response payload of command code; see Request. An
// empty payload of a command with EmptyIsNotFound decodes to no Values.
func (d *Decoder) Response(code Code, payload []byte, wire int, rec *Record) error {
	return d.decode(code, dirResponse, payload, wire, rec)
}

// ValidRequest tells whether payload is a complete, well-formed request of
// code: it decodes strictly under a version the connection may speak and is
// consumed exactly. The framer uses it to resynchronise a stream. It changes
// nothing the Decoder has learnt.
func (d *Decoder) ValidRequest(code Code, payload []byte) bool {
	cmd, ok := Lookup(code)
	if !ok {
		return false
	}
	for _, p := range cmd.plans[dirRequest].variants {
		if p.versions&d.set != 0 && d.run(p, payload, len(payload), true, &d.scratch) == nil {
			return true
		}
	}
	return false
}

// Assumed reports whether the last Request or Response decoded a layout that
// differs between the versions the connection may still speak, so that its
// fields rest on an assumed version. Commands whose layout is the same in
// every version never set it.
func (d *Decoder) Assumed() bool { return d.assumed }

func (d *Decoder) decode(code Code, dir int, payload []byte, wire int, rec *Record) error {
	rec.Reset()
	wire = max(wire, len(payload))
	d.assumed = false
	cmd, ok := Lookup(code)
	if !ok {
		return UnknownCommandError{Code: code}
	}
	if len(payload) == 0 && dir == dirResponse && cmd.EmptyIsNotFound {
		return nil
	}
	dp := &cmd.plans[dir]
	p, ambiguous := dp.choose(d.set)
	var err error
	if ambiguous {
		err = d.detect(dp, payload, wire, rec)
	} else {
		err = d.run(p, payload, wire, false, rec)
	}
	if h := d.st.hint; h != VersionUnknown && d.opts.Version == VersionUnknown && d.set.has(h) {
		d.set = 1 << h
	}
	if ambiguous {
		_, d.assumed = dp.choose(d.set)
	}
	return err
}

// detect decodes a payload whose layout differs between the versions still
// possible (§10, §14): it tries each distinct plan, narrows the candidates
// to the versions whose plans decode it (cleanly, if any plan does), and
// decodes with the newest of those. A payload no plan decodes teaches
// nothing; it is decoded with the newest candidate to report the error.
func (d *Decoder) detect(dp *dirPlans, payload []byte, wire int, rec *Record) error {
	var clean, soft versionSet
	for _, p := range dp.variants {
		if p.versions&d.set == 0 {
			continue
		}
		if d.run(p, payload, wire, false, &d.scratch) != nil {
			continue
		}
		if d.st.soft > 0 {
			soft |= p.versions
		} else {
			clean |= p.versions
		}
	}
	good := clean
	if good == 0 {
		good = soft
	}
	if good &= d.set; good != 0 {
		d.set = good
	}
	return d.run(dp.byVersion[d.set.newest()], payload, wire, false, rec)
}

func (d *Decoder) run(p *plan, payload []byte, wire int, strict bool, rec *Record) error {
	rec.Reset()
	d.st = state{b: payload, wire: wire, rec: rec, partial: wire > len(payload), strict: strict, payloads: d.opts.Payloads, messages: d.opts.Messages}
	return d.st.decode(p)
}
