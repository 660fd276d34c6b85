/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nlfast_family: declarations shared by the module's source files.
 */
#ifndef _NLFAST_FAMILY_PRIV_H
#define _NLFAST_FAMILY_PRIV_H

#include <linux/atomic.h>
#include <linux/percpu.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/u64_stats_sync.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "uapi/nlfast_family.h"

/**
 * struct nlfam_pcpu_stats - one CPU's share of a namespace's counters
 * @c: counters, indexed by enum nlfam_stat (UNSPEC and PAD unused)
 * @syncp: lets 32-bit readers see whole 64-bit values
 */
struct nlfam_pcpu_stats {
	u64_stats_t c[__NLFAM_STAT_MAX];
	struct u64_stats_sync syncp;
};

/**
 * struct nlfam_net - the family's state in one network namespace
 * @sk: the namespace's kernel socket of the protocol
 * @stats: per-CPU counters, bumped by the CPU that handles a message and
 *	summed on read: no cache line bounces between senders on different CPUs
 * @stats_lock: protects @stats_base
 * @stats_base: the sums at the last RESET, subtracted on read
 * @generation: bumped by RESET; never 0, so it can serve as a dump's
 *	consistency sequence (see nl_dump_check_consistent())
 * @mcast_lock: protects @mcast_window and @mcast_used
 * @mcast_window: jiffies when the current one-second window began
 * @mcast_used: MCAST_HELLOs from unprivileged senders in that window
 */
struct nlfam_net {
	struct sock *sk;
	struct nlfam_pcpu_stats __percpu *stats;
	spinlock_t stats_lock; /* protects stats_base */
	u64 stats_base[__NLFAM_STAT_MAX];
	atomic_t generation;
	spinlock_t mcast_lock; /* protects mcast_window, mcast_used */
	unsigned long mcast_window;
	unsigned int mcast_used;
};

/* nlfast_family_main.c */
struct nlfam_net *nlfam_pernet(const struct net *net);
void nlfam_stat_add(struct nlfam_net *nn, enum nlfam_stat stat, u64 n);
void nlfam_stats_reset(struct nlfam_net *nn);
void nlfam_stats_read(struct nlfam_net *nn, u64 *vals);
u32 nlfam_generation(struct nlfam_net *nn);
u32 nlfam_generation_bump(struct nlfam_net *nn);
bool nlfam_mcast_allowed(struct nlfam_net *nn);
int nlfam_reply(struct sk_buff *in_skb, struct sk_buff *skb);
int nlfam_multicast(struct sock *sk, struct sk_buff *skb, unsigned int group);

/* nlfast_family_ops.c */
void nlfam_ops_init(void);
int nlfam_op_run(struct sk_buff *skb, struct nlmsghdr *nlh,
		 struct netlink_ext_ack *extack);

#endif /* _NLFAST_FAMILY_PRIV_H */
