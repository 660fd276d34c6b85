/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * nlfast_family: the userspace ABI of the nlfast netlink family.
 *
 * This header is the one place the family's numbers live.  The kernel
 * module includes it, and the nlfast Python package reads its #defines and
 * enum members at build time, so no number is copied by hand.
 *
 * Every request payload is a sequence of netlink attributes (TLVs) that the
 * module checks against a strict policy.  Replies use the same attributes.
 */
#ifndef _UAPI_NLFAST_FAMILY_H
#define _UAPI_NLFAST_FAMILY_H

/* The default protocol number (module parameter "proto"); 23-31 are free. */
#define NLFAM_PROTO_DEFAULT	30

/* Message types (all >= NLMSG_MIN_TYPE). */
enum nlfam_msg_type {
	NLFAM_MSG_HELLO = 0x10,	/* TEXT logged; replied with NLFAM_HELLO_REPLY */
	NLFAM_MSG_MCAST_HELLO,	/* multicast NLFAM_HELLO_MCAST to GROUP (2), not 1 */
	NLFAM_MSG_ECHO,		/* one reply: same type, seq and payload */
	NLFAM_MSG_SINK,		/* counted and dropped; ack only on NLM_F_ACK */
	NLFAM_MSG_STATS,	/* reply carries the namespace's counters */
	NLFAM_MSG_FLOOD,	/* CAP_NET_ADMIN: multicast COUNT x SIZE to GROUP,
				 * then reply with the COUNT sent
				 */
	NLFAM_MSG_DUMP,		/* NLM_F_DUMP: COUNT entries of SIZE bytes */
	NLFAM_MSG_RESET,	/* CAP_NET_ADMIN: zero counters, bump generation */
	NLFAM_MSG_EVENT,	/* multicast notification (GROUP_EVENTS) */
	__NLFAM_MSG_MAX,
};

#define NLFAM_MSG_MAX (__NLFAM_MSG_MAX - 1)

/* Attributes. */
enum nlfam_attr {
	NLFAM_A_UNSPEC,
	NLFAM_A_TEXT,		/* string: at most NLFAM_TEXT_MAX bytes, then NUL */
	NLFAM_A_DATA,		/* binary, at most NLFAM_DATA_MAX bytes */
	NLFAM_A_COUNT,		/* u32 */
	NLFAM_A_SIZE,		/* u32: payload bytes per flood/dump message */
	NLFAM_A_GROUP,		/* u32: multicast group, 1..NLFAM_GRP_MAX */
	NLFAM_A_INDEX,		/* u32: position of a dump entry or flood message */
	NLFAM_A_STATS,		/* nested: NLFAM_STAT_* (u64 each) */
	NLFAM_A_GENERATION,	/* u32: the namespace's state generation */
	NLFAM_A_PAD,		/* padding for 64-bit attributes */
	__NLFAM_A_MAX,
};

#define NLFAM_A_MAX (__NLFAM_A_MAX - 1)

/* Counters nested in NLFAM_A_STATS; each a u64. */
enum nlfam_stat {
	NLFAM_STAT_UNSPEC,
	NLFAM_STAT_MSGS,	/* messages received */
	NLFAM_STAT_BYTES,	/* bytes received (nlmsg_len summed) */
	NLFAM_STAT_REPLIES,	/* unicast replies sent */
	NLFAM_STAT_MCASTS,	/* multicast messages sent */
	NLFAM_STAT_DELIVERY_FAIL, /* unicast or multicast delivery failures */
	NLFAM_STAT_ERRORS,	/* requests answered with an error */
	NLFAM_STAT_SINK,	/* sink messages counted */
	NLFAM_STAT_PAD,
	__NLFAM_STAT_MAX,
};

#define NLFAM_STAT_MAX (__NLFAM_STAT_MAX - 1)

/* Multicast groups (netlink group numbers, 1-based). */
enum nlfam_group {
	NLFAM_GRP_NONE,
	NLFAM_GRP_EVENTS,	/* 1: state changes (reset) */
	NLFAM_GRP_HELLO,	/* 2: the article's group multicast */
	NLFAM_GRP_FLOOD,	/* 3: default target of NLFAM_MSG_FLOOD */
	NLFAM_GRP_SPARE,	/* 4: free for tests */
	__NLFAM_GRP_MAX,
};

#define NLFAM_GRP_MAX (__NLFAM_GRP_MAX - 1)

/* Limits. */
#define NLFAM_TEXT_MAX		256
#define NLFAM_DATA_MAX		16384
#define NLFAM_FLOOD_MAX_COUNT	10000000
#define NLFAM_DUMP_MAX_COUNT	100000000
#define NLFAM_MSG_SIZE_MAX	16384
/* Largest ECHO payload (all attributes), bytes. */
#define NLFAM_ECHO_MAX		65536

/*
 * Limits for unprivileged users (see "Who may do what" in kernel/README.md).
 * A FLOOD from a sender without CAP_NET_ADMIN in the initial user namespace
 * (e.g. root of its own user namespace) may ask for at most
 * NLFAM_FLOOD_UNPRIV_COUNT messages and NLFAM_FLOOD_UNPRIV_BYTES of DATA
 * (COUNT * SIZE); more is refused with EPERM.
 */
#define NLFAM_FLOOD_UNPRIV_COUNT	100000
#define NLFAM_FLOOD_UNPRIV_BYTES	16777216
/*
 * A FLOOD stops when no socket in the sender's namespace took its first
 * message, or took none for this long.
 */
#define NLFAM_FLOOD_IDLE_MS	1000
/*
 * MCAST_HELLO from senders without CAP_NET_ADMIN over the namespace: at most
 * this many per second in each namespace, all such senders together; more
 * are refused with EBUSY.
 */
#define NLFAM_MCAST_UNPRIV_PER_SEC	100

/* The article's texts. */
#define NLFAM_HELLO_TEXT	"HELLO KERNEL FROM USER"
#define NLFAM_HELLO_REPLY	"HELLO USER UNICAST FROM KERNEL"
#define NLFAM_HELLO_MCAST	"HELLO USER GROUP MULTICAST FROM KERNEL"

#endif /* _UAPI_NLFAST_FAMILY_H */
