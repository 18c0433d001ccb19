/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fixed parts of the IPv4, IPv6 and TCP headers as they are on the
 * wire, for capture.c and floor.c.
 */
#ifndef IGGYTRACE_WIRE_H
#define IGGYTRACE_WIRE_H

#define IPPROTO_TCP 6

struct ipv4h {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__be16 check;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct ipv6h {
	__be32 ver_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct tcph {
	__be16 sport;
	__be16 dport;
	__be32 seq;
	__be32 ack;
	__u8 doff_res;
	__u8 flags;
	__be16 window;
	__be16 check;
	__be16 urg;
};

#endif /* IGGYTRACE_WIRE_H */
