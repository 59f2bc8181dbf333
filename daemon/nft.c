/* nftables backend over libnftnl + libmnl (see nft.h).
 *
 * Every change is one batch: BEGIN, messages with NLM_F_ACK, END, one
 * sendmsg. nfnetlink processes the batch synchronously inside sendmsg, so
 * every ACK, error and echo is queued when sendmsg returns; we drain them
 * all and map each error back to its message by sequence number. */
#include "nft.h"
#include "log.h"
#include "util.h"

#include <endian.h>
#include <unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#define NFT_BUF_SIZE (64 * 1024)
#define NFT_MAX_BATCH 128

struct ph_nft {
	struct mnl_socket *nl;
	struct mnl_socket *mon;   /* NFNLGRP_NFTABLES listener, while windows are open */
	uint32_t portid;
	uint32_t seq;
	char *buf;        /* NFT_BUF_SIZE, for batches and replies */
	/* target chains as of ruleset generation cache_genid: opening a window
	 * is then one batch bound to that generation (refused if stale) */
	int cache_valid;
	uint32_t cache_genid;
	struct ph_chain_ref cache[PH_MAX_CHAINS];
	unsigned ncache;
};

int nft_open(struct ph_nft **out)
{
	struct ph_nft *n;
	int one = 1;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->buf = malloc(NFT_BUF_SIZE);
	if (!n->buf)
		goto fail;
	n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->nl)
		goto fail;
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	/* extended ACKs carry the kernel's own explanation of an error */
	mnl_socket_setsockopt(n->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)now_ns(CLOCK_MONOTONIC);
	*out = n;
	return 0;
fail:
	{
		int err = errno ? -errno : -ENOMEM;
		nft_close(n);
		return err;
	}
}

void nft_close(struct ph_nft *n)
{
	if (!n)
		return;
	if (n->nl)
		mnl_socket_close(n->nl);
	nft_monitor_stop(n);
	free(n->buf);
	free(n);
}

/* ---- dumps ----------------------------------------------------------- */

typedef int (*dump_cb)(const struct nlmsghdr *nlh, void *data);

static int nft_dump(struct ph_nft *n, struct nlmsghdr *(*build)(char *, uint32_t, void *),
		    void *build_arg, mnl_cb_t cb, void *data)
{
	struct nlmsghdr *nlh;
	uint32_t seq = ++n->seq;
	ssize_t r;
	int ret;


	nlh = build(n->buf, seq, build_arg);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		r = mnl_socket_recvfrom(n->nl, n->buf, NFT_BUF_SIZE);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run(n->buf, (size_t)r, seq, n->portid, cb, data);
		if (ret < 0)
			return -errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *build_chain_dump(char *buf, uint32_t seq, void *arg)
{
	(void)arg;
	return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
}

static struct nlmsghdr *build_table_dump(char *buf, uint32_t seq, void *arg)
{
	(void)arg;
	return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
}

static struct nlmsghdr *build_rule_dump(char *buf, uint32_t seq, void *arg)
{
	(void)arg;
	return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
}

#define MAX_OWNED 32
struct table_scan {
	struct { int family; char name[PH_NAME_LEN]; } owned[MAX_OWNED];
	unsigned nowned;
};

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_scan *ts = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0 &&
	    (nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) & NFT_TABLE_F_OWNER) &&
	    ts->nowned < MAX_OWNED) {
		ts->owned[ts->nowned].family = (int)nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY);
		copy_str(ts->owned[ts->nowned].name, PH_NAME_LEN, nftnl_table_get_str(t, NFTNL_TABLE_NAME));
		ts->nowned++;
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

struct chain_scan {
	const struct ph_config *cfg;
	const struct table_scan *tables;
	struct ph_chain_ref *out;
	unsigned max, count, unopenable, overflow;
	int log_unopenable;
	unsigned char found[PH_MAX_CHAINS]; /* explicit list: which exist */
};

static int table_owned(const struct table_scan *ts, int family, const char *name)
{
	for (unsigned i = 0; i < ts->nowned; i++)
		if (ts->owned[i].family == family && !strcmp(ts->owned[i].name, name))
			return 1;
	return 0;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct chain_scan *cs = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	const char *table, *name, *type;
	uint32_t family, hook;
	int base;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);
	hook = base ? nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) : 0;
	type = nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "";
	if (!table || !name)
		goto out;

	if (!cs->cfg->chains_auto) {
		for (unsigned i = 0; i < cs->cfg->nchains; i++) {
			const struct ph_chain_ref *r = &cs->cfg->chains[i];
			if ((uint32_t)r->family == family && !strcmp(r->table, table) && !strcmp(r->chain, name))
				cs->found[i] = 1;
		}
		goto out;
	}
	if (!base)
		goto out;
	/* ingress hooks run before the socket lookup: a drop there cannot be
	 * opened per socket. Say so, never ignore it silently. */
	if ((family == NFPROTO_NETDEV && hook == NF_NETDEV_INGRESS) ||
	    (family == NFPROTO_INET && hook == NF_INET_INGRESS)) {
		cs->unopenable++;
		if (cs->log_unopenable)
			log_warn("nft: %s %s %s: ingress chain; porthole cannot open here "
				 "(a drop there blocks validation; allow port 80 there or move the block to an input chain)",
				 family_name((int)family), table, name);
		goto out;
	}
	if (family != NFPROTO_INET && family != NFPROTO_IPV4 && family != NFPROTO_IPV6)
		goto out;
	if (hook != NF_INET_PRE_ROUTING && hook != NF_INET_LOCAL_IN)
		goto out;
	if (strcmp(type, "filter"))
		goto out;
	if (table_owned(cs->tables, (int)family, table)) {
		if (cs->log_unopenable)
			log_warn("nft: %s %s %s: table is owned by another process; skipped",
				 family_name((int)family), table, name);
		goto out;
	}
	if (strlen(table) >= PH_NAME_LEN || strlen(name) >= PH_NAME_LEN) {
		cs->unopenable++;
		log_warn("nft: %s %s %s: name too long; skipped", family_name((int)family), table, name);
		goto out;
	}
	if (cs->count == cs->max) {
		cs->overflow = 1;
		goto out;
	}
	cs->out[cs->count].family = (int)family;
	copy_str(cs->out[cs->count].table, PH_NAME_LEN, table);
	copy_str(cs->out[cs->count].chain, PH_NAME_LEN, name);
	cs->count++;
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

int nft_find_chains(struct ph_nft *n, const struct ph_config *cfg, struct ph_chain_ref *out,
		    unsigned max, unsigned *count, unsigned *unopenable, int log_unopenable)
{
	struct table_scan ts = { .nowned = 0 };
	struct chain_scan cs = {
		.cfg = cfg, .tables = &ts, .out = out, .max = max, .log_unopenable = log_unopenable,
	};
	int r;

	r = nft_dump(n, build_table_dump, NULL, table_cb, &ts);
	if (r)
		return r;
	r = nft_dump(n, build_chain_dump, NULL, chain_cb, &cs);
	if (r)
		return r;
	if (!cfg->chains_auto) {
		cs.count = 0;
		for (unsigned i = 0; i < cfg->nchains && i < max; i++) {
			if (!cs.found[i]) {
				if (log_unopenable)
					log_warn("nft: configured chain %s %s %s does not exist",
						 family_name(cfg->chains[i].family), cfg->chains[i].table,
						 cfg->chains[i].chain);
				continue;
			}
			out[cs.count++] = cfg->chains[i];
		}
	}
	if (cs.overflow)
		log_warn("nft: more than %u candidate chains; using the first %u", max, max);
	*count = cs.count;
	if (unopenable)
		*unopenable = cs.unopenable;
	return 0;
}

/* ---- rule construction ------------------------------------------------ */

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static struct nftnl_expr *expr_cmp(uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	return e;
}

static struct nftnl_expr *expr_meta(uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return e;
}

static void nft_format_tag(char *buf, size_t len, uint64_t window_id)
{
	snprintf(buf, len, PH_RULE_TAG "%llu", (unsigned long long)window_id);
}

/* tcp dport P socket cgroupv2 level L ID meta time < DEADLINE counter accept
 * comment "porthole w=ID" */
static struct nftnl_rule *build_rule(const struct nft_rule_spec *s, const struct ph_chain_ref *c)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_udata_buf *ud = NULL;
	struct nftnl_expr *e;
	uint8_t proto = IPPROTO_TCP;
	uint16_t dport = htons(s->port);
	uint64_t be_deadline = htobe64(s->deadline_ns);
	char tag[64];

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)c->family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, c->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->chain);

	if (add_expr(r, expr_meta(NFT_META_L4PROTO)) ||
	    add_expr(r, expr_cmp(NFT_CMP_EQ, &proto, sizeof(proto))))
		goto fail;
	e = nftnl_expr_alloc("payload");
	if (!e)
		goto fail;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	nftnl_rule_add_expr(r, e);
	if (add_expr(r, expr_cmp(NFT_CMP_EQ, &dport, sizeof(dport))))
		goto fail;

	e = nftnl_expr_alloc("socket");
	if (!e)
		goto fail;
	nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
	if (s->by_mark) {
		/* socket mark & MASK == VALUE: the bind hook marked only the
		 * designated process's sockets */
		uint32_t zero = 0;
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_MARK);
		nftnl_rule_add_expr(r, e);
		e = nftnl_expr_alloc("bitwise");
		if (!e)
			goto fail;
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &s->mark_mask, sizeof(uint32_t));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(uint32_t));
		nftnl_rule_add_expr(r, e);
		if (add_expr(r, expr_cmp(NFT_CMP_EQ, &s->mark, sizeof(s->mark))))
			goto fail;
	} else {
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, s->cgroup_level);
		nftnl_rule_add_expr(r, e);
		if (add_expr(r, expr_cmp(NFT_CMP_EQ, &s->cgroup_id, sizeof(s->cgroup_id))))
			goto fail;
	}

	/* meta time is host order; cmp compares bytes, so convert to big endian
	 * first (what nft itself emits for `meta time <`). */
	if (add_expr(r, expr_meta(NFT_META_TIME_NS)))
		goto fail;
	e = nftnl_expr_alloc("byteorder");
	if (!e)
		goto fail;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 8);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 8);
	nftnl_rule_add_expr(r, e);
	if (add_expr(r, expr_cmp(NFT_CMP_LT, &be_deadline, sizeof(be_deadline))))
		goto fail;

	if (add_expr(r, nftnl_expr_alloc("counter")))
		goto fail;
	e = nftnl_expr_alloc("immediate");
	if (!e)
		goto fail;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	nftnl_rule_add_expr(r, e);

	nft_format_tag(tag, sizeof(tag), s->window_id);
	ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	if (!ud || !nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, tag))
		goto fail;
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return r;
fail:
	nftnl_udata_buf_free(ud);
	nftnl_rule_free(r);
	return NULL;
}

static int get_genid(struct ph_nft *n, uint32_t *genid);
/* one rule read back by handle */
struct rule_info {
	uint64_t window_id;
	int found, ours;
	uint64_t packets, bytes;
};
static int get_rule(struct ph_nft *n, const struct nft_rule_ref *ref, struct rule_info *ri);
static int has_tag_id(const void *ud, uint32_t len, uint64_t window_id);

/* ---- batches ------------------------------------------------------------ */

struct batch_result {
	uint32_t first_seq;
	unsigned nmsg;
	int begin_err;                  /* the batch as a whole refused (ERESTART: stale genid) */
	int err[NFT_MAX_BATCH];         /* per message: 0, or negative errno */
	int acked[NFT_MAX_BATCH];
	uint64_t handle[NFT_MAX_BATCH]; /* from echoed NEWRULE */
	char extack[256];
};

static void parse_extack(const struct nlmsghdr *nlh, char *out, size_t outlen)
{
	const struct nlattr *a;
	size_t off = sizeof(struct nlmsgerr);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG)
			snprintf(out, outlen, "%s", mnl_attr_get_str(a));
	}
}

static int batch_reply_cb(const struct nlmsghdr *nlh, struct batch_result *br)
{
	uint32_t idx = nlh->nlmsg_seq - br->first_seq;

	if (nlh->nlmsg_seq == br->first_seq - 1 && nlh->nlmsg_type == NLMSG_ERROR) {
		br->begin_err = ((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error;
		return 0;
	}
	if (idx >= br->nmsg)
		return 0; /* end or a stray: ignore */
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
		br->acked[idx] = 1;
		br->err[idx] = e->error;
		if (e->error)
			parse_extack(nlh, br->extack, sizeof(br->extack));
	} else if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWRULE) {
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (r && nftnl_rule_nlmsg_parse(nlh, r) == 0)
			br->handle[idx] = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
		nftnl_rule_free(r);
	}
	return 0;
}

/* Send the batch in buf and drain every reply. */
static int batch_talk(struct ph_nft *n, struct mnl_nlmsg_batch *b, struct batch_result *br)
{
	char rbuf[16384];
	ssize_t r;

	if (mnl_socket_sendto(n->nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
		return -errno;
	for (;;) {
		unsigned pending = 0;
		for (unsigned i = 0; i < br->nmsg; i++)
			pending += !br->acked[i];
		if (!pending)
			break;
		r = recv(mnl_socket_get_fd(n->nl), rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* everything the kernel had to say is queued by now; a
			 * missing ACK means the batch was aborted before it */
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nlh, (int)r);
		     nlh = mnl_nlmsg_next(nlh, (int *)&r))
			batch_reply_cb(nlh, br);
	}
	return 0;
}

/* BEGIN; with a genid, the kernel refuses the whole batch (ERESTART) if the
 * ruleset changed since we read that generation */
static struct mnl_nlmsg_batch *batch_begin_gen(struct ph_nft *n, int use_genid, uint32_t genid)
{
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(n->buf, NFT_BUF_SIZE);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	if (!b)
		return NULL;
	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	nlh->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++n->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
	if (use_genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	mnl_nlmsg_batch_next(b);
	return b;
}

static struct mnl_nlmsg_batch *batch_begin(struct ph_nft *n)
{
	return batch_begin_gen(n, 0, 0);
}

static void batch_end(struct ph_nft *n, struct mnl_nlmsg_batch *b)
{
	nftnl_batch_end(mnl_nlmsg_batch_current(b), ++n->seq);
	mnl_nlmsg_batch_next(b);
}

static int insert_batch(struct ph_nft *n, const struct nft_rule_spec *spec, const struct ph_chain_ref *chains,
			unsigned nchains, struct nft_rule_ref *refs, int use_genid, uint32_t genid);

int nft_insert_window(struct ph_nft *n, const struct nft_rule_spec *spec,
		      const struct ph_chain_ref *chains, unsigned nchains, struct nft_rule_ref *refs)
{
	n->cache_valid = 0; /* whatever the chains were, the generation moves */
	return insert_batch(n, spec, chains, nchains, refs, 0, 0);
}

static int insert_batch(struct ph_nft *n, const struct nft_rule_spec *spec, const struct ph_chain_ref *chains,
			unsigned nchains, struct nft_rule_ref *refs, int use_genid, uint32_t genid)
{
	struct batch_result *br;
	struct mnl_nlmsg_batch *b;
	int err = 0;

	if (nchains == 0)
		return -ENOENT;
	if (nchains > NFT_MAX_BATCH)
		return -E2BIG;
	br = calloc(1, sizeof(*br));
	if (!br)
		return -ENOMEM;
	b = batch_begin_gen(n, use_genid, genid);
	if (!b) {
		free(br);
		return -ENOMEM;
	}
	br->first_seq = n->seq + 1;
	br->nmsg = nchains;
	for (unsigned i = 0; i < nchains; i++) {
		struct nftnl_rule *r = build_rule(spec, &chains[i]);
		struct nlmsghdr *nlh;

		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		/* no NLM_F_APPEND and no position: the rule goes first in the chain */
		nlh = nftnl_rule_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWRULE,
						 (uint16_t)chains[i].family,
						 NLM_F_CREATE | NLM_F_ACK | NLM_F_ECHO, ++n->seq);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
		if (!mnl_nlmsg_batch_next(b)) {
			err = -E2BIG;
			goto out;
		}
		refs[i].chain = chains[i];
		refs[i].handle = 0;
		refs[i].window_id = spec->window_id;
	}
	batch_end(n, b);
	err = batch_talk(n, b, br);
	if (err)
		goto out;
	if (br->begin_err) {
		err = br->begin_err; /* -ERESTART: the ruleset changed since genid */
		goto out;
	}
	for (unsigned i = 0; i < nchains; i++) {
		if (br->err[i]) {
			err = br->err[i];
			log_err("nft: insert into %s %s %s: %s%s%s", family_name(chains[i].family),
				chains[i].table, chains[i].chain, strerror(-err),
				br->extack[0] ? ": " : "", br->extack);
			goto out;
		}
		if (!br->acked[i]) {
			err = -EIO;
			log_err("nft: insert into %s %s %s: no acknowledgement from the kernel",
				family_name(chains[i].family), chains[i].table, chains[i].chain);
			goto out;
		}
		if (!br->handle[i]) {
			/* committed but the echo is missing: we could not find the
			 * rule again by handle; remove what we can by tag later */
			err = -EIO;
			log_err("nft: insert into %s %s %s: kernel did not echo the rule handle",
				family_name(chains[i].family), chains[i].table, chains[i].chain);
		}
		refs[i].handle = br->handle[i];
	}
	if (err) {
		/* partial knowledge: delete those we know; the caller sweeps */
		unsigned k = 0;
		struct nft_rule_ref tmp[NFT_MAX_BATCH];
		for (unsigned i = 0; i < nchains; i++)
			if (refs[i].handle)
				tmp[k++] = refs[i];
		nft_delete_rules(n, tmp, k, NULL, NULL);
	}
out:
	mnl_nlmsg_batch_stop(b);
	free(br);
	return err;
}

int nft_delete_rules(struct ph_nft *n, const struct nft_rule_ref *refs, unsigned nrefs,
		     uint64_t *packets, uint64_t *bytes)
{
	struct batch_result *br;
	int err = 0;

	if (nrefs == 0)
		return 0;
	if (nrefs > NFT_MAX_BATCH)
		return -E2BIG;
	br = calloc(1, sizeof(*br));
	if (!br)
		return -ENOMEM;
	/* A handle alone is not proof: after a reload a table may reuse it for
	 * one of the host's rules. Read the generation, check each rule still
	 * carries our tag, and delete in a batch bound to that generation, so
	 * the kernel refuses it if anything changed in between. */
	for (int round = 0; round < 8; round++) {
		unsigned idx[NFT_MAX_BATCH], m = 0;
		struct mnl_nlmsg_batch *b;
		uint32_t genid;

		err = get_genid(n, &genid);
		if (err)
			break;
		for (unsigned i = 0; i < nrefs; i++) {
			struct rule_info ri;
			if (!refs[i].handle)
				continue;
			err = get_rule(n, &refs[i], &ri);
			if (err)
				break;
			if (!ri.found || !ri.ours)
				continue;
			idx[m++] = i;
			/* the check reads the counters too: the window's final figures */
			if (round == 0 && packets && ri.packets > *packets)
				*packets = ri.packets;
			if (round == 0 && bytes && ri.bytes > *bytes)
				*bytes = ri.bytes;
		}
		if (err || m == 0)
			break;
		b = batch_begin_gen(n, 1, genid);
		if (!b) {
			err = -ENOMEM;
			break;
		}
		memset(br, 0, sizeof(*br));
		br->first_seq = n->seq + 1;
		br->nmsg = m;
		for (unsigned j = 0; j < m; j++) {
			const struct nft_rule_ref *ref = &refs[idx[j]];
			struct nftnl_rule *r = nftnl_rule_alloc();
			struct nlmsghdr *nlh;

			if (!r) {
				err = -ENOMEM;
				break;
			}
			nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)ref->chain.family);
			nftnl_rule_set_str(r, NFTNL_RULE_TABLE, ref->chain.table);
			nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, ref->chain.chain);
			nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, ref->handle);
			nlh = nftnl_rule_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_DELRULE,
							 (uint16_t)ref->chain.family, NLM_F_ACK, ++n->seq);
			nftnl_rule_nlmsg_build_payload(nlh, r);
			nftnl_rule_free(r);
			mnl_nlmsg_batch_next(b);
		}
		if (err) {
			mnl_nlmsg_batch_stop(b);
			break;
		}
		batch_end(n, b);
		err = batch_talk(n, b, br);
		mnl_nlmsg_batch_stop(b);
		if (err == -ERESTART || err == -EINTR)
			continue; /* the ruleset changed under us: check again */
		if (err)
			break;
		if (br->begin_err) {
			err = 0;
			continue; /* refused as a whole (stale generation): check again */
		}
		/* our commit is generation genid + 1 */
		if (n->cache_valid && n->cache_genid == genid)
			n->cache_genid = genid + 1;
		else
			n->cache_valid = 0;
		int again = 0;
		for (unsigned j = 0; j < m; j++) {
			int e = br->err[j];
			if (e == -ERESTART || e == -ENOENT || e == -EBUSY) {
				again = 1;
			} else if (e) {
				err = e;
				log_err("nft: delete rule %llu from %s %s %s: %s", (unsigned long long)refs[idx[j]].handle,
					family_name(refs[idx[j]].chain.family), refs[idx[j]].chain.table,
					refs[idx[j]].chain.chain, strerror(-e));
			} else if (!br->acked[j]) {
				again = 1; /* aborted before it: try the batch again */
			}
		}
		if (err || !again)
			break;
	}
	free(br);
	return err;
}

/* ---- reading one rule back --------------------------------------------- */


static int expr_counter_cb(struct nftnl_expr *e, void *data)
{
	struct rule_info *ri = data;

	if (!strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter")) {
		ri->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		ri->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	}
	return 0;
}

static int rule_info_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rule_info *ri = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	const void *ud;
	uint32_t udlen = 0;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		ri->found = 1;
		if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
			ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen);
			ri->ours = ud && has_tag_id(ud, udlen, ri->window_id);
		}
		nftnl_expr_foreach(r, expr_counter_cb, ri);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* GETRULE by handle: fills ri; a missing rule/chain/table is not an error */
static int get_rule(struct ph_nft *n, const struct nft_rule_ref *ref, struct rule_info *ri)
{
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	uint32_t seq = ++n->seq;
	ssize_t len;

	memset(ri, 0, sizeof(*ri));
	ri->window_id = ref->window_id;
	r = nftnl_rule_alloc();
	if (!r)
		return -ENOMEM;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)ref->chain.family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, ref->chain.table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, ref->chain.chain);
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, ref->handle);
	nlh = nftnl_rule_nlmsg_build_hdr(n->buf, NFT_MSG_GETRULE, (uint16_t)ref->chain.family, NLM_F_ACK, seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* reply: the rule, then an ACK; or only an error when it is gone */
	for (;;) {
		int ret;
		len = mnl_socket_recvfrom(n->nl, n->buf, NFT_BUF_SIZE);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run(n->buf, (size_t)len, seq, n->portid, rule_info_cb, ri);
		if (ret < 0) {
			if (errno == ENOENT)
				return 0;
			return -errno;
		}
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int nft_rule_present(struct ph_nft *n, const struct nft_rule_ref *ref)
{
	struct rule_info ri;
	int r;

	if (!ref->handle)
		return 0;
	r = get_rule(n, ref, &ri);
	if (r)
		return r;
	return ri.found && ri.ours;
}

int nft_read_counters(struct ph_nft *n, const struct nft_rule_ref *refs, unsigned nrefs,
		      uint64_t *packets, uint64_t *bytes)
{
	*packets = *bytes = 0;
	for (unsigned i = 0; i < nrefs; i++) {
		struct rule_info ri;
		int r;

		if (!refs[i].handle)
			continue;
		r = get_rule(n, &refs[i], &ri);
		if (r)
			return r;
		if (!ri.found || !ri.ours)
			continue;
		if (ri.packets > *packets)
			*packets = ri.packets;
		if (ri.bytes > *bytes)
			*bytes = ri.bytes;
	}
	return 0;
}

/* ---- ruleset generation ---------------------------------------------------- */

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_get_payload_len(a) == 4)
			*(uint32_t *)data = ntohl(mnl_attr_get_u32(a));
	}
	return MNL_CB_OK;
}

static struct nlmsghdr *build_gen_get(char *buf, uint32_t seq, void *arg)
{
	(void)arg;
	return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK, seq);
}

static int get_genid(struct ph_nft *n, uint32_t *genid)
{
	*genid = 0;
	return nft_dump(n, build_gen_get, NULL, gen_cb, genid);
}

/* ---- sweep ------------------------------------------------------------------ */

struct sweep_scan {
	struct nft_rule_ref refs[NFT_MAX_BATCH];
	unsigned count, overflow;
};

/* Our tag lives in the rule comment: userdata TLV type
 * NFTNL_UDATA_RULE_COMMENT, NUL-terminated string. window_id 0 matches any
 * porthole tag, else exactly "porthole w=<id>". */
static int has_tag_id(const void *ud, uint32_t len, uint64_t window_id)
{
	const uint8_t *p = ud, *end = p + len;
	char want[64];
	size_t wl;

	if (window_id)
		nft_format_tag(want, sizeof(want), window_id);
	else
		copy_str(want, sizeof(want), PH_RULE_TAG);
	wl = strlen(want) + (window_id ? 1 : 0); /* exact: include the NUL */
	while (p + 2 <= end) {
		uint8_t type = p[0], l = p[1];
		if (p + 2 + l > end)
			return 0;
		if (type == NFTNL_UDATA_RULE_COMMENT && l >= wl && !memcmp(p + 2, want, wl))
			return 1;
		p += 2 + l;
	}
	return 0;
}

static int has_tag(const void *ud, uint32_t len)
{
	return has_tag_id(ud, len, 0);
}

static int sweep_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sweep_scan *ss = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	const void *ud;
	uint32_t udlen = 0;

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 && nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
		ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen);
		if (ud && has_tag(ud, udlen)) {
			if (ss->count < NFT_MAX_BATCH) {
				struct nft_rule_ref *ref = &ss->refs[ss->count++];
				ref->chain.family = (int)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
				copy_str(ref->chain.table, PH_NAME_LEN, nftnl_rule_get_str(r, NFTNL_RULE_TABLE));
				copy_str(ref->chain.chain, PH_NAME_LEN, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
				ref->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
				ref->window_id = 0; /* any porthole tag */
			} else {
				ss->overflow = 1;
			}
		}
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int nft_sweep(struct ph_nft *n, unsigned *removed)
{
	struct sweep_scan *ss;
	int r = 0;

	*removed = 0;
	ss = malloc(sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	/* a batch holds NFT_MAX_BATCH deletions; loop while more remain */
	do {
		ss->count = ss->overflow = 0;
		r = nft_dump(n, build_rule_dump, NULL, sweep_cb, ss);
		if (r || ss->count == 0)
			break;
		r = nft_delete_rules(n, ss->refs, ss->count, NULL, NULL);
		if (r)
			break;
		*removed += ss->count;
	} while (ss->overflow);
	free(ss);
	return r;
}

/* ---- ruleset change notifications --------------------------------------------- */

int nft_monitor_start(struct ph_nft *n, int *fd)
{
	int grp = NFNLGRP_NFTABLES, bufsz = 1 << 20;

	if (!n->mon) {
		n->mon = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (!n->mon)
			return -errno;
		if (mnl_socket_bind(n->mon, 0, MNL_SOCKET_AUTOPID) < 0) {
			int err = -errno;
			nft_monitor_stop(n);
			return err;
		}
		/* a reload of a large geo set emits one event per element: a big
		 * buffer, and ENOBUFS is handled as "something changed" anyway */
		setsockopt(mnl_socket_get_fd(n->mon), SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	}
	/* the socket stays open between windows: closing a netlink socket
	 * subscribed to nf_tables waits for its deferred work (milliseconds on
	 * the event loop); joining and leaving the group costs a microsecond */
	if (mnl_socket_setsockopt(n->mon, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0)
		return -errno;
	*fd = mnl_socket_get_fd(n->mon);
	return 0;
}

void nft_monitor_pause(struct ph_nft *n)
{
	int grp = NFNLGRP_NFTABLES, changed;

	if (!n->mon)
		return;
	mnl_socket_setsockopt(n->mon, NETLINK_DROP_MEMBERSHIP, &grp, sizeof(grp));
	nft_monitor_drain(n, &changed); /* what queued before is moot now */
}

void nft_monitor_stop(struct ph_nft *n)
{
	if (n->mon)
		mnl_socket_close(n->mon);
	n->mon = NULL;
}

int nft_monitor_drain(struct ph_nft *n, int *changed)
{
	char buf[16384] __attribute__((aligned(8)));
	uint32_t self = (uint32_t)getpid();

	*changed = 0;
	if (!n->mon)
		return 0;
	for (;;) {
		ssize_t r = recv(mnl_socket_get_fd(n->mon), buf, sizeof(buf), MSG_DONTWAIT);
		int len;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if (errno == ENOBUFS) {
				*changed = 1; /* events lost: assume the worst */
				continue;
			}
			return -errno;
		}
		len = (int)r;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlattr *a;
			uint32_t pid = 0;

			if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
			    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN)
				continue;
			/* one NEWGEN per committed transaction, naming its process */
			mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
				if (mnl_attr_get_type(a) == NFTA_GEN_PROC_PID && mnl_attr_get_payload_len(a) == 4)
					pid = ntohl(mnl_attr_get_u32(a));
			}
			if (pid != self)
				*changed = 1;
		}
	}
}

/* ---- inspection for `porthole check` ------------------------------------------ */

struct inspect_scan {
	struct nft_chain_info *out;
	unsigned max, count;
	struct table_scan tables;
};

static int inspect_chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct inspect_scan *is = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nft_chain_info *ci;
	const char *table, *name;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0 || !nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) ||
	    is->count == is->max)
		goto out;
	table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	if (!table || !name || strlen(table) >= PH_NAME_LEN || strlen(name) >= PH_NAME_LEN)
		goto out;
	ci = &is->out[is->count++];
	memset(ci, 0, sizeof(*ci));
	ci->ref.family = (int)nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	copy_str(ci->ref.table, PH_NAME_LEN, table);
	copy_str(ci->ref.chain, PH_NAME_LEN, name);
	ci->hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
	ci->prio = nftnl_chain_is_set(c, NFTNL_CHAIN_PRIO) ? nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) : 0;
	snprintf(ci->type, sizeof(ci->type), "%s",
		 nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "filter");
	ci->policy_drop = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
			  nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP;
	ci->owned = table_owned(&is->tables, ci->ref.family, table);
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

struct drop_acc {
	int drops;
};

static int expr_drop_cb(struct nftnl_expr *e, void *data)
{
	struct drop_acc *a = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!strcmp(name, "reject"))
		a->drops = 1;
	else if (!strcmp(name, "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
		 nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == NF_DROP)
		a->drops = 1;
	return 0;
}

static int inspect_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct inspect_scan *is = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct drop_acc a = { 0 };

	if (!r)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		nftnl_expr_foreach(r, expr_drop_cb, &a);
		if (a.drops) {
			const char *t = nftnl_rule_get_str(r, NFTNL_RULE_TABLE), *ch = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
			int fam = (int)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
			for (unsigned i = 0; i < is->count; i++)
				if (is->out[i].ref.family == fam && t && ch && !strcmp(is->out[i].ref.table, t) &&
				    !strcmp(is->out[i].ref.chain, ch))
					is->out[i].drop_rules++;
		}
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int nft_inspect(struct ph_nft *n, struct nft_chain_info *out, unsigned max, unsigned *count)
{
	struct inspect_scan *is = calloc(1, sizeof(*is));
	int r;

	if (!is)
		return -ENOMEM;
	is->out = out;
	is->max = max;
	r = nft_dump(n, build_table_dump, NULL, table_cb, &is->tables);
	if (!r)
		r = nft_dump(n, build_chain_dump, NULL, inspect_chain_cb, is);
	if (!r)
		r = nft_dump(n, build_rule_dump, NULL, inspect_rule_cb, is);
	*count = is->count;
	free(is);
	return r;
}

/* one-message batch; returns the kernel's verdict on it */
static int probe_batch(struct ph_nft *n, struct nlmsghdr *(*add)(struct ph_nft *n, char *buf, uint32_t seq))
{
	struct batch_result *br = calloc(1, sizeof(*br));
	struct mnl_nlmsg_batch *b;
	int err;

	if (!br)
		return -ENOMEM;
	b = batch_begin(n);
	br->first_seq = n->seq + 1;
	br->nmsg = 1;
	add(n, mnl_nlmsg_batch_current(b), ++n->seq);
	mnl_nlmsg_batch_next(b);
	batch_end(n, b);
	err = batch_talk(n, b, br);
	mnl_nlmsg_batch_stop(b);
	if (!err)
		err = br->acked[0] ? br->err[0] : -EIO;
	free(br);
	return err;
}

#define PROBE_TABLE "porthole_probe"

static struct nlmsghdr *probe_table(struct ph_nft *n, char *buf, uint32_t seq)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	(void)n;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, PROBE_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	nlh = nftnl_table_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nlh;
}

static struct nlmsghdr *probe_chain(struct ph_nft *n, char *buf, uint32_t seq)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	(void)n;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, PROBE_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "input");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nlh = nftnl_chain_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return nlh;
}

static struct nft_rule_spec probe_spec;

static struct nlmsghdr *probe_rule(struct ph_nft *n, char *buf, uint32_t seq)
{
	struct ph_chain_ref ref = { .family = NFPROTO_INET };
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;

	(void)n;
	copy_str(ref.table, sizeof(ref.table), PROBE_TABLE);
	copy_str(ref.chain, sizeof(ref.chain), "input");
	r = build_rule(&probe_spec, &ref);
	nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
	if (r) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
	}
	return nlh;
}

int nft_probe_features(struct ph_nft *n, int *owner, int *cgroupv2, int *meta_time, int *socket_mark)
{
	int r;

	*owner = *cgroupv2 = *meta_time = *socket_mark = 0;
	r = probe_batch(n, probe_table);
	*owner = r == 0;
	if (r) {
		/* without the owner flag, try a plain table so the rest can run */
		return r;
	}
	r = probe_batch(n, probe_chain);
	if (r)
		return r;
	memset(&probe_spec, 0, sizeof(probe_spec));
	probe_spec.window_id = 1;
	probe_spec.port = 80;
	probe_spec.cgroup_level = 1;
	probe_spec.cgroup_id = 1;
	probe_spec.deadline_ns = 1;
	/* the full window rule: socket cgroupv2 + meta time (+ byteorder) */
	r = probe_batch(n, probe_rule);
	*cgroupv2 = *meta_time = r == 0;
	probe_spec.by_mark = 1;
	probe_spec.mark = 0x1;
	probe_spec.mark_mask = 0x1;
	*socket_mark = probe_batch(n, probe_rule) == 0;
	return 0;
}

/* ---- opening a window: the fast path ------------------------------------------------ */

int nft_open_window(struct ph_nft *n, const struct ph_config *cfg, const struct nft_rule_spec *spec,
		    struct nft_rule_ref *refs, unsigned *nrefs)
{
	int r = 0;

	*nrefs = 0;
	for (int attempt = 0; attempt < 4; attempt++) {
		if (!n->cache_valid) {
			unsigned unopenable = 0;
			/* the generation first: chains read after it can only be
			 * newer, and a batch bound to it is refused if they are */
			r = get_genid(n, &n->cache_genid);
			if (r)
				return r;
			r = nft_find_chains(n, cfg, n->cache, PH_MAX_CHAINS, &n->ncache, &unopenable, 1);
			if (r)
				return r;
			n->cache_valid = 1;
		}
		if (n->ncache == 0)
			return 0;
		r = insert_batch(n, spec, n->cache, n->ncache, refs, 1, n->cache_genid);
		if (r == -ERESTART) {
			n->cache_valid = 0; /* somebody changed the ruleset: read it again */
			continue;
		}
		if (r) {
			n->cache_valid = 0;
			return r;
		}
		n->cache_genid++; /* our own commit */
		*nrefs = n->ncache;
		return 0;
	}
	return r;
}

void nft_forget_chains(struct ph_nft *n)
{
	n->cache_valid = 0;
}
