/* Records shared by the send-time attribution program (attribution.bpf.c) and the code that reads them
 * (BpfSendRecord.cs). Any change here changes both; the layout is checked by a test that compiles this header. */
#ifndef DNSW_ATTRIBUTION_H
#define DNSW_ATTRIBUTION_H

#define DNSW_COMM_LEN 16
#define DNSW_ANCESTORS 4
#define DNSW_EXE_NAME_LEN 32

/* Which hook saw the send. */
#define DNSW_HOOK_CONNECT4 1
#define DNSW_HOOK_CONNECT6 2
#define DNSW_HOOK_SENDMSG4 3
#define DNSW_HOOK_SENDMSG6 4

/* A flow as the capture sees it, less the source address (unknown until routing for an unbound socket).
 * Addresses are 16 bytes, IPv4 as ::ffff:a.b.c.d; ports in host order. */
struct dnsw_flow_key {
	__u64 netns;      /* network namespace cookie */
	__u8 daddr[16];
	__u16 dport;
	__u16 sport;      /* 0 while the socket has no port yet */
	__u8 protocol;    /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad[3];
};

struct dnsw_ancestor {
	__u32 tgid;
	char comm[DNSW_COMM_LEN];
};

/* One send: who sent which flow, and when. */
struct dnsw_send_record {
	struct dnsw_flow_key key;
	__u64 cookie;      /* socket cookie */
	__u64 boot_ns;     /* CLOCK_BOOTTIME of the hook */
	__u64 cgroup_id;   /* cgroup v2 id of the sender */
	__u32 tgid;        /* the process */
	__u32 pid;         /* the sending thread */
	__u32 uid;
	__u32 gid;
	__u8 saddr[16];    /* source address when bound, else zero */
	__u8 hook;         /* DNSW_HOOK_* */
	__u8 joined;       /* 1 when the source port was learnt from the first packet */
	__u8 pad[6];
	char thread[DNSW_COMM_LEN];   /* comm of the sending thread */
	char process[DNSW_COMM_LEN];  /* comm of the thread group leader: the process name */
	char exe_name[DNSW_EXE_NAME_LEN]; /* the executable's file name (its dentry), for a process gone before /proc is read */
	__u64 exe_ino;                    /* and its inode number, to find the path it had */
	struct dnsw_ancestor ancestors[DNSW_ANCESTORS]; /* parent first; tgid 0 ends the list */
};

#endif
