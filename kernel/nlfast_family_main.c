// SPDX-License-Identifier: GPL-2.0
/*
 * nlfast_family: a classic netlink protocol family for testing and
 * benchmarking the nlfast Python library.
 *
 * This file holds the module's life cycle: the "proto" parameter, one kernel
 * socket per network namespace (pernet_operations), the receive path and the
 * helpers that count and send.  The operations live in nlfast_family_ops.c.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/percpu.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/netns/generic.h>

#include "nlfast_family_priv.h"

static unsigned int proto = NLFAM_PROTO_DEFAULT;
module_param(proto, uint, 0444);
MODULE_PARM_DESC(proto, "netlink protocol number to register (default "
		 __stringify(NLFAM_PROTO_DEFAULT) ", must be below 32)");

static unsigned int nlfam_net_id __read_mostly;

/**
 * nlfam_pernet - the family's state in a network namespace
 * @net: the namespace
 *
 * Return: the state allocated by the pernet core for @net.
 */
struct nlfam_net *nlfam_pernet(const struct net *net)
{
	return net_generic(net, nlfam_net_id);
}

/* Called in process context only (sendmsg, recvmsg), never from softirq. */
void nlfam_stat_add(struct nlfam_net *nn, enum nlfam_stat stat, u64 n)
{
	struct nlfam_pcpu_stats *s = get_cpu_ptr(nn->stats);

	u64_stats_update_begin(&s->syncp);
	u64_stats_add(&s->c[stat], n);
	u64_stats_update_end(&s->syncp);
	put_cpu_ptr(nn->stats);
}

/* Every CPU's counters added up; each only grows. */
static void nlfam_stats_sum(struct nlfam_net *nn, u64 *sum)
{
	u64 v[__NLFAM_STAT_MAX];
	unsigned int start, cpu, i;

	memset(sum, 0, sizeof(v));
	for_each_possible_cpu(cpu) {
		const struct nlfam_pcpu_stats *s = per_cpu_ptr(nn->stats, cpu);

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < __NLFAM_STAT_MAX; i++)
				v[i] = u64_stats_read(&s->c[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (i = 0; i < __NLFAM_STAT_MAX; i++)
			sum[i] += v[i];
	}
}

/**
 * nlfam_stats_reset - zero a namespace's counters as readers see them
 * @nn: the namespace's state
 *
 * Other CPUs' counters cannot be written from here, so the current sums
 * become the base that nlfam_stats_read() subtracts.
 */
void nlfam_stats_reset(struct nlfam_net *nn)
{
	spin_lock(&nn->stats_lock);
	nlfam_stats_sum(nn, nn->stats_base);
	spin_unlock(&nn->stats_lock);
}

/**
 * nlfam_stats_read - a namespace's counters since its last RESET
 * @nn: the namespace's state
 * @vals: __NLFAM_STAT_MAX values, indexed by enum nlfam_stat
 *
 * The base is read before the sums: counters only grow, so no value goes
 * below zero when a RESET runs meanwhile.
 */
void nlfam_stats_read(struct nlfam_net *nn, u64 *vals)
{
	u64 base[__NLFAM_STAT_MAX];
	unsigned int i;

	spin_lock(&nn->stats_lock);
	memcpy(base, nn->stats_base, sizeof(base));
	spin_unlock(&nn->stats_lock);

	nlfam_stats_sum(nn, vals);
	for (i = 0; i < __NLFAM_STAT_MAX; i++)
		vals[i] -= base[i];
}

u32 nlfam_generation(struct nlfam_net *nn)
{
	return (u32)atomic_read(&nn->generation);
}

/**
 * nlfam_generation_bump - advance a namespace's state generation
 * @nn: the namespace's state
 *
 * The generation skips 0 when it wraps: 0 means "no sequence" to
 * nl_dump_check_consistent().
 *
 * Return: the new generation.
 */
u32 nlfam_generation_bump(struct nlfam_net *nn)
{
	u32 gen;

	do {
		gen = (u32)atomic_inc_return(&nn->generation);
	} while (!gen);

	return gen;
}

/**
 * nlfam_mcast_allowed - take one MCAST_HELLO from the namespace's budget
 * @nn: the namespace's state
 *
 * The budget is NLFAM_MCAST_UNPRIV_PER_SEC per one-second window, shared by
 * every sender without CAP_NET_ADMIN over the namespace.
 *
 * Return: true if the request may go on.
 */
bool nlfam_mcast_allowed(struct nlfam_net *nn)
{
	bool ok;

	spin_lock(&nn->mcast_lock);
	if (time_after_eq(jiffies, nn->mcast_window + HZ)) {
		nn->mcast_window = jiffies;
		nn->mcast_used = 0;
	}
	ok = nn->mcast_used < NLFAM_MCAST_UNPRIV_PER_SEC;
	if (ok)
		nn->mcast_used++;
	spin_unlock(&nn->mcast_lock);
	return ok;
}

/**
 * nlfam_reply - unicast a reply to the sender of a request
 * @in_skb: the request, as handed to the kernel socket's input
 * @skb: the reply; always consumed
 *
 * The destination is the port the request came from, NETLINK_CB(in_skb).portid,
 * never the nlmsg_pid the sender wrote.  The send does not block: a receive
 * queue that is full drops the reply, marks the receiving socket overrun
 * (it reads ENOBUFS) and counts a delivery failure.
 *
 * Return: 0; a lost reply is counted, not reported to the request.
 */
int nlfam_reply(struct sk_buff *in_skb, struct sk_buff *skb)
{
	struct sock *sk = in_skb->sk;
	struct nlfam_net *nn = nlfam_pernet(sock_net(sk));

	if (nlmsg_unicast(sk, skb, NETLINK_CB(in_skb).portid))
		nlfam_stat_add(nn, NLFAM_STAT_DELIVERY_FAIL, 1);
	else
		nlfam_stat_add(nn, NLFAM_STAT_REPLIES, 1);
	return 0;
}

/**
 * nlfam_multicast - send a message to a group in the socket's namespace
 * @sk: the namespace's kernel socket
 * @skb: the message; always consumed
 * @group: the group, 1..NLFAM_GRP_MAX
 *
 * Counts a multicast, and a delivery failure when nobody received it
 * (-ESRCH: no listener in the namespace, or every one of them had a full
 * queue) or some listener overran (-ENOBUFS).  May sleep.
 *
 * Return: 0 or the negative errno of netlink_broadcast().
 */
int nlfam_multicast(struct sock *sk, struct sk_buff *skb, unsigned int group)
{
	struct nlfam_net *nn = nlfam_pernet(sock_net(sk));
	int err;

	err = nlmsg_multicast(sk, skb, 0, group, GFP_KERNEL);
	nlfam_stat_add(nn, NLFAM_STAT_MCASTS, 1);
	if (err)
		nlfam_stat_add(nn, NLFAM_STAT_DELIVERY_FAIL, 1);
	return err;
}

static int nlfam_rcv_msg(struct sk_buff *skb, struct nlmsghdr *nlh,
			 struct netlink_ext_ack *extack)
{
	struct nlfam_net *nn = nlfam_pernet(sock_net(skb->sk));
	int err;

	nlfam_stat_add(nn, NLFAM_STAT_MSGS, 1);
	nlfam_stat_add(nn, NLFAM_STAT_BYTES, nlh->nlmsg_len);

	err = nlfam_op_run(skb, nlh, extack);
	/* -EINTR: a dump started (or the sender is dying); no ack is sent. */
	if (err && err != -EINTR)
		nlfam_stat_add(nn, NLFAM_STAT_ERRORS, 1);
	return err;
}

/*
 * The kernel socket's input, called in the sender's context (sendmsg) with
 * skb->sk set to this kernel socket.  netlink_rcv_skb() walks every message
 * of the datagram in order, stops at a malformed length and sends the acks.
 */
static void nlfam_rcv(struct sk_buff *skb)
{
	netlink_rcv_skb(skb, nlfam_rcv_msg);
}

static int __net_init nlfam_net_init(struct net *net)
{
	struct nlfam_net *nn = nlfam_pernet(net);
	struct netlink_kernel_cfg cfg = {
		.input	= nlfam_rcv,
		.groups	= NLFAM_GRP_MAX,
		.flags	= NL_CFG_F_NONROOT_RECV,
	};
	unsigned int cpu;
	int err;

	nn->stats = alloc_percpu(struct nlfam_pcpu_stats);
	if (!nn->stats)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(nn->stats, cpu)->syncp);
	spin_lock_init(&nn->stats_lock);
	atomic_set(&nn->generation, 1);
	spin_lock_init(&nn->mcast_lock);
	nn->mcast_window = jiffies - HZ;

	/*
	 * Fails when a socket of the protocol already holds port 0 in this
	 * namespace (the protocol is taken); af_netlink then releases the new
	 * socket before anything is registered in nl_table.
	 */
	nn->sk = netlink_kernel_create(net, proto, &cfg);
	if (!nn->sk) {
		if (net_eq(net, &init_net)) {
			pr_err("protocol %u is already taken\n", proto);
			err = -EADDRINUSE;
			goto free_stats;
		}
		pr_err("cannot create the protocol %u socket in a network namespace\n",
		       proto);
		err = -ENOMEM;
		goto free_stats;
	}
	return 0;

free_stats:
	free_percpu(nn->stats);
	nn->stats = NULL;
	return err;
}

static void __net_exit nlfam_net_exit(struct net *net)
{
	struct nlfam_net *nn = nlfam_pernet(net);

	netlink_kernel_release(nn->sk);
	nn->sk = NULL;
	free_percpu(nn->stats);
	nn->stats = NULL;
}

static struct pernet_operations nlfam_net_ops = {
	.init	= nlfam_net_init,
	.exit	= nlfam_net_exit,
	.id	= &nlfam_net_id,
	.size	= sizeof(struct nlfam_net),
};

static int __init nlfam_init(void)
{
	int err;

	if (proto >= MAX_LINKS) {
		pr_err("protocol %u is out of range (0..%d)\n",
		       proto, MAX_LINKS - 1);
		return -EINVAL;
	}
	/*
	 * NETLINK_USERSOCK is registered by af_netlink itself without a kernel
	 * socket: a socket created there would not own the protocol (no groups,
	 * flags or module reference of ours).
	 */
	if (proto == NETLINK_USERSOCK) {
		pr_err("protocol %u is already taken (NETLINK_USERSOCK)\n",
		       proto);
		return -EADDRINUSE;
	}

	nlfam_ops_init();

	err = register_pernet_subsys(&nlfam_net_ops);
	if (err) {
		pr_err("cannot register protocol %u: %d\n", proto, err);
		return err;
	}

	pr_info("netlink protocol %u registered\n", proto);
	return 0;
}

static void __exit nlfam_exit(void)
{
	unregister_pernet_subsys(&nlfam_net_ops);
	pr_info("netlink protocol %u unregistered\n", proto);
}

module_init(nlfam_init);
module_exit(nlfam_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("nlfast developers");
MODULE_DESCRIPTION("nlfast netlink family: echo, sink, flood and dump for benchmarks");
MODULE_ALIAS_NET_PF_PROTO(PF_NETLINK, NLFAM_PROTO_DEFAULT);
