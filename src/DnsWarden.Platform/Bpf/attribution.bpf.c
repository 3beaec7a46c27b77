// SPDX-License-Identifier: GPL-2.0
/* Send-time process attribution for `dnsw leak watch`.
 *
 * Attached at the cgroup v2 root, these programs see every socket of the host (all network namespaces) when it
 * connects (TCP, connected UDP: connect4/6) or sends to an address (unconnected UDP: sendmsg4/6). Each writes the
 * sender (process, thread, ids, cgroup, parents) and the flow to a ring buffer that dnsw reads at packet time, when
 * a one-shot client has long closed its socket. No kprobes: this kernel has none, and cgroup sock_addr hooks are
 * stable UAPI where kprobes are not.
 *
 * The source port is not assigned yet when connect() runs on an unbound socket. Such a send waits in `pending`
 * under its socket cookie until its first packet passes the cgroup egress hook, which reads the port from the
 * packet and writes the record then: before the packet reaches the wire, so before any capture sees it. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "attribution.h"

char LICENSE[] SEC("license") = "GPL";

/* Only the fields read here; libbpf relocates them against the kernel's BTF (CO-RE), so no vmlinux.h. */
struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct mm_struct *mm;
	char comm[16];
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Sends whose source port is not known yet, by socket cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct dnsw_send_record);
} pending SEC(".maps");

/* The last record written per flow: a busy unconnected sender (a resolver, dnsperf) is written once a second per
 * flow and process, not once per datagram. */
struct emitted {
	__u32 tgid;
	__u32 pad;
	__u64 boot_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct dnsw_flow_key);
	__type(value, struct emitted);
} recent SEC(".maps");

/* [0] records lost because the ring buffer was full; [1] pending entries joined by the egress hook. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* When the reader was last woken (CLOCK_MONOTONIC ns). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} woken SEC(".maps");

/* A resend to the same flow by the same process within this long is not written again. */
#define REWRITE_NS 1000000000ULL

/* The reader is woken at most once in this long. A wake-up is an interrupt raised on the sender's CPU (irq_work), which
 * under a hypervisor is a VM exit the sender waits for: measured at ~15 µs a TCP connect when every record woke the
 * reader (docs/BENCHMARKS.md). The reader, once woken, drains again after this long until it finds nothing new
 * (BpfSendTracker.Drain), so a record written without a wake-up waits at most about this long. */
#define WAKE_NS 1000000ULL

static __always_inline void count(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &index);
	if (value)
		__sync_fetch_and_add(value, 1);
}

/* Whether this process wrote this flow less than REWRITE_NS ago. */
static __always_inline int written_lately(struct dnsw_flow_key *key, __u32 tgid, __u64 boot_ns)
{
	struct emitted *last = bpf_map_lookup_elem(&recent, key);
	return last && last->tgid == tgid && boot_ns - last->boot_ns < REWRITE_NS;
}

/* 0 (libbpf's adaptive default: wake the reader if it is waiting) once per WAKE_NS, BPF_RB_NO_WAKEUP in between. Two
 * CPUs racing here both wake, at worst. */
static __always_inline __u64 wake_flag(void)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&woken, &zero);
	__u64 now = bpf_ktime_get_ns();
	if (last && now - *last < WAKE_NS)
		return BPF_RB_NO_WAKEUP;
	if (last)
		*last = now;
	return 0;
}

static __always_inline void emit(struct dnsw_send_record *rec)
{
	if (written_lately(&rec->key, rec->tgid, rec->boot_ns))
		return;

	struct emitted now = { .tgid = rec->tgid, .boot_ns = rec->boot_ns };
	bpf_map_update_elem(&recent, &rec->key, &now, BPF_ANY);
	if (bpf_ringbuf_output(&events, rec, sizeof(*rec), wake_flag()) != 0)
		count(0);
}

static __always_inline void fill_sender(struct dnsw_send_record *rec)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	rec->tgid = pid_tgid >> 32;
	rec->pid = (__u32)pid_tgid;
	rec->uid = (__u32)uid_gid;
	rec->gid = uid_gid >> 32;
	rec->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(rec->thread, sizeof(rec->thread));

	/* The thread's comm is often a worker's (dig sends from "isc-net-0000"): the leader's is the process name. */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	BPF_CORE_READ_STR_INTO(&rec->process, task, group_leader, comm);
	/* The executable's name and inode: a client that exits before dnsw reads /proc/PID/exe is still named by them. */
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (exe) {
		const unsigned char *name = BPF_CORE_READ(exe, f_path.dentry, d_name.name);
		bpf_probe_read_kernel_str(rec->exe_name, sizeof(rec->exe_name), name);
		rec->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
	}

	struct task_struct *parent = BPF_CORE_READ(task, group_leader, real_parent);
	for (int i = 0; i < DNSW_ANCESTORS; i++) {
		if (!parent)
			break;
		int tgid = BPF_CORE_READ(parent, tgid);
		if (tgid <= 0)
			break;
		rec->ancestors[i].tgid = tgid;
		BPF_CORE_READ_STR_INTO(&rec->ancestors[i].comm, parent, comm);
		if (tgid == 1)
			break;
		parent = BPF_CORE_READ(parent, real_parent);
	}
}

static __always_inline void set_v4(__u8 *dst, __u32 address_be)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &address_be, 4);
}

/* The context's IPv6 words are read one by one: the verifier allows only 4-byte loads of them. */
static __always_inline void set_v6(__u8 *dst, __u32 a0, __u32 a1, __u32 a2, __u32 a3)
{
	__builtin_memcpy(dst, &a0, 4);
	__builtin_memcpy(dst + 4, &a1, 4);
	__builtin_memcpy(dst + 8, &a2, 4);
	__builtin_memcpy(dst + 12, &a3, 4);
}

static __always_inline int record(struct bpf_sock_addr *ctx, __u8 hook)
{
	if (ctx->protocol != IPPROTO_UDP && ctx->protocol != IPPROTO_TCP)
		return 1;

	struct dnsw_flow_key key;
	__builtin_memset(&key, 0, sizeof(key));
	key.protocol = ctx->protocol;
	key.netns = bpf_get_netns_cookie(ctx);
	key.dport = bpf_ntohs((__u16)ctx->user_port);
	if (hook == DNSW_HOOK_CONNECT4 || hook == DNSW_HOOK_SENDMSG4) {
		set_v4(key.daddr, ctx->user_ip4);
	} else {
		set_v6(key.daddr, ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]);
	}

	/* Bound already (explicit bind, or the autobind inet_sendmsg does before udp_sendmsg runs this hook). */
	struct bpf_sock *sk = ctx->sk;
	if (sk)
		key.sport = (__u16)sk->src_port;

	/* A busy sender (a resolver, dnsperf) sends to the same flow again and again: once it is written, each resend costs
	 * this lookup, not the reads of the sender below (~300 ns a datagram, measured). */
	__u64 boot_ns = bpf_ktime_get_boot_ns();
	if (key.sport != 0 && written_lately(&key, bpf_get_current_pid_tgid() >> 32, boot_ns))
		return 1;

	struct dnsw_send_record rec;
	__builtin_memset(&rec, 0, sizeof(rec));
	rec.hook = hook;
	rec.key = key;
	rec.boot_ns = boot_ns;
	rec.cookie = bpf_get_socket_cookie(ctx);
	if (sk) {
		if (sk->family == 2 /* AF_INET */) {
			set_v4(rec.saddr, sk->src_ip4);
		} else {
			set_v6(rec.saddr, sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3]);
		}
	}

	fill_sender(&rec);
	if (rec.key.sport != 0) {
		emit(&rec);
	} else {
		bpf_map_update_elem(&pending, &rec.cookie, &rec, BPF_ANY);
	}

	return 1;
}

SEC("cgroup/connect4")
int dnsw_connect4(struct bpf_sock_addr *ctx)
{
	return record(ctx, DNSW_HOOK_CONNECT4);
}

SEC("cgroup/connect6")
int dnsw_connect6(struct bpf_sock_addr *ctx)
{
	return record(ctx, DNSW_HOOK_CONNECT6);
}

SEC("cgroup/sendmsg4")
int dnsw_sendmsg4(struct bpf_sock_addr *ctx)
{
	return record(ctx, DNSW_HOOK_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int dnsw_sendmsg6(struct bpf_sock_addr *ctx)
{
	return record(ctx, DNSW_HOOK_SENDMSG6);
}

/* The first packet of a socket that connected before it had a port: its source port, from the packet. Every other
 * packet costs one hash lookup that misses. Always lets the packet through. */
SEC("cgroup_skb/egress")
int dnsw_egress(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct dnsw_send_record *rec = bpf_map_lookup_elem(&pending, &cookie);
	if (!rec)
		return 1;

	/* cgroup skb data starts at the network header. */
	__u8 version = 0;
	if (bpf_skb_load_bytes(skb, 0, &version, 1) != 0)
		return 1;

	__u32 l4 = 0;
	__u8 protocol = 0;
	if ((version >> 4) == 4) {
		__u8 ihl = version & 0x0f;
		__u16 frag = 0;
		if (bpf_skb_load_bytes(skb, 9, &protocol, 1) != 0 || bpf_skb_load_bytes(skb, 6, &frag, 2) != 0)
			return 1;
		if (bpf_ntohs(frag) & 0x1fff) /* a later fragment carries no ports */
			return 1;
		l4 = ihl * 4;
	} else if ((version >> 4) == 6) {
		/* No extension headers on a first TCP segment or UDP datagram from a socket. */
		if (bpf_skb_load_bytes(skb, 6, &protocol, 1) != 0)
			return 1;
		l4 = 40;
	} else {
		return 1;
	}

	if (protocol != rec->key.protocol)
		return 1;

	__u16 sport = 0;
	if (bpf_skb_load_bytes(skb, l4, &sport, 2) != 0)
		return 1;

	/* Completed in place and written from the map, then dropped: no copy of the record on the stack. */
	rec->key.sport = bpf_ntohs(sport);
	rec->joined = 1;
	emit(rec);
	bpf_map_delete_elem(&pending, &cookie);
	count(1);
	return 1;
}
