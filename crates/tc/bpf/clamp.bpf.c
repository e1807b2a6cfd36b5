// SPDX-License-Identifier: MIT OR Apache-2.0
//
// mss's in-kernel MSS clamp: a tc (clsact) classifier that lowers the MSS option
// of TCP SYN and SYN-ACK segments by the rules of crates/clamp (the offline and
// NFQUEUE clamp), so that every SYN leaves exactly as `mss clamp` would write it:
//
// - Only SYN segments (SYN set, RST clear) are touched, and the MSS only ever
//   lowered, to the target of the packet's IP version (DOMAIN.md section 6).
// - The option list is walked strictly (crates/wire MssOptions::find): unknown
//   kinds are stepped over by their length byte; a length below 2 or past the
//   header, an MSS option whose length is not 4 or more than four MSS options
//   leave the segment untouched. Every MSS option above the target is lowered
//   (Linux's receiver, tcp_parse_options(), uses the last one).
// - The checksum is updated incrementally (RFC 1624 equation 3) for the 16-bit
//   words that changed, counted from the TCP header's start: an option at an odd
//   offset changes two words (xt_TCPMSS and nft update one, and get it wrong).
// - IPv4 later fragments, and first fragments that do not hold the TCP header,
//   are left alone; an IPv6 atomic fragment (RFC 6946) is a whole packet.
// - Inserting (opt-in) follows xt_TCPMSS tcpmss_mangle_packet(): only into a SYN
//   without payload whose header has room, value min(target, 536) for IPv4 and
//   min(target, 1220) for IPv6 (RFC 9293 section 3.7.1, RFC 8200 section 8.3).
//
// Every packet passes (TC_ACT_OK): the program edits, it never drops.
// Per-CPU counters say what it did; the targets are read from a map on every
// SYN, so `mss clamp --tc IFACE --mss N` changes them without a reload.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_OK 0

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ_OLD 0x9100

#define PROTO_TCP 6
#define IPV6_HOP_BY_HOP 0
#define IPV6_ROUTING 43
#define IPV6_FRAGMENT 44
#define IPV6_ESP 50
#define IPV6_AH 51
#define IPV6_NO_NEXT 59
#define IPV6_DESTINATION 60
#define IPV6_MOBILITY 135
#define IPV6_HIP 139
#define IPV6_SHIM6 140
#define IPV6_EXPERIMENT_1 253
#define IPV6_EXPERIMENT_2 254

#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define TCP_OPT_END 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
// crates/wire MAX_MSS_OPTIONS: more than a stack sends.
#define MAX_MSS_OPTIONS 4
// The extension headers walked before an IPv6 packet is left alone.
#define MAX_EXTENSIONS 16
// Bytes moved by an insertion (options and what follows the header).
#define MAX_MOVED 63

// What `link` in the config means: where the IP header is.
#define LINK_ETHERNET 0
#define LINK_RAW_IP 1

// The targets, written by the loader (crates/tc src/lib.rs `Config`).
struct config {
	__u16 mss4; // 0: IPv4 SYNs left alone
	__u16 mss6; // 0: IPv6 SYNs left alone
	__u8 insert;
	__u8 link;
	__u8 hooks; // the loader's record of where it attached (1 ingress, 2 egress)
	__u8 pad;
};

// Counter indices (crates/tc src/lib.rs `Counter`, same order).
enum counter {
	C_LOWERED4,
	C_LOWERED6,
	C_INSERTED4,
	C_INSERTED6,
	C_ALREADY_LOW,
	C_NO_MSS_OPTION,
	C_NO_TARGET,
	C_FRAGMENT,
	C_TRUNCATED,
	C_MALFORMED,
	C_BAD_OPTIONS,
	C_HAS_PAYLOAD,
	C_NO_ROOM,
	C_HELPER_FAILED,
	C_COUNT,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
	// Pinned (/sys/fs/bpf/mss/...): a later mss finds and changes them.
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MSS_CONFIG SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MSS_COUNTERS SEC(".maps");

static __always_inline int count(enum counter which)
{
	__u32 key = which;
	__u64 *value = bpf_map_lookup_elem(&MSS_COUNTERS, &key);
	if (value)
		*value += 1;
	return TC_ACT_OK;
}

// The histogram of announced MSS values: per IP version and SYN or SYN-ACK,
// MSS_BUCKETS upper bounds (crates/analyze watch.rs MSS_BUCKETS, the values links
// and clamps produce), one slot above the last and one for SYNs without an MSS
// option. Key: (ipv6 * 2 + syn_ack) * HISTOGRAM_SLOTS + slot.
#define MSS_BUCKETS 24
#define SLOT_ABOVE MSS_BUCKETS
#define SLOT_NO_OPTION (MSS_BUCKETS + 1)
#define HISTOGRAM_SLOTS (MSS_BUCKETS + 2)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4 * HISTOGRAM_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MSS_SEEN SEC(".maps");

static __always_inline __u32 mss_bucket(__u16 mss)
{
	const __u16 bounds[MSS_BUCKETS] = {536,  1024, 1220, 1240, 1280, 1288, 1300, 1320,
					   1340, 1348, 1360, 1380, 1400, 1420, 1428, 1440,
					   1448, 1452, 1460, 1500, 4000, 8960, 9000, 65495};
#pragma unroll
	for (int i = 0; i < MSS_BUCKETS; i++) {
		if (mss <= bounds[i])
			return i;
	}
	return SLOT_ABOVE;
}

static __always_inline void seen(int ipv6, int syn_ack, __u32 slot)
{
	__u32 key = (ipv6 * 2 + syn_ack) * HISTOGRAM_SLOTS + slot;
	__u64 *value = bpf_map_lookup_elem(&MSS_SEEN, &key);
	if (value)
		*value += 1;
}

static __always_inline __u16 be16_at(const __u8 *bytes, __u32 at)
{
	return ((__u16)bytes[at & 63] << 8) | bytes[(at + 1) & 63];
}

// The 16-bit word at `at` as it lies in memory (network order), for the
// checksum helpers, which take the old and new values as stored.
static __always_inline __u16 raw16_at(const __u8 *bytes, __u32 at)
{
	__u16 word;
	__builtin_memcpy(&word, &bytes[at & 62], 2);
	return word;
}

// Where the IP header starts: after the Ethernet header and up to two VLAN tags,
// or at 0 on a device without a link header (tun, WireGuard). 0 for no IP.
static __always_inline int ip_offset(struct __sk_buff *skb, __u8 link, __u32 *at)
{
	if (link == LINK_RAW_IP) {
		*at = 0;
		return 1;
	}
	__u32 type_at = 12;
#pragma unroll
	for (int tag = 0; tag < 3; tag++) {
		__u16 type;
		if (bpf_skb_load_bytes(skb, type_at, &type, 2) < 0)
			return 0;
		type = bpf_ntohs(type);
		if (type == ETH_P_IP || type == ETH_P_IPV6) {
			*at = type_at + 2;
			return 1;
		}
		if (type != ETH_P_8021Q && type != ETH_P_8021AD && type != ETH_P_QINQ_OLD)
			return 0;
		type_at += 4;
	}
	return 0;
}

enum chain_end { CHAIN_WALKING, CHAIN_UPPER, CHAIN_NOT_TCP, CHAIN_FRAGMENT, CHAIN_MALFORMED, CHAIN_FAILED };

// The state of the IPv6 extension header walk.
struct chain {
	struct __sk_buff *skb;
	__u32 start; // the payload's offset in the packet
	__u32 limit; // the payload length
	__u32 at; // the header being looked at, from the payload's start
	__u32 next; // its protocol number
	__u32 fragment_seen;
	__u32 more;
	__u32 end;
};

// One step of ipv6::walk_extensions: 0 to go on, 1 to stop.
static long walk_extension(__u64 index, void *context)
{
	struct chain *c = context;
	__u32 at = c->at;
	__u32 length;
	__u8 head[4] = {0, 0, 0, 0};
	if (at > 0xffff) {
		c->end = CHAIN_MALFORMED;
		return 1;
	}
	switch (c->next) {
	case IPV6_HOP_BY_HOP:
	case IPV6_ROUTING:
	case IPV6_DESTINATION:
	case IPV6_MOBILITY:
	case IPV6_HIP:
	case IPV6_SHIM6:
	case IPV6_EXPERIMENT_1:
	case IPV6_EXPERIMENT_2:
	case IPV6_AH:
		if (at + 2 > c->limit) {
			c->end = CHAIN_MALFORMED;
			return 1;
		}
		if (bpf_skb_load_bytes(c->skb, c->start + at, head, 2) < 0) {
			c->end = CHAIN_FAILED;
			return 1;
		}
		if (c->next == IPV6_AH)
			// RFC 4302 section 2.2: length in 4-byte words, minus 2.
			length = ((__u32)head[1] + 2) * 4;
		else
			length = ((__u32)head[1] + 1) * 8;
		break;
	case IPV6_FRAGMENT:
		length = 8;
		break;
	case IPV6_ESP:
	case IPV6_NO_NEXT:
		c->end = CHAIN_NOT_TCP;
		return 1;
	default:
		c->end = CHAIN_UPPER;
		return 1;
	}
	if (at + length > c->limit) {
		c->end = CHAIN_MALFORMED;
		return 1;
	}
	if (c->next == IPV6_FRAGMENT) {
		if (bpf_skb_load_bytes(c->skb, c->start + at, head, 4) < 0) {
			c->end = CHAIN_FAILED;
			return 1;
		}
		__u16 offset_flags = ((__u16)head[2] << 8) | head[3];
		c->fragment_seen = 1;
		c->more = offset_flags & 1;
		if (offset_flags & 0xfff8) {
			c->end = CHAIN_FRAGMENT;
			return 1;
		}
	}
	c->next = head[0];
	c->at = at + length;
	return 0;
}

// The state of the option walk, on the program's stack.
struct walk {
	__u8 th[84]; // the TCP header; 20 + the largest masked option length (63)
	__u32 options_len;
	__u32 at;
	__u32 found[MAX_MSS_OPTIONS]; // value offsets in the header
	__u32 found_count;
	__u32 bad;
};

// One step of tcp::MssOptions::find: 0 to go on, 1 to stop.
static long walk_option(__u64 index, void *context)
{
	struct walk *w = context;
	__u32 at = w->at;
	if (at >= w->options_len || at >= 40)
		return 1;
	__u8 kind = w->th[(20 + at) & 63];
	if (kind == TCP_OPT_END)
		return 1;
	if (kind == TCP_OPT_NOP) {
		w->at = at + 1;
		return 0;
	}
	if (at + 1 >= w->options_len) {
		w->bad = 1;
		return 1;
	}
	__u32 length = w->th[(21 + at) & 63];
	if (length < 2 || at + length > w->options_len) {
		w->bad = 1;
		return 1;
	}
	if (kind == TCP_OPT_MSS) {
		if (length != 4 || w->found_count >= MAX_MSS_OPTIONS) {
			w->bad = 1;
			return 1;
		}
		w->found[w->found_count & 3] = 20 + at + 2;
		w->found_count++;
	}
	w->at = at + length;
	return 0;
}

SEC("classifier")
int mss_clamp(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct config *config = bpf_map_lookup_elem(&MSS_CONFIG, &key);
	if (!config)
		return TC_ACT_OK;

	__u32 ip_at;
	if (!ip_offset(skb, config->link, &ip_at))
		return TC_ACT_OK;
	if (ip_at > 64)
		return TC_ACT_OK;
	__u32 len = skb->len;
	if (len <= ip_at)
		return TC_ACT_OK;
	// The IP packet is everything from ip_at on (crates/clamp clamp_ip's `len`).
	__u32 plen = len - ip_at;

	__u8 first;
	if (bpf_skb_load_bytes(skb, ip_at, &first, 1) < 0)
		return TC_ACT_OK;
	__u8 version = first >> 4;

	__u32 tcp_offset; // from the IP header's start
	__u32 ip_len;
	int first_fragment = 0;

	if (version == 4) {
		__u8 ip[20];
		if (plen < 20)
			return count(C_TRUNCATED);
		if (bpf_skb_load_bytes(skb, ip_at, ip, 20) < 0)
			return count(C_HELPER_FAILED);
		__u32 header_len = (ip[0] & 0x0f) * 4;
		__u32 total = be16_at(ip, 2);
		__u16 frag = be16_at(ip, 6);
		// The common case first (strict::plain_tcp_flags): a plain TCP segment
		// without SYN is answered from its flags.
		if (header_len == 20 && ip[9] == PROTO_TCP && (frag & 0x3fff) == 0 && plen >= 40) {
			__u8 flags;
			if (bpf_skb_load_bytes(skb, ip_at + 33, &flags, 1) < 0)
				return TC_ACT_OK;
			if (!(flags & TCP_SYN))
				return TC_ACT_OK;
		}
		// strict::tcp_layout, IPv4.
		if (header_len < 20 || total < header_len)
			return count(C_MALFORMED);
		if (plen < total)
			return count(C_TRUNCATED);
		if ((frag & 0x1fff) != 0)
			return count(C_FRAGMENT);
		if (ip[9] != PROTO_TCP)
			return TC_ACT_OK;
		tcp_offset = header_len;
		ip_len = total;
		first_fragment = (frag & 0x2000) != 0;
	} else if (version == 6) {
		__u8 ip[40];
		if (plen < 40)
			return count(C_TRUNCATED);
		if (bpf_skb_load_bytes(skb, ip_at, ip, 40) < 0)
			return count(C_HELPER_FAILED);
		__u32 payload_len = be16_at(ip, 4);
		__u8 next = ip[6];
		if (next == PROTO_TCP && plen >= 60) {
			__u8 flags;
			if (bpf_skb_load_bytes(skb, ip_at + 53, &flags, 1) < 0)
				return TC_ACT_OK;
			if (!(flags & TCP_SYN))
				return TC_ACT_OK;
		}
		// strict::tcp_layout, IPv6: a jumbogram (RFC 2675) is not edited.
		if (payload_len == 0)
			return count(C_MALFORMED);
		if (plen < 40 + payload_len)
			return count(C_TRUNCATED);
		// ipv6::walk_extensions over the declared payload (RFC 8200 section 4),
		// one header per bpf_loop() step.
		struct chain chain = {
			.skb = skb,
			.start = ip_at + 40,
			.limit = payload_len,
			.next = next,
		};
		bpf_loop(MAX_EXTENSIONS, walk_extension, &chain, 0);
		switch (chain.end) {
		case CHAIN_UPPER:
			break;
		case CHAIN_NOT_TCP:
			return TC_ACT_OK;
		case CHAIN_FRAGMENT:
			return count(C_FRAGMENT);
		case CHAIN_FAILED:
			return count(C_HELPER_FAILED);
		default:
			// Malformed, or longer than any stack sends (CHAIN_WALKING after
			// MAX_EXTENSIONS headers; mss clamp offline walks on).
			return count(C_MALFORMED);
		}
		next = chain.next;
		__u32 at = chain.at;
		if (next != PROTO_TCP)
			return TC_ACT_OK;
		tcp_offset = 40 + at;
		ip_len = 40 + payload_len;
		first_fragment = chain.fragment_seen && chain.more;
	} else {
		return TC_ACT_OK;
	}

	if (ip_len < tcp_offset + 20) {
		if (first_fragment)
			return count(C_FRAGMENT);
		return count(plen < tcp_offset + 20 ? C_TRUNCATED : C_MALFORMED);
	}
	__u32 tcp_at = ip_at + tcp_offset;
	if (tcp_at > 0x10000)
		return TC_ACT_OK;
	struct walk w = {};
	if (bpf_skb_load_bytes(skb, tcp_at, w.th, 20) < 0)
		return count(C_HELPER_FAILED);
	__u32 header_len = (w.th[12] >> 4) * 4;
	if (header_len < 20)
		return count(C_MALFORMED);
	if (tcp_offset + header_len > ip_len)
		return count(first_fragment ? C_FRAGMENT : C_MALFORMED);
	// crates/clamp clamp_ip: SYN set and RST clear (SYN-ACKs included).
	if (!(w.th[13] & TCP_SYN) || (w.th[13] & TCP_RST))
		return TC_ACT_OK;
	__u16 target = version == 4 ? config->mss4 : config->mss6;
	if (target == 0)
		return count(C_NO_TARGET);

	__u32 options_len = header_len - 20;
	asm volatile("" : "+r"(options_len));
	options_len &= 63;
	if (options_len > 0 && options_len <= 40) {
		if (bpf_skb_load_bytes(skb, tcp_at + 20, &w.th[20], options_len) < 0)
			return count(C_HELPER_FAILED);
	}

	// tcp::MssOptions::find: the whole list is walked before anything changes,
	// one option per bpf_loop() step (verified once, not per possible path).
	w.options_len = options_len;
	bpf_loop(40, walk_option, &w, 0);
	if (w.bad)
		return count(C_BAD_OPTIONS);
	__u32 found_count = w.found_count;
	__u16 largest = 0;
#pragma unroll
	for (int i = 0; i < MAX_MSS_OPTIONS; i++) {
		if (i < found_count) {
			__u16 value = be16_at(w.th, w.found[i]);
			if (value > largest)
				largest = value;
		}
	}
	// What the host announced, before any change.
	seen(version == 6, (w.th[13] & TCP_ACK) != 0,
	     found_count == 0 ? SLOT_NO_OPTION : mss_bucket(largest));

	if (found_count == 0) {
		if (!config->insert)
			return count(C_NO_MSS_OPTION);
		// strict::TcpLayout::insert_mss_option, as xt_TCPMSS inserts.
		if (first_fragment)
			return count(C_FRAGMENT);
		if (ip_len > tcp_offset + header_len)
			return count(C_HAS_PAYLOAD);
		if (header_len + 4 > 60)
			return count(C_NO_ROOM);
		__u16 default_mss = version == 4 ? 536 : 1220;
		__u16 value = target < default_mss ? target : default_mss;
		// The options and everything after the header (link padding) move on.
		__u32 moved = len - (tcp_at + 20);
		if (moved > MAX_MOVED)
			return count(C_NO_ROOM);
		// The verifier wants the length's bounds on the register passed: keep
		// the compiler from dropping the mask it knows to be redundant.
		asm volatile("" : "+r"(moved));
		moved &= MAX_MOVED;
		__u8 tail[MAX_MOVED + 1];
		if (moved > 0 && bpf_skb_load_bytes(skb, tcp_at + 20, tail, moved) < 0)
			return count(C_HELPER_FAILED);
		if (bpf_skb_change_tail(skb, len + 4, 0) < 0)
			return count(C_HELPER_FAILED);
		if (moved > 0 && bpf_skb_store_bytes(skb, tcp_at + 24, tail, moved, 0) < 0)
			return count(C_HELPER_FAILED);
		__u8 option[4] = {TCP_OPT_MSS, 4, value >> 8, value & 0xff};
		if (bpf_skb_store_bytes(skb, tcp_at + 20, option, 4, 0) < 0)
			return count(C_HELPER_FAILED);
		__u16 kind_length, value_word;
		__builtin_memcpy(&kind_length, option, 2);
		__builtin_memcpy(&value_word, &option[2], 2);
		__u16 old_offset_word = raw16_at(w.th, 12);
		w.th[12] = (w.th[12] & 0x0f) | (((header_len + 4) / 4) << 4);
		__u16 new_offset_word = raw16_at(w.th, 12);
		if (bpf_skb_store_bytes(skb, tcp_at + 12, &w.th[12], 1, 0) < 0)
			return count(C_HELPER_FAILED);
		// The checksum, word by word as tcp::Packet::insert_option updates it:
		// the option's two words, the data offset's word, and the
		// pseudo-header's segment length (which the helper also applies to a
		// partial checksum left for offload).
		__u32 check_at = tcp_at + 16;
		__u32 segment_len = ip_len - tcp_offset;
		if (bpf_l4_csum_replace(skb, check_at, 0, kind_length, 2) < 0 ||
		    bpf_l4_csum_replace(skb, check_at, 0, value_word, 2) < 0 ||
		    bpf_l4_csum_replace(skb, check_at, old_offset_word, new_offset_word, 2) < 0 ||
		    bpf_l4_csum_replace(skb, check_at, bpf_htonl(segment_len),
					bpf_htonl(segment_len + 4), 4 | BPF_F_PSEUDO_HDR) < 0)
			return count(C_HELPER_FAILED);
		if (version == 4) {
			__u16 old_total = bpf_htons(ip_len);
			__u16 new_total = bpf_htons(ip_len + 4);
			if (bpf_skb_store_bytes(skb, ip_at + 2, &new_total, 2, 0) < 0 ||
			    bpf_l3_csum_replace(skb, ip_at + 10, old_total, new_total, 2) < 0)
				return count(C_HELPER_FAILED);
			return count(C_INSERTED4);
		}
		__u16 payload = bpf_htons(ip_len - 40 + 4);
		if (bpf_skb_store_bytes(skb, ip_at + 4, &payload, 2, 0) < 0)
			return count(C_HELPER_FAILED);
		return count(C_INSERTED6);
	}

	if (largest <= target)
		return count(C_ALREADY_LOW);

	// tcp::Packet::set_mss for each option above the target: the value, then
	// the checksum for the one word it lies in or the two it straddles.
	for (int i = 0; i < MAX_MSS_OPTIONS; i++) {
		if (i >= found_count)
			break;
		__u32 value_at = w.found[i] & 63;
		if (be16_at(w.th, value_at) <= target)
			continue;
		__u32 first_word = value_at & ~1U;
		__u32 second_word = (value_at + 1) & ~1U;
		__u16 old_first = raw16_at(w.th, first_word);
		__u16 old_second = raw16_at(w.th, second_word);
		w.th[value_at & 63] = target >> 8;
		w.th[(value_at + 1) & 63] = target & 0xff;
		__u16 new_first = raw16_at(w.th, first_word);
		__u16 new_second = raw16_at(w.th, second_word);
		if (bpf_skb_store_bytes(skb, tcp_at + value_at, &w.th[value_at & 63], 2, 0) < 0)
			return count(C_HELPER_FAILED);
		if (bpf_l4_csum_replace(skb, tcp_at + 16, old_first, new_first, 2) < 0)
			return count(C_HELPER_FAILED);
		if (first_word != second_word &&
		    bpf_l4_csum_replace(skb, tcp_at + 16, old_second, new_second, 2) < 0)
			return count(C_HELPER_FAILED);
	}
	return count(version == 4 ? C_LOWERED4 : C_LOWERED6);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
