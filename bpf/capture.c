//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Passive capture of Iggy TCP traffic at the packet level.
 *
 * Two cgroup_skb programs see every packet of the sockets in a cgroup, from
 * the IP header on. They keep the server side of connections whose server
 * port is configured: packets the server receives (ingress, destination port
 * = server port: requests) and packets it sends (egress, source port = server
 * port: responses). At the cgroup v2 root each loopback byte passes the hooks
 * twice, once per socket; the client's copies have the server port on the
 * other side and do not match, so every byte is kept once.
 *
 * Each kept packet becomes one or more records in the ring buffer `events`:
 * a fixed struct rec_hdr followed by cap_len payload bytes. A record covers
 * wire_len bytes of the stream starting at TCP sequence number seq; the first
 * cap_len of them follow the header, the rest are skipped (accounted, not
 * lost). The records of one packet cover its payload contiguously.
 *
 * Mode MODE_FULL copies every payload byte, in chunks. MODE_HEADERS (the
 * default) copies, for every Iggy frame, its 8-byte header plus a metadata
 * budget, and skips the rest; it follows the frame boundaries per connection
 * and direction in the LRU map `flows`. A packet that is one frame no larger
 * than the budget is copied whole without reading that state.
 *
 * A tp_btf program on inet_sock_set_state adds connection open and close
 * records (struct state_rec) to the same ring. The first byte of every
 * record says which struct it is.
 *
 * Nothing is dropped silently: the per-CPU `stats_map` counters account for
 * every record the ring had no room for, with the payload bytes it covered.
 */
#include "vmlinux.h"
#include "wire.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_PORTS 8
#define MAX_CHUNK 16384	 /* most payload bytes in one record */
#define MAX_BUDGET 4096	 /* most metadata bytes kept per frame */
#define MAX_CHUNKS 64	 /* most records per packet in full mode */
#define MAX_FRAMES 256	 /* most frame starts followed in one packet */
#define NEST_SLOTS 2	 /* scratch buffers per CPU, see emit() */
#define FRAME_HDR 8	 /* classic Iggy frame header */
#define MAX_FRAME_LIMIT (1U << 30) /* keeps sequence arithmetic well inside 2^31 */

#define IPV6_HOPOPTS 0
#define IPV6_ROUTING 43
#define IPV6_FRAGMENT 44
#define IPV6_DSTOPTS 60
#define MAX_EXTHDRS 4 /* IPv6 extension headers followed */
#define AF_INET 2
#define AF_INET6 10

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04

enum rec_type {
	REC_SEGMENT = 1,
	REC_STATE = 2,
};

enum direction {
	DIR_TO_SERVER = 0,
	DIR_TO_CLIENT = 1,
};

enum capture_mode {
	MODE_HEADERS = 0,
	MODE_FULL = 1,
};

/* rec_hdr.rflags */
enum rec_flags {
	RF_FIRST = 0x01,   /* first record of its packet */
	RF_LAST = 0x02,	   /* last record of its packet */
	RF_DESYNC = 0x04,  /* frame tracking lost: the start of the packet was copied */
	RF_RETRANS = 0x08, /* bytes before the tracked point: retransmission or reordering */
	RF_TRUNC = 0x10,   /* the packet needed more records than one run writes: rest skipped */
	RF_RESYNC = 0x20,  /* frame tracking resumed at the start of this packet */
};

/* Written by the loader; one entry. */
struct config {
	__u16 ports[MAX_PORTS]; /* server ports, 0 = unused slot */
	enum capture_mode mode;
	__u32 meta_budget;	/* bytes after the 8-byte frame header kept per frame */
	__u32 chunk;		/* full mode: payload bytes per record, 0 = MAX_CHUNK */
	__u32 max_frame;	/* largest plausible frame (header included) */
	__u32 wakeup_shift;	/* wake the reader every 2^wakeup_shift bytes, see ring_flags() */
};

/*
 * Record header, little endian, 72 bytes. state_rec shares the layout of
 * type, family, cpu, cpu_seq, ktime_ns, the ports and the addresses.
 */
struct rec_hdr {
	__u8 type;	/* REC_SEGMENT */
	__u8 family;	/* 4 or 6 */
	__u8 dir;	/* enum direction */
	__u8 tcp_flags; /* FIN only on the last record of a packet, SYN only on a wire_len 0 record */
	__u8 rflags;	/* enum rec_flags */
	__u8 _pad0;
	__u16 cpu;	/* CPU that wrote the record */
	__u32 cpu_seq;	/* per-CPU record counter: a gap is a record the ring dropped */
	__u32 seq;	/* TCP sequence number of the first byte covered */
	__u64 ktime_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 wire_len; /* stream bytes covered, from seq */
	__u32 cap_len;	/* bytes following this header: a prefix of the wire_len bytes */
	__u16 sport;	/* host order */
	__u16 dport;
	__u32 pkt_len;	/* payload bytes of the whole packet */
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

/* Connection open (newstate ESTABLISHED) or close (newstate CLOSE). */
struct state_rec {
	__u8 type; /* REC_STATE */
	__u8 family;
	__u8 oldstate;
	__u8 newstate;
	__u16 _pad0;
	__u16 cpu;
	__u32 cpu_seq;
	__u32 rcv_nxt; /* next sequence number expected from the client */
	__u64 ktime_ns;
	__u32 snd_una; /* oldest server sequence number not yet acknowledged */
	__u32 snd_nxt; /* next server sequence number to send */
	__u16 sport;   /* server (local) port */
	__u16 dport;   /* client (remote) port */
	__u32 _pad1;
	__u8 saddr[16]; /* server (local) address; IPv4 in the first 4 bytes */
	__u8 daddr[16]; /* client (remote) address */
};

/* Per-CPU counters; the loader sums them. */
struct stats {
	__u64 pkts_seen;      /* packets the cgroup programs ran on */
	__u64 pkts_matched;   /* server-side TCP packets of a configured port */
	__u64 pkts_unparsed;  /* packets that may carry TCP but were not parsed: fragments, long IPv6 extension header chains */
	__u64 records;	      /* segment records written */
	__u64 bytes_wire;     /* payload bytes covered by segment records, written or dropped */
	__u64 bytes_captured; /* payload bytes copied into written records */
	__u64 bytes_skipped;  /* payload bytes of written records not copied */
	__u64 drop_records;   /* segment records the ring had no room for */
	__u64 drop_bytes;     /* payload bytes those records covered */
	__u64 drop_nested;    /* of drop_records: programs nested deeper than NEST_SLOTS */
	__u64 sync_lost;      /* frame tracker lost the frame boundaries */
	__u64 sync_found;     /* frame tracker resumed at a packet start */
	__u64 midstream;      /* flows first seen without their SYN (by a packet that reads the flow state) */
	__u64 retrans;	      /* packets starting before the tracked point (of those that read the flow state) */
	__u64 truncated;      /* packets that needed more records than one run writes */
	__u64 state_records;  /* state records written */
	__u64 state_drops;    /* state records the ring had no room for */
	__u64 rec_attempts;   /* source of cpu_seq */
};

struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 dir;
	__u16 _pad;
};

/*
 * Frame tracker state of one direction of one connection. Invariants while
 * synced: if hdr_have < 8, next_seq == fstart + hdr_have and hdr holds the
 * header bytes seen so far; otherwise fstart <= next_seq < fend.
 */
struct flow {
	__u32 next_seq; /* sequence number after the last payload byte seen */
	__u32 fstart;	/* where the current frame starts */
	__u32 fend;	/* where it ends (valid once hdr_have == 8) */
	__u8 hdr_have;	/* header bytes of the current frame seen */
	__u8 synced;	/* 0: boundaries unknown, copying packet starts */
	__u16 _pad;
	__u64 hdr; /* the header, byte i at bits 8i..8i+7 (little endian) */
};

struct scratch {
	struct rec_hdr h;
	__u8 data[MAX_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24); /* the loader sets the size */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} stats_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow);
} flows SEC(".maps");

/* Server sockets announced as open, so that their close can be reported even
 * when the local port has already been released (it reads 0 by then). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie */
	__type(value, struct state_rec);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NEST_SLOTS);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_bufs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} nest_depth SEC(".maps");

/* One packet being processed, on the program's stack. */
struct pkt {
	struct __sk_buff *skb;
	__u32 payload_off; /* offset of the first payload byte in the skb */
	__u32 seq;	   /* sequence number of the first payload byte */
	__u32 plen;	   /* payload bytes */
	__u8 tcp_flags;
	__u32 wakeup_shift;
	struct rec_hdr h; /* template for this packet's records */
};

/* Working state of one program run; bpf_loop callbacks get a pointer to it. */
struct run {
	struct pkt p;
	struct flow st;	    /* copy of the tracker state */
	__u32 end;	    /* sequence number after the packet's payload */
	__u32 pos;	    /* next byte to look at */
	__u32 rec_start;    /* the pending record starts here ... */
	__u32 cap_end;	    /* ... and its copied prefix ends here */
	__u32 budget;	    /* bytes kept per frame: header + metadata budget */
	__u32 max_frame;
	__u32 chunk;	    /* full mode */
	__u32 rflags;	    /* flags of the pending record */
	__u32 lost;	    /* the tracker lost sync in this packet */
};

static __always_inline bool seq_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

static __always_inline __u32 min_u32(__u32 a, __u32 b)
{
	return a < b ? a : b;
}

static __always_inline struct stats *stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats_map, &zero);
}

/*
 * Reader wake-ups. By default a ring buffer wakes a waiting reader for every
 * record that finds it caught up; that is an irq_work, which on a VM costs a
 * self-IPI and an exit (about 4.5 us, 80 % of a small packet's run time on
 * the development VM). Records are written without wake-up instead and the
 * reader polls every few milliseconds. Each time the data waiting in the
 * ring crosses a multiple of 2^wakeup_shift bytes (an eighth of the ring),
 * the writer wakes the reader: once per crossing, not per record, so a
 * reader that falls behind does not make every record pay for an IPI, and a
 * crossing two CPUs miss together is caught at the next multiple.
 */
static __always_inline __u64 ring_flags(__u32 wakeup_shift, __u32 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	if (((avail + size) >> wakeup_shift) != (avail >> wakeup_shift))
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Atomic: a softirq can interrupt a program run on the same CPU. */
#define STAT_ADD(s, field, v) __sync_fetch_and_add(&(s)->field, (v))

/* Fill a record header from the packet's template. */
static __always_inline void fill_hdr(struct rec_hdr *h, struct pkt *p, struct stats *s,
				     __u32 seq, __u32 wire, __u32 flags)
{
	*h = p->h;
	h->seq = seq;
	h->wire_len = wire;
	h->rflags = flags & 0xff;
	h->tcp_flags = flags >> 8;
	h->cpu_seq = STAT_ADD(s, rec_attempts, 1);
}

static __always_inline void account(struct stats *s, long err, __u32 wire, __u32 cap)
{
	STAT_ADD(s, bytes_wire, wire);
	if (err) {
		STAT_ADD(s, drop_records, 1);
		STAT_ADD(s, drop_bytes, wire);
	} else {
		STAT_ADD(s, records, 1);
		STAT_ADD(s, bytes_captured, cap);
		STAT_ADD(s, bytes_skipped, wire - cap);
	}
}

/*
 * Write one segment record: the bytes [seq, seq+wire) of the packet, of
 * which the first cap are copied. flags = rec_flags | tcp flags << 8.
 *
 * Two ways to write, measured on 1 MiB transfers (full mode):
 * - a whole MAX_CHUNK chunk is loaded straight into a fixed-size ring
 *   reservation: one copy of the payload;
 * - anything else (headers, budgets, the tail of a packet) is assembled in a
 *   per-CPU scratch buffer and written with bpf_ringbuf_output, whose size
 *   may vary at run time (bpf_ringbuf_reserve needs a constant size), so
 *   that the ring holds no padding. This copies the payload twice.
 * Reserving a fixed MAX_CHUNK record for everything would waste most of the
 * ring on small packets; copying everything through the scratch buffer cost
 * 13 % more kernel time per MiB than this split.
 *
 * A program in process context (egress) can be interrupted by a softirq
 * that runs the ingress program on the same CPU, so each nesting level gets
 * its own scratch buffer; the nested run finishes before the interrupted one
 * resumes, which makes the plain counter in `nest_depth` safe.
 */
static __noinline int emit(struct pkt *p, __u32 seq, __u32 wire, __u32 cap, __u32 flags)
{
	struct stats *s = stats_get();
	__u32 off = p->payload_off + (seq - p->seq);
	struct scratch *b;
	__u32 zero = 0, level;
	__u32 *depth;
	long err;

	if (!s)
		return 0;

	if (cap == MAX_CHUNK) {
		b = bpf_ringbuf_reserve(&events, sizeof(*b), 0);
		if (!b) {
			STAT_ADD(s, rec_attempts, 1); /* leave the gap in cpu_seq */
			account(s, -1, wire, 0);
			return 0;
		}
		fill_hdr(&b->h, p, s, seq, wire, flags);
		if (bpf_skb_load_bytes(p->skb, off, b->data, MAX_CHUNK) < 0)
			cap = 0; /* cannot happen for bytes inside the packet */
		b->h.cap_len = cap;
		bpf_ringbuf_submit(b, ring_flags(p->wakeup_shift, sizeof(*b)));
		account(s, 0, wire, cap);
		return 0;
	}

	depth = bpf_map_lookup_elem(&nest_depth, &zero);
	if (!depth)
		return 0;
	level = *depth;
	if (level >= NEST_SLOTS) {
		STAT_ADD(s, rec_attempts, 1);
		STAT_ADD(s, drop_nested, 1);
		account(s, -1, wire, 0);
		return 0;
	}
	*depth = level + 1;

	b = bpf_map_lookup_elem(&scratch_bufs, &level);
	if (!b)
		goto out;
	fill_hdr(&b->h, p, s, seq, wire, flags);
	/* Callers never ask for more; the check is for the verifier. */
	if (cap > MAX_CHUNK)
		cap = MAX_CHUNK;
	if (cap > 0 && bpf_skb_load_bytes(p->skb, off, b->data, cap) < 0)
		cap = 0; /* cannot happen for bytes inside the packet */
	b->h.cap_len = cap;
	err = bpf_ringbuf_output(&events, b, sizeof(b->h) + cap,
				 ring_flags(p->wakeup_shift, sizeof(b->h) + cap));
	account(s, err, wire, cap);
out:
	*depth = level;
	return 0;
}

static __always_inline bool port_watched(struct config *cfg, __u16 port)
{
#pragma unroll
	for (int i = 0; i < MAX_PORTS; i++) {
		if (cfg->ports[i] != 0 && cfg->ports[i] == port)
			return true;
	}
	return false;
}

/*
 * Parse the IP and TCP headers (the skb starts at the IP header in
 * cgroup_skb programs); false for anything that is not TCP.
 * bpf_skb_load_bytes also reads headers outside the linear part of the skb.
 */
static __always_inline bool parse(struct __sk_buff *skb, struct pkt *p, struct stats *s)
{
	/* Every TCP packet has at least 40 bytes: one load gets an IPv6
	 * header, or an IPv4 header and (without IP options) the TCP header. */
	union {
		struct {
			struct ipv4h ip;
			struct tcph th;
		} v4;
		struct ipv6h v6;
	} h;
	struct tcph th;
	__u32 l4off;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	/* The stack builds the headers in the skb's linear part: read them in
	 * place, which costs a fraction of a helper call. */
	if (data + sizeof(h) <= data_end)
		__builtin_memcpy(&h, data, sizeof(h));
	else if (bpf_skb_load_bytes(skb, 0, &h, sizeof(h)) < 0)
		return false;
	if ((h.v4.ip.ver_ihl >> 4) == 4) {
		if (h.v4.ip.protocol != IPPROTO_TCP)
			return false;
		if (h.v4.ip.frag_off & bpf_htons(0x3fff)) {
			/* TCP does not fragment (DF); a fragment cannot be attributed to a port. */
			STAT_ADD(s, pkts_unparsed, 1);
			return false;
		}
		l4off = (h.v4.ip.ver_ihl & 0xf) * 4;
		if (l4off < sizeof(struct ipv4h))
			return false;
		p->h.family = 4;
		__builtin_memcpy(p->h.saddr, h.v4.ip.saddr, 4);
		__builtin_memcpy(p->h.daddr, h.v4.ip.daddr, 4);
		if (l4off == sizeof(struct ipv4h))
			th = h.v4.th;
		else if (bpf_skb_load_bytes(skb, l4off, &th, sizeof(th)) < 0)
			return false;
	} else if ((h.v4.ip.ver_ihl >> 4) == 6) {
		__u8 nh = h.v6.nexthdr;

		l4off = sizeof(struct ipv6h);
		/* Skip extension headers: BIG TCP GSO packets (> 64 KiB) carry a
		 * hop-by-hop jumbo option until they are segmented. */
#pragma unroll
		for (int i = 0; i < MAX_EXTHDRS; i++) {
			struct {
				__u8 nexthdr;
				__u8 len; /* in 8-byte units, not counting the first 8 */
			} ext;

			if (nh != IPV6_HOPOPTS && nh != IPV6_ROUTING && nh != IPV6_DSTOPTS)
				break;
			if (bpf_skb_load_bytes(skb, l4off, &ext, sizeof(ext)) < 0)
				return false;
			nh = ext.nexthdr;
			l4off += (ext.len + 1) * 8;
		}
		if (nh != IPPROTO_TCP) {
			/* A fragment, or more extension headers than we follow,
			 * may hide a TCP header: count them. */
			if (nh == IPV6_FRAGMENT || nh == IPV6_HOPOPTS || nh == IPV6_ROUTING || nh == IPV6_DSTOPTS)
				STAT_ADD(s, pkts_unparsed, 1);
			return false;
		}
		p->h.family = 6;
		__builtin_memcpy(p->h.saddr, h.v6.saddr, 16);
		__builtin_memcpy(p->h.daddr, h.v6.daddr, 16);
		if (l4off == sizeof(struct ipv6h) && data + sizeof(struct ipv6h) + sizeof(th) <= data_end)
			__builtin_memcpy(&th, data + sizeof(struct ipv6h), sizeof(th));
		else if (bpf_skb_load_bytes(skb, l4off, &th, sizeof(th)) < 0)
			return false;
	} else {
		return false;
	}

	l4off += (th.doff_res >> 4) * 4;
	/* skb->len, not the IP length field: GSO packets may carry 0 there (BIG TCP). */
	if ((th.doff_res >> 4) < 5 || skb->len < l4off)
		return false;
	p->skb = skb;
	p->payload_off = l4off;
	p->plen = skb->len - l4off;
	p->tcp_flags = th.flags;
	p->seq = bpf_ntohl(th.seq);
	if (th.flags & TH_SYN)
		p->seq++; /* the SYN occupies one sequence number */
	p->h.sport = bpf_ntohs(th.sport);
	p->h.dport = bpf_ntohs(th.dport);
	p->h.pkt_len = p->plen;
	return true;
}

/* Control record for a SYN: no payload, at the SYN's own sequence number. */
static __always_inline void emit_syn(struct pkt *p)
{
	emit(p, p->seq - 1, 0, 0, RF_FIRST | (TH_SYN << 8));
}

/* TCP flags for the last record of a packet. */
static __always_inline __u32 last_flags(struct pkt *p)
{
	return RF_LAST | ((__u32)(p->tcp_flags & (TH_FIN | TH_RST)) << 8);
}

/* ---- full mode ---------------------------------------------------------- */

static long full_step(__u32 i, struct run *r)
{
	__u32 off = r->pos - r->p.seq;
	__u32 n = min_u32(r->end - r->pos, r->chunk);
	__u32 flags = off == 0 ? RF_FIRST : 0;

	if (r->pos + n == r->end)
		flags |= last_flags(&r->p);
	emit(&r->p, r->pos, n, n, flags);
	r->pos += n;
	return r->pos == r->end; /* 1 stops bpf_loop */
}

static __noinline int capture_full(struct run *r, struct config *cfg)
{
	r->chunk = cfg->chunk;
	if (r->chunk == 0 || r->chunk > MAX_CHUNK)
		r->chunk = MAX_CHUNK;
	if (r->chunk < 64)
		r->chunk = 64;
	r->pos = r->p.seq;
	r->end = r->p.seq + r->p.plen;

	if (r->p.tcp_flags & TH_SYN)
		emit_syn(&r->p);
	if (r->p.plen == 0) {
		if (r->p.tcp_flags & (TH_FIN | TH_RST))
			emit(&r->p, r->pos, 0, 0, RF_FIRST | last_flags(&r->p));
		return 0;
	}
	/* bpf_loop bounds the loop for the verifier, which checks full_step once. */
	bpf_loop(MAX_CHUNKS, full_step, r, 0);
	if (r->pos != r->end) {
		/* More than MAX_CHUNKS records (BIG TCP with a small chunk): skip the rest, counted. */
		struct stats *s = stats_get();

		if (s)
			STAT_ADD(s, truncated, 1);
		emit(&r->p, r->pos, r->end - r->pos, 0, RF_TRUNC | last_flags(&r->p));
	}
	return 0;
}

/* ---- header-only mode --------------------------------------------------- */

/*
 * Classic framing (iggy-wire.md §2.1), little endian:
 *   request  [length u32][code u32][length-4 bytes]   frame = 4 + length
 *   response [status u32][length u32][length bytes]    frame = 8 + length
 * a and b are the two header words. Returns the frame size, 0 if impossible.
 * strict adds the checks used to find a frame start after losing sync.
 */
static __always_inline __u32 frame_size(__u32 dir, __u32 a, __u32 b, __u32 max_frame, bool strict)
{
	if (dir == DIR_TO_SERVER) {
		if (a < 4 || a > max_frame - 4)
			return 0;
		if (strict && (b == 0 || b > 1023)) /* command codes are 1..606 */
			return 0;
		return a + 4;
	}
	if (b > max_frame - FRAME_HDR)
		return 0;
	if (strict && a != 0 && (b != 0 || a > 65535)) /* errors never carry a payload */
		return 0;
	return b + FRAME_HDR;
}

/* Close the pending record at sequence number at and start a new one there. */
static __always_inline void flush(struct run *r, __u32 at)
{
	__u32 wire = at - r->rec_start;

	if (wire > 0)
		emit(&r->p, r->rec_start, wire, r->cap_end - r->rec_start, r->rflags);
	r->rflags = 0;
	r->rec_start = at;
	r->cap_end = at;
}

/*
 * One frame of the packet per call: complete the frame's header (it may have
 * begun in the previous packet), add the bytes to keep, [fstart, fstart +
 * budget) cut at the frame's end, to the pending record, and move on to the
 * next frame if it starts inside this packet. Kept ranges that touch are
 * merged into one record.
 */
static long frame_step(__u32 i, struct run *r)
{
	struct flow *st = &r->st;
	__u32 want_end, ws, fend = st->fend;
	bool partial = false;

	if (r->pos == r->end)
		return 1;
	if (st->hdr_have < FRAME_HDR) {
		__u32 need = FRAME_HDR - st->hdr_have;
		__u32 avail = r->end - r->pos;
		__u64 tmp = 0;
		__u32 size;

		if (need > avail)
			need = avail;
		if (need == 0 || need > FRAME_HDR) /* for the verifier */
			return 1;
		if (bpf_skb_load_bytes(r->p.skb, r->p.payload_off + (r->pos - r->p.seq), &tmp, need) < 0)
			return 1;
		st->hdr |= tmp << ((st->hdr_have & 7) * 8);
		st->hdr_have += need;
		r->pos += need;
		if (st->hdr_have < FRAME_HDR) {
			/* The packet ends inside the header: keep its bytes and
			 * carry them in the flow state to the next packet. */
			partial = true;
			fend = r->end;
		} else {
			size = frame_size(r->p.h.dir, (__u32)st->hdr, (__u32)(st->hdr >> 32),
					  r->max_frame, false);
			if (size == 0) {
				/* Impossible length: this is not a frame start. Keep
				 * the "header" and its budget for the decoder to
				 * diagnose, skip the rest of the packet, and look for
				 * a frame start in the next packets. */
				r->lost = 1;
				st->synced = 0;
				fend = r->end;
			} else {
				fend = st->fstart + size;
				st->fend = fend;
			}
		}
	}

	want_end = st->fstart + r->budget;
	if (seq_before(fend, want_end))
		want_end = fend;
	if (seq_before(r->end, want_end))
		want_end = r->end;
	ws = st->fstart;
	if (seq_before(ws, r->p.seq))
		ws = r->p.seq; /* the frame began in an earlier packet */
	if (seq_before(ws, want_end)) {
		if (ws != r->cap_end || want_end - r->rec_start > MAX_CHUNK)
			flush(r, ws);
		r->cap_end = want_end;
	}

	if (partial || r->lost || seq_before(r->end, fend)) {
		r->pos = r->end; /* the frame goes on in a later packet */
		return 1;
	}
	/* The next frame starts inside this packet or right after it. */
	st->fstart = fend;
	st->hdr = 0;
	st->hdr_have = 0;
	r->pos = fend;
	return r->pos == r->end;
}

/*
 * The size of the frame whose header starts the packet, by the strict
 * checks; 0 if the packet does not start with a plausible frame header.
 * TCP puts the payload of locally sent packets in page fragments, outside
 * the linear part of the skb, so the header is read with the helper.
 */
static __always_inline __u32 packet_frame_size(struct run *r)
{
	__u32 w[2];

	if (r->p.plen < FRAME_HDR)
		return 0;
	if (bpf_skb_load_bytes(r->p.skb, r->p.payload_off, w, sizeof(w)) < 0)
		return 0;
	return frame_size(r->p.h.dir, w[0], w[1], r->max_frame, true);
}

/*
 * If the packet is one frame that fits the budget, by the header at its
 * start, and carries no SYN, FIN or RST: write it whole, as the frame walk
 * would, and return true. Not inlined, with the whole test inside: the
 * verifier then walks the rest of capture_headers once, not once per way
 * the test can fail (inlined, it walked twice the instructions).
 */
static __noinline bool keep_small_frame(struct run *r)
{
	__u32 size;

	if (r->p.plen > r->budget || (r->p.tcp_flags & (TH_SYN | TH_FIN | TH_RST)))
		return false;
	size = packet_frame_size(r);
	if (size == 0 || size != r->p.plen)
		return false;
	emit(&r->p, r->p.seq, size, size, RF_FIRST | RF_LAST);
	return true;
}

/* Does the packet start with a plausible frame header? */
static __always_inline bool frame_start_at_packet(struct run *r)
{
	return packet_frame_size(r) != 0;
}

/* Drop the tracker state of the other direction of k's connection. */
static __always_inline void forget_reverse(struct flow_key *k)
{
	struct flow_key rk = {};

	__builtin_memcpy(rk.saddr, k->daddr, 16);
	__builtin_memcpy(rk.daddr, k->saddr, 16);
	rk.sport = k->dport;
	rk.dport = k->sport;
	rk.family = k->family;
	rk.dir = !k->dir;
	bpf_map_delete_elem(&flows, &rk);
}

/*
 * Header-only mode for one packet. The flow state is read, updated on the
 * stack and written back. Two CPUs may process packets of one flow at the
 * same time (a sender that migrates between writes over loopback feeds two
 * CPUs' backlogs); the later write wins and the tracker may then see a gap
 * or an old packet and lose sync for a while. That costs frame headers, never
 * positions: every record still says exactly which bytes it covers.
 */
static __noinline int capture_headers(struct run *r, struct config *cfg)
{
	struct pkt *p = &r->p;
	struct stats *s = stats_get();
	struct flow_key k = {};
	struct flow *fp;
	__u32 seq = p->seq;

	if (!s)
		return 0;
	r->budget = FRAME_HDR + min_u32(cfg->meta_budget, MAX_BUDGET);
	r->max_frame = cfg->max_frame;
	if (r->max_frame < 64 || r->max_frame > MAX_FRAME_LIMIT)
		r->max_frame = MAX_FRAME_LIMIT;
	r->end = seq + p->plen;

	/*
	 * A small packet that is one whole frame by its own header (a small
	 * command, most responses) is kept whole, as the frame walk would keep
	 * it, and the flow state is neither read nor written: that access is
	 * most of this program's cost on small packets (header-only cost 1.4x
	 * full mode on the small-command mix before). Such a packet ends a
	 * frame where the next begins, so the next packet that reads the state
	 * finds it at a frame boundary behind its own start and resumes at its
	 * start (see the d > 0 case below). A packet that continues a frame
	 * is not one frame by its first bytes, bar a coincidence (message
	 * bytes can be made to look like a header): such a packet is still
	 * copied whole, so user space, which frames the stream itself, loses
	 * nothing, and the tracker finds the current frame's end behind it
	 * or resynchronises as after any loss of sync. Packets larger than
	 * the budget always go through the tracker, for that reason.
	 */
	if (keep_small_frame(r))
		return 0;

	__builtin_memcpy(k.saddr, p->h.saddr, 16);
	__builtin_memcpy(k.daddr, p->h.daddr, 16);
	k.sport = p->h.sport;
	k.dport = p->h.dport;
	k.family = p->h.family;
	k.dir = p->h.dir;
	fp = bpf_map_lookup_elem(&flows, &k);

	if (p->tcp_flags & TH_SYN) {
		/* A new connection (or a reused 4-tuple): frames start right after the SYN. */
		emit_syn(p);
		r->st.synced = 1;
		r->st.next_seq = seq;
		r->st.fstart = seq;
	} else if (fp) {
		r->st = *fp;
	} else if (p->plen > 0) {
		/* First seen mid-connection: the frame boundaries are unknown. */
		STAT_ADD(s, midstream, 1);
		r->st.next_seq = seq;
	}

	if (p->plen == 0) {
		if (p->tcp_flags & (TH_FIN | TH_RST))
			emit(p, seq, 0, 0, RF_FIRST | last_flags(p));
		goto store;
	}

	r->rec_start = seq;
	r->cap_end = seq;
	r->rflags = RF_FIRST;
	if (r->st.synced) {
		__s32 d = (__s32)(seq - r->st.next_seq);

		if (d < 0) {
			STAT_ADD(s, retrans, 1);
			if (!seq_before(r->st.next_seq, r->end)) {
				/* Entirely before the tracked point: a retransmission, or a
				 * packet overtaken on another CPU. Copy its start like a
				 * lost-sync packet; the tracker state does not change. */
				emit(p, seq, p->plen, min_u32(p->plen, r->budget),
				     RF_FIRST | RF_RETRANS | last_flags(p));
				return 0;
			}
			/* Overlap: account the old part as skipped, track the new part. */
			emit(p, seq, r->st.next_seq - seq, 0, RF_FIRST | RF_RETRANS);
			r->rec_start = r->st.next_seq;
			r->cap_end = r->st.next_seq;
			r->rflags = 0;
		} else if (d > 0) {
			/* Bytes not seen here before this packet. Still in sync if
			 * they were all inside the current frame's body, or if the
			 * state is at a frame boundary and this packet starts with
			 * a frame (or is too short to tell): the bytes were small
			 * whole-frame packets kept without the state (above). */
			if (r->st.hdr_have == 0 && (p->plen < FRAME_HDR || frame_start_at_packet(r))) {
				r->st.fstart = seq;
				r->st.hdr = 0;
			} else if (r->st.hdr_have < FRAME_HDR || seq_before(r->st.fend, seq)) {
				STAT_ADD(s, sync_lost, 1);
				r->st.synced = 0;
			}
		}
	}

	if (!r->st.synced) {
		/*
		 * Frame boundaries unknown: copy the start of each packet until
		 * one starts with a plausible frame header, and resume tracking
		 * there. This is safe because positions stay exact whatever is
		 * copied: every record says which stream bytes it covers and
		 * which of them it carries, so a wrong guess only changes which
		 * bytes user space sees, never where they are. The user-space
		 * decoder frames the stream itself, validates every header it
		 * reads and resynchronises on its own; a bad guess here makes it
		 * see skipped bytes where it expected a header, which it reports
		 * as a desync, and the next impossible length sends this tracker
		 * back to copying packet starts.
		 */
		if (!frame_start_at_packet(r)) {
			emit(p, seq, p->plen, min_u32(p->plen, r->budget),
			     RF_FIRST | RF_DESYNC | last_flags(p));
			r->st.next_seq = r->end;
			goto store;
		}
		STAT_ADD(s, sync_found, 1);
		r->st.synced = 1;
		r->st.fstart = seq;
		r->st.hdr = 0;
		r->st.hdr_have = 0;
		r->rflags |= RF_RESYNC;
	}

	r->pos = r->rec_start;
	/* bpf_loop bounds the loop for the verifier, which checks frame_step once. */
	bpf_loop(MAX_FRAMES, frame_step, r, 0);
	if (r->pos != r->end && !r->lost) {
		/* More frame starts than MAX_FRAMES in one packet. */
		r->lost = 1;
		r->st.synced = 0;
	}
	if (r->lost) {
		STAT_ADD(s, sync_lost, 1);
		r->rflags |= RF_DESYNC;
	}
	r->rflags |= last_flags(p);
	flush(r, r->end);
	r->st.next_seq = r->end;

store:
	if (p->tcp_flags & TH_RST) {
		/* Both directions are over. */
		forget_reverse(&k);
		if (fp)
			bpf_map_delete_elem(&flows, &k);
		return 0;
	}
	if (p->tcp_flags & TH_FIN) {
		/* This direction is over; the other may go on (half close). */
		if (fp)
			bpf_map_delete_elem(&flows, &k);
		return 0;
	}
	if (fp)
		*fp = r->st;
	else if (p->plen > 0 || (p->tcp_flags & TH_SYN))
		bpf_map_update_elem(&flows, &k, &r->st, BPF_ANY);
	return 0;
}

/* ---- programs ----------------------------------------------------------- */

static __always_inline int handle(struct __sk_buff *skb, __u32 dir)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config_map, &zero);
	struct stats *s = stats_get();
	struct run r;

	if (!cfg || !s)
		return 1;
	STAT_ADD(s, pkts_seen, 1);
	__builtin_memset(&r, 0, sizeof(r));
	if (!parse(skb, &r.p, s))
		return 1;
	if (!port_watched(cfg, dir == DIR_TO_SERVER ? r.p.h.dport : r.p.h.sport))
		return 1;
	STAT_ADD(s, pkts_matched, 1);
	if (r.p.plen == 0 && !(r.p.tcp_flags & (TH_SYN | TH_FIN | TH_RST)))
		return 1; /* a pure ACK: no bytes, no event */

	r.p.wakeup_shift = cfg->wakeup_shift;
	r.p.h.type = REC_SEGMENT;
	r.p.h.dir = dir;
	r.p.h.cpu = bpf_get_smp_processor_id();
	r.p.h.ktime_ns = bpf_ktime_get_ns();
	if (cfg->mode == MODE_FULL)
		capture_full(&r, cfg);
	else
		capture_headers(&r, cfg);
	return 1;
}

/* Both programs always return 1: capture never drops traffic. */
SEC("cgroup_skb/ingress")
int capture_ingress(struct __sk_buff *skb)
{
	return handle(skb, DIR_TO_SERVER);
}

SEC("cgroup_skb/egress")
int capture_egress(struct __sk_buff *skb)
{
	return handle(skb, DIR_TO_CLIENT);
}

/*
 * Connection open and close of server sockets. This runs in softirq context
 * as often as not, so the current task says nothing: filter by the local
 * port. Opens are SYN_RECV -> ESTABLISHED (the passive side). By the time a
 * socket reaches CLOSE its local port may have been released (0), so the
 * open is remembered by socket cookie and the close reported from that.
 */
SEC("tp_btf/inet_sock_set_state")
int capture_state(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	int oldstate = (int)ctx[1];
	int newstate = (int)ctx[2];
	struct state_rec rec = {}, *known = 0;
	struct tcp_sock *tp;
	struct config *cfg;
	struct stats *s;
	__u32 zero = 0;
	__u64 cookie;

	if (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	cfg = bpf_map_lookup_elem(&config_map, &zero);
	s = stats_get();
	if (!cfg || !s)
		return 0;

	cookie = bpf_get_socket_cookie(sk);
	if (newstate == TCP_ESTABLISHED) {
		if (oldstate != TCP_SYN_RECV || !port_watched(cfg, sk->__sk_common.skc_num))
			return 0;
	} else {
		known = bpf_map_lookup_elem(&socks, &cookie);
		/* Not announced: opened before capture began; report it if its port still tells. */
		if (!known && (oldstate == TCP_LISTEN || oldstate == TCP_SYN_SENT ||
			       !port_watched(cfg, sk->__sk_common.skc_num)))
			return 0;
	}

	if (known) {
		rec = *known;
	} else {
		rec.sport = sk->__sk_common.skc_num;
		rec.dport = bpf_ntohs(sk->__sk_common.skc_dport);
		if (sk->__sk_common.skc_family == AF_INET6) {
			rec.family = 6;
			__builtin_memcpy(rec.saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
			__builtin_memcpy(rec.daddr, &sk->__sk_common.skc_v6_daddr, 16);
		} else {
			rec.family = 4;
			__builtin_memcpy(rec.saddr, &sk->__sk_common.skc_rcv_saddr, 4);
			__builtin_memcpy(rec.daddr, &sk->__sk_common.skc_daddr, 4);
		}
	}
	rec.type = REC_STATE;
	rec.oldstate = oldstate;
	rec.newstate = newstate;
	rec.cpu = bpf_get_smp_processor_id();
	rec.cpu_seq = STAT_ADD(s, rec_attempts, 1);
	rec.ktime_ns = bpf_ktime_get_ns();
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp) {
		rec.rcv_nxt = tp->rcv_nxt;
		rec.snd_una = tp->snd_una;
		rec.snd_nxt = tp->snd_nxt;
	}

	if (newstate == TCP_ESTABLISHED)
		bpf_map_update_elem(&socks, &cookie, &rec, BPF_ANY);
	else if (known)
		bpf_map_delete_elem(&socks, &cookie);

	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), ring_flags(cfg->wakeup_shift, sizeof(rec))))
		STAT_ADD(s, state_drops, 1);
	else
		STAT_ADD(s, state_records, 1);
	return 0;
}
