package protocol

import (
	"strconv"
	"strings"
)

// A layout is compiled, per version and direction, into a plan: a flat list
// of ops with version gates already applied, list counts resolved to
// registers, and custom decoders told which version behaviour to use. The
// interpreter (interp.go) then runs a plan without ever asking which version
// it is decoding.

type opcode uint8

const (
	opU8 opcode = iota + 1
	opU16
	opU32
	opU64
	opF32
	opBool
	opTime
	opDuration
	opExpiry
	opExpiryAt
	opTopicSize
	opEnum8
	opStr8
	opStr32
	opBytes32
	opSecret8
	opIdentifier
	opConsumer
	opOptPartFlag // 0.6+: [has u8][u32]
	opOptPartBare // 0.5: [u32], 0 = none
	opStrategy
	opPartitioning
	opRest
	opObject
	opOptional
	opList
	opRestList
	opCustom
)

// typeOps maps the version-independent types to their op.
var typeOps = [...]opcode{
	TypeU8: opU8, TypeU16: opU16, TypeU32: opU32, TypeU64: opU64, TypeF32: opF32, TypeBool: opBool,
	TypeTime: opTime, TypeDuration: opDuration, TypeExpiry: opExpiry, TypeExpiryAt: opExpiryAt,
	TypeTopicSize: opTopicSize, TypeEnum8: opEnum8, TypeStr8: opStr8, TypeStr32: opStr32,
	TypeBytes32: opBytes32, TypeSecret8: opSecret8, TypeIdentifier: opIdentifier,
	TypeConsumer: opConsumer, TypeStrategy: opStrategy, TypePartitioning: opPartitioning,
	TypeRest: opRest, TypeObject: opObject, TypeOptional: opOptional, TypeList: opList,
	TypeRestList: opRestList, TypeCustom: opCustom,
}

// maxRegs bounds the registers a plan may use for list counts.
const maxRegs = 8

type op struct {
	code   opcode
	store  int8 // register the value is stored in, -1 for none
	count  int8 // register holding the element count or byte length, -1 for none
	tail   bool
	role   Role
	feat   uint8 // version behaviour of a custom decoder (custom.key)
	name   string
	elem   string
	enum   *Enum
	sub    []op
	custom *custom
}

// custom is a hand-written decoder for what a layout cannot say.
type custom struct {
	name string
	doc  string
	// key returns the version-dependent behaviour for v as a small number;
	// versions with equal keys share a plan. Nil: no version dependence.
	key    func(v Version) uint8
	decode func(s *state, o *op) error
}

// plan is a compiled layout. Versions that compile to the same ops share one
// plan; versions lists them.
type plan struct {
	ops      []op
	versions versionSet
	sig      string
}

// dirPlans holds the plans of one direction of one command.
type dirPlans struct {
	byVersion [V08 + 1]*plan // index by Version; shared pointers when equal
	variants  []*plan        // distinct plans, newest first
}

// choose returns the plan for the versions in set and whether the versions
// disagree (then detection must try the variants).
func (dp *dirPlans) choose(set versionSet) (p *plan, ambiguous bool) {
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		if !set.has(v) {
			continue
		}
		if p == nil {
			p = dp.byVersion[v]
		} else if dp.byVersion[v] != p {
			return p, true
		}
	}
	if p == nil {
		p = dp.byVersion[V08]
	}
	return p, false
}

func compileDir(l Layout) dirPlans {
	var dp dirPlans
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		p := compileLayout(l, v)
		for _, q := range dp.variants {
			if q.sig == p.sig {
				p = q
				break
			}
		}
		if p.versions == 0 {
			dp.variants = append(dp.variants, p)
		}
		p.versions |= 1 << v
		dp.byVersion[v] = p
	}
	dp.byVersion[VersionUnknown] = dp.byVersion[V08]
	return dp
}

type compiler struct {
	v     Version
	refs  map[string]bool // names used as Count somewhere in the layout
	nregs int
}

// scope binds field names to the registers they were stored in; lists look
// up their count through the enclosing scopes.
type scope struct {
	names  map[string]int8
	parent *scope
}

func (s *scope) lookup(name string) (int8, bool) {
	for ; s != nil; s = s.parent {
		if r, ok := s.names[name]; ok {
			return r, true
		}
	}
	return -1, false
}

func compileLayout(l Layout, v Version) *plan {
	c := &compiler{v: v, refs: map[string]bool{}}
	collectRefs(l, c.refs)
	ops := c.fields(l, &scope{names: map[string]int8{}})
	var sb strings.Builder
	writeSig(&sb, ops)
	return &plan{ops: ops, sig: sb.String()}
}

func collectRefs(fs []Field, refs map[string]bool) {
	for i := range fs {
		if fs[i].Count != "" {
			refs[fs[i].Count] = true
		}
		collectRefs(fs[i].Fields, refs)
	}
}

func (c *compiler) fields(fs []Field, sc *scope) []op {
	var ops []op
	for i := range fs {
		f := &fs[i]
		if !f.in(c.v) {
			continue
		}
		o := op{code: typeOps[f.Type], store: -1, count: -1, tail: f.Tail, role: f.Role,
			name: f.Name, elem: f.Elem, enum: f.Enum, custom: f.custom}
		switch f.Type {
		case TypeOptPartition:
			o.code = opOptPartFlag
			if c.v < V06 {
				o.code = opOptPartBare
			}
		case TypeCustom:
			if f.custom.key != nil {
				o.feat = f.custom.key(c.v)
			}
		}
		if o.code == 0 {
			panic("protocol: field " + f.Name + " has no wire type")
		}
		if f.Count != "" {
			r, ok := sc.lookup(f.Count)
			if !ok {
				panic("protocol: field " + f.Name + " counts by unknown field " + f.Count)
			}
			o.count = r
		}
		if len(f.Fields) > 0 {
			// Objects and optional blocks share their parent's names (a
			// count may be read inside the block that stored it); list
			// elements get their own, as each element rebinds them.
			inner := sc
			if f.Type == TypeList || f.Type == TypeRestList {
				inner = &scope{names: map[string]int8{}, parent: sc}
			}
			o.sub = c.fields(f.Fields, inner)
		}
		if c.refs[f.Name] && isNumeric(o.code) {
			if c.nregs == maxRegs {
				panic("protocol: too many count fields")
			}
			o.store = int8(c.nregs)
			c.nregs++
			sc.names[f.Name] = o.store
		}
		ops = append(ops, o)
	}
	return ops
}

func isNumeric(c opcode) bool {
	switch c {
	case opU8, opU16, opU32, opU64:
		return true
	}
	return false
}

// writeSig renders ops so that equal signatures mean equal decoding.
func writeSig(sb *strings.Builder, ops []op) {
	for i := range ops {
		o := &ops[i]
		sb.WriteString(strconv.Itoa(int(o.code)))
		sb.WriteByte(':')
		sb.WriteString(o.name)
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(int(o.feat)))
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(int(o.store)))
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(int(o.count)))
		if o.tail {
			sb.WriteByte('t')
		}
		if o.custom != nil {
			sb.WriteString(o.custom.name)
		}
		if len(o.sub) > 0 {
			sb.WriteByte('[')
			writeSig(sb, o.sub)
			sb.WriteByte(']')
		}
		sb.WriteByte(';')
	}
}
