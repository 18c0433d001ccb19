//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A minimal per-packet capture, as a yardstick for capture.c:
 * what a cgroup_skb program costs on this kernel when it does only what any
 * capture of the server's TCP payload must do per packet, and nothing of
 * what makes iggytrace's records useful.
 *
 * Per packet with payload on the configured server port: read the IP and
 * TCP headers in place (direct packet access, no helper), take a timestamp,
 * reserve one fixed-size record in the ring, copy up to FLOOR_CAP payload
 * bytes into it and submit it without waking the reader. No frame
 * tracking, no per-flow state, no counters but ring drops, IPv4 and IPv6
 * without extension headers only, the server side of the connection only.
 *
 * Only the tracing benchmark loads it (internal/tracebench, condition
 * "floor"); iggytrace itself never does.
 */
#include "vmlinux.h"
#include "wire.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FLOOR_CAP 136 /* capture.c's default per-frame budget: 8 + 128 */

/* Set by the bench before loading. */
volatile const __u16 server_port = 8090;

struct floor_rec {
	__u32 seq;
	__u32 len; /* payload bytes of the packet */
	__u64 ktime_ns;
	__u16 sport, dport;
	__u16 cap; /* bytes of data that are valid */
	__u8 dir;
	__u8 _pad;
	__u8 data[FLOOR_CAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} floor_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} floor_drops SEC(".maps");

static __always_inline int floor_capture(struct __sk_buff *skb, __u8 dir)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ipv4h *v4 = data;
	struct ipv6h *v6 = data;
	struct floor_rec *r;
	struct tcph *th;
	__u32 l4off, plen, n;

	if (data + sizeof(*v6) > end)
		return 1;
	if ((v4->ver_ihl >> 4) == 4) {
		if (v4->protocol != IPPROTO_TCP)
			return 1;
		l4off = (v4->ver_ihl & 0xf) * 4;
	} else if ((v4->ver_ihl >> 4) == 6) {
		if (v6->nexthdr != IPPROTO_TCP)
			return 1;
		l4off = sizeof(*v6);
	} else {
		return 1;
	}
	if (l4off > 60)
		return 1;
	th = data + l4off;
	if ((void *)(th + 1) > end)
		return 1;
	if (bpf_ntohs(dir ? th->sport : th->dport) != server_port)
		return 1;
	l4off += (th->doff_res >> 4) * 4;
	if (skb->len <= l4off)
		return 1; /* no payload */
	plen = skb->len - l4off;

	r = bpf_ringbuf_reserve(&floor_events, sizeof(*r), 0);
	if (!r) {
		__u32 zero = 0;
		__u64 *d = bpf_map_lookup_elem(&floor_drops, &zero);

		if (d)
			__sync_fetch_and_add(d, 1);
		return 1;
	}
	r->seq = bpf_ntohl(th->seq);
	r->len = plen;
	r->ktime_ns = bpf_ktime_get_ns();
	r->sport = bpf_ntohs(th->sport);
	r->dport = bpf_ntohs(th->dport);
	r->dir = dir;
	n = plen < FLOOR_CAP ? plen : FLOOR_CAP;
	if (n == 0 || bpf_skb_load_bytes(skb, l4off, r->data, n) < 0)
		n = 0; /* n == 0 cannot happen (plen > 0); the check is for the verifier */
	r->cap = n;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 1;
}

SEC("cgroup_skb/ingress")
int floor_ingress(struct __sk_buff *skb)
{
	return floor_capture(skb, 0);
}

SEC("cgroup_skb/egress")
int floor_egress(struct __sk_buff *skb)
{
	return floor_capture(skb, 1);
}
