// SPDX-License-Identifier: GPL-2.0
/*
 * nlfast_family: the request types.
 *
 * Every request's payload is netlink attributes right after the nlmsghdr,
 * checked by nlmsg_parse() (strict) against the type's policy before its
 * handler runs.  Handlers run in the sender's context, may sleep, and send
 * replies to NETLINK_CB(skb).portid through nlfam_reply().
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/capability.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/stringify.h>
#include <net/netlink.h>

#include "nlfast_family_priv.h"

/*
 * Flood and dump payloads: byte i of entry "index" is (index + i) & 0xff,
 * i.e. SIZE bytes of this table from offset index & 0xff.
 */
static u8 nlfam_pattern[NLFAM_MSG_SIZE_MAX + 0xff] __ro_after_init;

/**
 * struct nlfam_dump_ctx - a dump request and its position
 * @count: entries to send
 * @size: DATA bytes per entry
 * @next: index of the next entry; kept in netlink_callback.ctx
 *	so the dump resumes where the previous recv() stopped
 */
struct nlfam_dump_ctx {
	u32 count;
	u32 size;
	u32 next;
};

static_assert(sizeof(struct nlfam_dump_ctx) <=
	      sizeof_field(struct netlink_callback, ctx));

/* The GROUP range message below spells the bound out. */
static_assert(NLFAM_GRP_MAX == 4);

/**
 * struct nlfam_op - how one request type is handled
 * @doit: the handler; @tb holds the attributes that passed @policy
 * @policy: the attributes this type accepts; strict parsing rejects others
 * @bounds: ranges of its u32 attributes, checked after @policy, or NULL
 * @admin: the sender needs CAP_NET_ADMIN over the socket's namespace
 */
struct nlfam_op {
	int (*doit)(struct sk_buff *skb, struct nlmsghdr *nlh,
		    struct nlattr **tb, struct netlink_ext_ack *extack);
	const struct nla_policy *policy;
	const struct nlfam_bound *bounds;
	bool admin;
};

/**
 * struct nlfam_bound - the range of a u32 attribute
 * @attr: the attribute (0 ends a list)
 * @min: smallest value accepted
 * @max: largest value accepted
 * @msg: the extended-ack message when it is out of range
 *
 * Checked after nlmsg_parse() has accepted the message, so the message set
 * here never replaces one the netlink core or policy validation set.  (A
 * policy validation function would do the same inside validation, but the
 * 6.1 core cannot describe such a policy in an ack: it WARNs.)
 */
struct nlfam_bound {
	u16 attr;
	u32 min;
	u32 max;
	const char *msg;
};

#define NLFAM_GROUP_BOUND \
	{ NLFAM_A_GROUP, 1, NLFAM_GRP_MAX, "GROUP must be 1..4" }
#define NLFAM_SIZE_BOUND \
	{ NLFAM_A_SIZE, 0, NLFAM_MSG_SIZE_MAX, \
	  "SIZE must be 0.." __stringify(NLFAM_MSG_SIZE_MAX) }

static const struct nlfam_bound nlfam_mcast_bounds[] = {
	NLFAM_GROUP_BOUND,
	{ }
};

static const struct nlfam_bound nlfam_flood_bounds[] = {
	{ NLFAM_A_COUNT, 1, NLFAM_FLOOD_MAX_COUNT,
	  "COUNT must be 1.." __stringify(NLFAM_FLOOD_MAX_COUNT) },
	NLFAM_SIZE_BOUND,
	NLFAM_GROUP_BOUND,
	{ }
};

static const struct nlfam_bound nlfam_dump_bounds[] = {
	{ NLFAM_A_COUNT, 1, NLFAM_DUMP_MAX_COUNT,
	  "COUNT must be 1.." __stringify(NLFAM_DUMP_MAX_COUNT) },
	NLFAM_SIZE_BOUND,
	{ }
};

/* No attribute accepted. */
static const struct nla_policy nlfam_none_policy[NLFAM_A_MAX + 1];

static const struct nla_policy nlfam_hello_policy[NLFAM_A_MAX + 1] = {
	[NLFAM_A_TEXT]	= { .type = NLA_NUL_STRING, .len = NLFAM_TEXT_MAX },
};

static const struct nla_policy nlfam_mcast_policy[NLFAM_A_MAX + 1] = {
	[NLFAM_A_GROUP]	= { .type = NLA_U32 },
};

/* ECHO and SINK. */
static const struct nla_policy nlfam_payload_policy[NLFAM_A_MAX + 1] = {
	[NLFAM_A_TEXT]	= { .type = NLA_NUL_STRING, .len = NLFAM_TEXT_MAX },
	[NLFAM_A_DATA]	= { .type = NLA_BINARY, .len = NLFAM_DATA_MAX },
};

static const struct nla_policy nlfam_flood_policy[NLFAM_A_MAX + 1] = {
	[NLFAM_A_COUNT]	= { .type = NLA_U32 },
	[NLFAM_A_SIZE]	= { .type = NLA_U32 },
	[NLFAM_A_GROUP]	= { .type = NLA_U32 },
};

static const struct nla_policy nlfam_dump_policy[NLFAM_A_MAX + 1] = {
	[NLFAM_A_COUNT]	= { .type = NLA_U32 },
	[NLFAM_A_SIZE]	= { .type = NLA_U32 },
};

void nlfam_ops_init(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(nlfam_pattern); i++)
		nlfam_pattern[i] = i & 0xff;
}

static u32 nlfam_get_u32(const struct nlattr *attr, u32 fallback)
{
	return attr ? nla_get_u32(attr) : fallback;
}

/* Payload of one flood or dump message carrying @size DATA bytes. */
static size_t nlfam_entry_payload(u32 size)
{
	return nla_total_size(sizeof(u32)) + nla_total_size(size);
}

static int nlfam_put_entry(struct sk_buff *skb, u32 index, u32 size)
{
	struct nlattr *data;

	if (nla_put_u32(skb, NLFAM_A_INDEX, index))
		return -EMSGSIZE;
	data = nla_reserve(skb, NLFAM_A_DATA, size);
	if (!data)
		return -EMSGSIZE;
	memcpy(nla_data(data), &nlfam_pattern[index & 0xff], size);
	return 0;
}

/* A message of @type with one u32 attribute or one string attribute. */
static struct sk_buff *nlfam_new_msg(u32 portid, u32 seq, u16 type,
				     int attrtype, const char *text, u32 value)
{
	size_t len = text ? strlen(text) + 1 : sizeof(u32);
	struct nlmsghdr *nlh;
	struct sk_buff *skb;

	skb = nlmsg_new(nla_total_size(len), GFP_KERNEL);
	if (!skb)
		return NULL;
	nlh = nlmsg_put(skb, portid, seq, type, 0, 0);
	if (!nlh)
		goto free_skb;
	if (text ? nla_put_string(skb, attrtype, text) :
		   nla_put_u32(skb, attrtype, value))
		goto free_skb;
	nlmsg_end(skb, nlh);
	return skb;

free_skb:
	nlmsg_free(skb);
	return NULL;
}

/* HELLO: log TEXT, reply NLFAM_HELLO_REPLY. */
static int nlfam_hello(struct sk_buff *skb, struct nlmsghdr *nlh,
		       struct nlattr **tb, struct netlink_ext_ack *extack)
{
	const struct nlattr *text = tb[NLFAM_A_TEXT];
	struct sk_buff *reply;

	if (NL_REQ_ATTR_CHECK(extack, NULL, tb, NLFAM_A_TEXT)) {
		NL_SET_ERR_MSG(extack, "HELLO needs a TEXT attribute");
		return -EINVAL;
	}

	/*
	 * The policy guarantees a NUL within the attribute; strnlen() stops at
	 * its end all the same, and %pE escapes what is not printable.
	 */
	pr_info_ratelimited("hello from port %u: \"%*pE\"\n",
			    NETLINK_CB(skb).portid,
			    (int)strnlen(nla_data(text), nla_len(text)),
			    nla_data(text));

	reply = nlfam_new_msg(NETLINK_CB(skb).portid, nlh->nlmsg_seq,
			      NLFAM_MSG_HELLO, NLFAM_A_TEXT,
			      NLFAM_HELLO_REPLY, 0);
	if (!reply)
		return -ENOMEM;
	return nlfam_reply(skb, reply);
}

/*
 * MCAST_HELLO: multicast NLFAM_HELLO_MCAST to GROUP (default HELLO).  The
 * EVENTS group carries only the module's own events, so nobody may send
 * there; senders without CAP_NET_ADMIN over the namespace share a budget of
 * NLFAM_MCAST_UNPRIV_PER_SEC per second.
 */
static int nlfam_mcast_hello(struct sk_buff *skb, struct nlmsghdr *nlh,
			     struct nlattr **tb, struct netlink_ext_ack *extack)
{
	u32 group = nlfam_get_u32(tb[NLFAM_A_GROUP], NLFAM_GRP_HELLO);
	struct nlfam_net *nn = nlfam_pernet(sock_net(skb->sk));
	struct sk_buff *msg;

	if (group == NLFAM_GRP_EVENTS) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NLFAM_A_GROUP],
				    "the EVENTS group carries only the module's own events");
		return -EPERM;
	}
	if (!netlink_net_capable(skb, CAP_NET_ADMIN) &&
	    !nlfam_mcast_allowed(nn)) {
		NL_SET_ERR_MSG(extack, "MCAST_HELLO without CAP_NET_ADMIN: at most "
			       __stringify(NLFAM_MCAST_UNPRIV_PER_SEC)
			       " per second in a namespace");
		return -EBUSY;
	}

	if (!netlink_has_listeners(skb->sk, group))
		return 0;

	msg = nlfam_new_msg(0, 0, NLFAM_MSG_HELLO, NLFAM_A_TEXT,
			    NLFAM_HELLO_MCAST, 0);
	if (!msg)
		return -ENOMEM;
	nlfam_multicast(skb->sk, msg, group);
	return 0;
}

/*
 * ECHO: one reply with the request's type and seq, flags 0, and its payload
 * byte for byte (nlmsg_len too, so no nlmsg_end() that would pad it).
 */
static int nlfam_echo(struct sk_buff *skb, struct nlmsghdr *nlh,
		      struct nlattr **tb, struct netlink_ext_ack *extack)
{
	int len = nlmsg_len(nlh);
	struct sk_buff *reply;
	struct nlmsghdr *rnlh;

	if (len > NLFAM_ECHO_MAX) {
		NL_SET_ERR_MSG(extack, "ECHO payload is larger than "
			       __stringify(NLFAM_ECHO_MAX) " bytes");
		return -EMSGSIZE;
	}

	reply = nlmsg_new(len, GFP_KERNEL | __GFP_NOWARN);
	if (!reply)
		return -ENOMEM;
	rnlh = nlmsg_put(reply, NETLINK_CB(skb).portid, nlh->nlmsg_seq,
			 nlh->nlmsg_type, len, 0);
	if (!rnlh) {
		nlmsg_free(reply);
		return -EMSGSIZE;
	}
	memcpy(nlmsg_data(rnlh), nlmsg_data(nlh), len);
	return nlfam_reply(skb, reply);
}

/* SINK: counted and dropped. */
static int nlfam_sink(struct sk_buff *skb, struct nlmsghdr *nlh,
		      struct nlattr **tb, struct netlink_ext_ack *extack)
{
	nlfam_stat_add(nlfam_pernet(sock_net(skb->sk)), NLFAM_STAT_SINK, 1);
	return 0;
}

/* STATS: reply with the namespace's counters and generation. */
static int nlfam_stats(struct sk_buff *skb, struct nlmsghdr *nlh,
		       struct nlattr **tb, struct netlink_ext_ack *extack)
{
	struct nlfam_net *nn = nlfam_pernet(sock_net(skb->sk));
	u64 vals[__NLFAM_STAT_MAX];
	struct sk_buff *reply;
	struct nlmsghdr *rnlh;
	struct nlattr *nest;
	int i;

	nlfam_stats_read(nn, vals);

	reply = nlmsg_new(nla_total_size(0) +
			  NLFAM_STAT_MAX * nla_total_size_64bit(sizeof(u64)) +
			  nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	rnlh = nlmsg_put(reply, NETLINK_CB(skb).portid, nlh->nlmsg_seq,
			 NLFAM_MSG_STATS, 0, 0);
	if (!rnlh)
		goto free_reply;

	nest = nla_nest_start(reply, NLFAM_A_STATS);
	if (!nest)
		goto free_reply;
	for (i = NLFAM_STAT_UNSPEC + 1; i <= NLFAM_STAT_MAX; i++) {
		if (i == NLFAM_STAT_PAD)
			continue;
		if (nla_put_u64_64bit(reply, i, vals[i],
				      NLFAM_STAT_PAD))
			goto free_reply;
	}
	nla_nest_end(reply, nest);

	if (nla_put_u32(reply, NLFAM_A_GENERATION, nlfam_generation(nn)))
		goto free_reply;
	nlmsg_end(reply, rnlh);
	return nlfam_reply(skb, reply);

free_reply:
	nlmsg_free(reply);
	return -EMSGSIZE;
}

/* One flood message: NLFAM_MSG_FLOOD with INDEX and SIZE bytes of DATA. */
static struct sk_buff *nlfam_flood_msg(u32 index, u32 size)
{
	struct nlmsghdr *nlh;
	struct sk_buff *msg;

	msg = nlmsg_new(nlfam_entry_payload(size), GFP_KERNEL);
	if (!msg)
		return NULL;
	nlh = nlmsg_put(msg, 0, 0, NLFAM_MSG_FLOOD, 0, 0);
	if (!nlh || nlfam_put_entry(msg, index, size)) {
		nlmsg_free(msg);
		return NULL;
	}
	nlmsg_end(msg, nlh);
	return msg;
}

/**
 * nlfam_flood - multicast COUNT messages of SIZE bytes to GROUP
 * @skb: the request
 * @nlh: its header
 * @tb: its attributes: COUNT (required), SIZE and GROUP (optional)
 * @extack: extended ack
 *
 * Each message is NLFAM_MSG_FLOOD with INDEX and DATA.  A sender without
 * CAP_NET_ADMIN in the initial user namespace is held to
 * NLFAM_FLOOD_UNPRIV_COUNT messages and NLFAM_FLOOD_UNPRIV_BYTES of DATA.
 *
 * The flood stops early:
 * - when the sender has any signal pending (-ECANCELED);
 * - when nobody subscribes to the group in any namespace
 *   (netlink_has_listeners(), which sees the whole protocol);
 * - when no socket in the sender's namespace took the first message, or
 *   took none for NLFAM_FLOOD_IDLE_MS (netlink_broadcast() answers -ESRCH
 *   when it delivered to nobody; a listener with a full queue counts as
 *   nobody, so a reader that keeps up loses messages but no flood).
 * It yields the CPU between messages.  Whether complete or not, the sender
 * gets a NLFAM_MSG_FLOOD reply whose COUNT is the number of messages sent,
 * before the ack.
 *
 * Return: 0, -EINVAL without COUNT, -EPERM over the unprivileged limits,
 * -ECANCELED on a signal, or -ENOMEM.
 */
static int nlfam_flood(struct sk_buff *skb, struct nlmsghdr *nlh,
		       struct nlattr **tb, struct netlink_ext_ack *extack)
{
	unsigned long idle = msecs_to_jiffies(NLFAM_FLOOD_IDLE_MS);
	unsigned long last_taken = jiffies;
	struct sock *sk = skb->sk;
	u32 count, size, group, sent;
	struct sk_buff *msg;
	int err = 0, ret;

	if (NL_REQ_ATTR_CHECK(extack, NULL, tb, NLFAM_A_COUNT)) {
		NL_SET_ERR_MSG(extack, "FLOOD needs a COUNT attribute");
		return -EINVAL;
	}
	count = nla_get_u32(tb[NLFAM_A_COUNT]);
	size = nlfam_get_u32(tb[NLFAM_A_SIZE], 0);
	group = nlfam_get_u32(tb[NLFAM_A_GROUP], NLFAM_GRP_FLOOD);

	if (!netlink_capable(skb, CAP_NET_ADMIN) &&
	    (count > NLFAM_FLOOD_UNPRIV_COUNT ||
	     (u64)count * size > NLFAM_FLOOD_UNPRIV_BYTES)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[NLFAM_A_COUNT],
				    "FLOOD without CAP_NET_ADMIN in the initial namespace: COUNT at most "
				    __stringify(NLFAM_FLOOD_UNPRIV_COUNT)
				    " and COUNT * SIZE at most "
				    __stringify(NLFAM_FLOOD_UNPRIV_BYTES));
		return -EPERM;
	}

	for (sent = 0; sent < count; ) {
		if (signal_pending(current)) {
			NL_SET_ERR_MSG(extack,
				       "FLOOD stopped by a signal: the reply's COUNT says how many were sent");
			err = -ECANCELED;
			break;
		}
		if (!netlink_has_listeners(sk, group))
			break;

		msg = nlfam_flood_msg(sent, size);
		if (!msg) {
			err = -ENOMEM;
			break;
		}
		ret = nlfam_multicast(sk, msg, group);
		sent++;
		if (ret != -ESRCH)
			last_taken = jiffies;
		else if (sent == 1 || time_after(jiffies, last_taken + idle))
			break;
		cond_resched();
	}

	msg = nlfam_new_msg(NETLINK_CB(skb).portid, nlh->nlmsg_seq,
			    NLFAM_MSG_FLOOD, NLFAM_A_COUNT, NULL, sent);
	if (!msg)
		return -ENOMEM;
	nlfam_reply(skb, msg);
	return err;
}

static int nlfam_dump_start(struct netlink_callback *cb)
{
	struct nlfam_dump_ctx *ctx = (struct nlfam_dump_ctx *)cb->ctx;

	/*
	 * cb->data is the request that nlfam_dump() parsed, on its stack:
	 * netlink_dump_start() calls us before it returns.
	 */
	*ctx = *(const struct nlfam_dump_ctx *)cb->data;
	cb->data = NULL;
	return 0;
}

/**
 * nlfam_dump_fill - put as many dump entries as fit in one skb
 * @skb: the skb to fill, owned by the requesting socket
 * @cb: the dump's state; the position is in cb->ctx
 *
 * Called again for each recv() until it returns 0, which makes af_netlink
 * append NLMSG_DONE.  cb->seq is the namespace's generation, so entries put
 * after a RESET carry NLM_F_DUMP_INTR.
 *
 * Return: bytes put, 0 when done, -EMSGSIZE if not even one entry fits.
 */
static int nlfam_dump_fill(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlfam_dump_ctx *ctx = (struct nlfam_dump_ctx *)cb->ctx;
	struct nlfam_net *nn = nlfam_pernet(sock_net(skb->sk));
	u32 portid = NETLINK_CB(cb->skb).portid;
	u32 seq = cb->nlh->nlmsg_seq;
	u32 first = ctx->next;
	struct nlmsghdr *nlh;

	cb->seq = nlfam_generation(nn);

	while (ctx->next < ctx->count) {
		nlh = nlmsg_put(skb, portid, seq, NLFAM_MSG_DUMP, 0,
				NLM_F_MULTI);
		if (!nlh)
			break;
		if (nlfam_put_entry(skb, ctx->next, ctx->size)) {
			nlmsg_cancel(skb, nlh);
			break;
		}
		nlmsg_end(skb, nlh);
		nl_dump_check_consistent(cb, nlh);
		ctx->next++;
	}

	if (ctx->next == first && ctx->next < ctx->count)
		return -EMSGSIZE;
	nlfam_stat_add(nn, NLFAM_STAT_REPLIES, ctx->next - first);
	return skb->len;
}

/* DUMP: start a dump of COUNT entries of SIZE bytes (needs NLM_F_DUMP). */
static int nlfam_dump(struct sk_buff *skb, struct nlmsghdr *nlh,
		      struct nlattr **tb, struct netlink_ext_ack *extack)
{
	struct nlfam_dump_ctx req = {};
	struct netlink_dump_control control = {
		.start	= nlfam_dump_start,
		.dump	= nlfam_dump_fill,
		.data	= &req,
		.module	= THIS_MODULE,
	};

	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP) {
		NL_SET_ERR_MSG(extack, "DUMP needs the NLM_F_DUMP flag");
		return -EINVAL;
	}
	if (NL_REQ_ATTR_CHECK(extack, NULL, tb, NLFAM_A_COUNT)) {
		NL_SET_ERR_MSG(extack, "DUMP needs a COUNT attribute");
		return -EINVAL;
	}
	req.count = nla_get_u32(tb[NLFAM_A_COUNT]);
	req.size = nlfam_get_u32(tb[NLFAM_A_SIZE], 0);
	/* Every skb of the dump must hold at least one entry. */
	control.min_dump_alloc = nlmsg_total_size(nlfam_entry_payload(req.size));

	/* Returns -EINTR once the dump runs: netlink_rcv_skb() sends no ack. */
	return netlink_dump_start(skb->sk, skb, nlh, &control);
}

/* RESET: zero the counters, bump the generation, tell GROUP_EVENTS. */
static int nlfam_reset(struct sk_buff *skb, struct nlmsghdr *nlh,
		       struct nlattr **tb, struct netlink_ext_ack *extack)
{
	struct nlfam_net *nn = nlfam_pernet(sock_net(skb->sk));
	struct sk_buff *msg;
	u32 gen;

	nlfam_stats_reset(nn);
	gen = nlfam_generation_bump(nn);

	if (!netlink_has_listeners(skb->sk, NLFAM_GRP_EVENTS))
		return 0;
	msg = nlfam_new_msg(0, 0, NLFAM_MSG_EVENT, NLFAM_A_GENERATION,
			    NULL, gen);
	if (!msg)
		return -ENOMEM;
	nlfam_multicast(skb->sk, msg, NLFAM_GRP_EVENTS);
	return 0;
}

/* Indexed by message type; types without a handler are refused. */
static const struct nlfam_op nlfam_ops[NLFAM_MSG_MAX + 1] = {
	[NLFAM_MSG_HELLO] = {
		.doit	= nlfam_hello,
		.policy	= nlfam_hello_policy,
	},
	[NLFAM_MSG_MCAST_HELLO] = {
		.doit	= nlfam_mcast_hello,
		.policy	= nlfam_mcast_policy,
		.bounds	= nlfam_mcast_bounds,
	},
	[NLFAM_MSG_ECHO] = {
		.doit	= nlfam_echo,
		.policy	= nlfam_payload_policy,
	},
	[NLFAM_MSG_SINK] = {
		.doit	= nlfam_sink,
		.policy	= nlfam_payload_policy,
	},
	[NLFAM_MSG_STATS] = {
		.doit	= nlfam_stats,
		.policy	= nlfam_none_policy,
	},
	[NLFAM_MSG_FLOOD] = {
		.doit	= nlfam_flood,
		.policy	= nlfam_flood_policy,
		.bounds	= nlfam_flood_bounds,
		.admin	= true,
	},
	[NLFAM_MSG_DUMP] = {
		.doit	= nlfam_dump,
		.policy	= nlfam_dump_policy,
		.bounds	= nlfam_dump_bounds,
	},
	[NLFAM_MSG_RESET] = {
		.doit	= nlfam_reset,
		.policy	= nlfam_none_policy,
		.admin	= true,
	},
};

/* Out of range: -ERANGE, the attribute and the bound in the extended ack. */
static int nlfam_check_bounds(const struct nlfam_bound *b, struct nlattr **tb,
			      struct netlink_ext_ack *extack)
{
	const struct nlattr *attr;
	u32 v;

	for (; b && b->attr; b++) {
		attr = tb[b->attr];
		if (!attr)
			continue;
		v = nla_get_u32(attr);
		if (v >= b->min && v <= b->max)
			continue;
		NL_SET_BAD_ATTR(extack, attr);
		if (extack)
			extack->_msg = b->msg;
		return -ERANGE;
	}
	return 0;
}

/**
 * nlfam_op_run - check and handle one request
 * @skb: the datagram, skb->sk being the namespace's kernel socket
 * @nlh: the request, its length already checked by netlink_rcv_skb()
 * @extack: extended ack, reported with a non-zero return
 *
 * Refuses unknown types (-EOPNOTSUPP) and privileged types from senders
 * without CAP_NET_ADMIN (-EPERM) before looking at the payload, then parses
 * the payload strictly against the type's policy, checks the ranges of its
 * u32 attributes and calls the handler.
 *
 * Return: 0, -EINTR when no ack must be sent, or a negative errno.
 */
int nlfam_op_run(struct sk_buff *skb, struct nlmsghdr *nlh,
		 struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NLFAM_A_MAX + 1];
	unsigned int type = nlh->nlmsg_type;
	const struct nlfam_op *op;
	int err;

	if (type >= ARRAY_SIZE(nlfam_ops)) {
		NL_SET_ERR_MSG(extack, "unknown message type");
		return -EOPNOTSUPP;
	}
	op = &nlfam_ops[array_index_nospec(type, ARRAY_SIZE(nlfam_ops))];
	if (!op->doit) {
		NL_SET_ERR_MSG(extack, "unknown message type");
		return -EOPNOTSUPP;
	}

	if (op->admin && !netlink_net_capable(skb, CAP_NET_ADMIN)) {
		NL_SET_ERR_MSG(extack, "this request needs CAP_NET_ADMIN");
		return -EPERM;
	}

	/* On error the core has set the extended ack: it stays as it is. */
	err = nlmsg_parse(nlh, 0, tb, NLFAM_A_MAX, op->policy, extack);
	if (err)
		return err;
	err = nlfam_check_bounds(op->bounds, tb, extack);
	if (err)
		return err;

	return op->doit(skb, nlh, tb, extack);
}
