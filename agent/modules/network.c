/*
 * network: the network viewer, bytes and TCP connections per remote
 * endpoint. The kernel side counts every endpoint; here they are filtered
 * (ports, ips, hostnames), named (service, and the remote's host name when
 * resolve_hostnames is on) and ranked, so that at most max_dimensions
 * endpoints are sent per collect and the rest are summed under "other".
 * The bound holds for zeros too: an endpoint sent before keeps going out
 * (as 0 when idle) only while it fits in the max_dimensions slots beside
 * this collect's busier ones; otherwise its series are retired.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_objects.h"
#include "attach.h"
#include "btf_proto.h"
#include "log.h"
#include "module.h"
#include "net_filter.h"
#include "network.h"
#include "network.skel.h"
#include "sock_chain_slots.h"
#include "percpu.h"

/*
 * modules.network: each filter expression is parsed once, by net_filter.c,
 * when the config loads (a bad one fails `bpfpush -t` with its
 * FILE:LINE:COL); the module filters with the config's parsed forms.
 */
#define NET_OFF(member) offsetof(struct network_opts, member)
static const struct cfg_key network_keys[] = {
	K_PARSED("ports", NET_OFF(ports), NET_OFF(ports_parsed), "\"1-1024 !145 !domain\"", net_filter_parse_ports,
		 net_filter_release_ports, "include ranges/names, ! excludes; exclusion wins; only ! = all but those; * = all"),
	K_PARSED("ips", NET_OFF(ips), NET_OFF(ips_parsed), "\"!127.0.0.1/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7\"",
		 net_filter_parse_ips, net_filter_release_ips, "same rules, CIDR or a-b ranges"),
	K_PARSED("hostnames", NET_OFF(hostnames), NET_OFF(hostnames_parsed), "\"!example.com\"", net_filter_parse_hostnames,
		 net_filter_release_hostnames, "globs with the same include/exclude rules; applies once a name is resolved"),
	K_U32("max_dimensions", NET_OFF(max_dimensions), "500", 1, 100000,
	      "endpoints sent per flush, zeros included; the rest are summed under dst=other"),
	K_BOOL("resolve_hostnames", NET_OFF(resolve_hostnames), "false", "dst = the remote's name when known"),
	K_PORT_NAMES("service_names", NET_OFF(service_names), "{ 19999: netdata }", "port -> service tag, before /etc/services"),
};

static const struct metric_desc network_metrics[] = {
	{ "net.conn.sent.bytes", METRIC_COUNTER, true, "dst,port,service,proto,direction", "bytes sent per endpoint" },
	{ "net.conn.recv.bytes", METRIC_COUNTER, true, "dst,port,service,proto,direction", "bytes received per endpoint" },
	{ "net.conn.opened", METRIC_COUNTER, false, "dst,port,service,proto,direction", "TCP connections opened" },
	{ "net.conn.closed", METRIC_COUNTER, false, "dst,port,service,proto,direction", "TCP connections closed" },
};

/* The sock:* programs TCP and UDP share: attached once, told in prepare() which protocols to count. */
#define LENGTH_WAYS(dir)                                                                            \
	{ .tier = ATTACH_TP_BTF, .progs = { "net_" #dir "_tp_btf" } },                              \
	{ .tier = ATTACH_RAW_TP, .progs = { "net_" #dir "_raw_tp" } },                              \
	{ .tier = ATTACH_TRACEPOINT, .progs = { "net_" #dir "_tracepoint" } }

enum {
	EVENT_STATE = 0,
	EVENT_TCP_SEND,
	EVENT_TCP_SEND_RESULT,
	EVENT_TCP_RECV,
	EVENT_UDP_SEND,
	EVENT_UDP_SEND_RESULT,
	EVENT_UDP_RECV,
	EVENT_UDP_RECV_RESULT,
	EVENT_COUNT
};

/*
 * Sent bytes are results: in entry mode only the sock:* tracepoints (6.3+)
 * see them; return mode adds fexit on the protocol functions, or a kprobe
 * and kretprobe pair where fexit does not attach (arm64 before 6.4). TCP
 * received bytes are known at tcp_cleanup_rbuf's entry.
 */
static const struct event_desc network_events[] = {
	[EVENT_STATE] = { .name = "state", .gives = "net.conn.opened, net.conn.closed",
			  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "net_state_tp_btf" } },
				    { .tier = ATTACH_RAW_TP, .progs = { "net_state_raw_tp" } },
				    { .tier = ATTACH_TRACEPOINT, .progs = { "net_state_tracepoint" } } } },
	[EVENT_TCP_SEND] = { .name = "tcp_send", .gives = "net.conn.sent.bytes", .entry_mode_only = true,
			     .ways = { LENGTH_WAYS(send) } },
	[EVENT_TCP_SEND_RESULT] = { .name = "tcp_send_result", .gives = "net.conn.sent.bytes",
				    .return_mode_only = true,
				    .ways = { { .tier = ATTACH_FENTRY, .progs = { "net_tcp_send_fexit" } },
					      { .tier = ATTACH_KPROBE, .progs = { "net_tcp_send_kprobe", "net_tcp_send_kretprobe" } },
					      LENGTH_WAYS(send) } },
	[EVENT_TCP_RECV] = { .name = "tcp_recv", .gives = "net.conn.recv.bytes",
			     .ways = { { .tier = ATTACH_FENTRY, .progs = { "net_tcp_recv_fentry" } },
				       { .tier = ATTACH_KPROBE, .progs = { "net_tcp_recv_kprobe" } },
				       LENGTH_WAYS(recv) } },
	[EVENT_UDP_SEND] = { .name = "udp_send", .gives = "net.conn.sent.bytes", .entry_mode_only = true,
			     .ways = { LENGTH_WAYS(send) } },
	[EVENT_UDP_SEND_RESULT] = { .name = "udp_send_result", .gives = "net.conn.sent.bytes",
				    .return_mode_only = true,
				    .ways = { { .tier = ATTACH_FENTRY, .progs = { "net_udp_send_fexit", "net_udp6_send_fexit" } },
					      { .tier = ATTACH_KPROBE,
						.progs = { "net_udp_send_kprobe", "net_udp6_send_kprobe", "net_udp_send_kretprobe",
							   "net_udp6_send_kretprobe" } },
					      LENGTH_WAYS(send) } },
	[EVENT_UDP_RECV] = { .name = "udp_recv", .gives = "net.conn.recv.bytes", .entry_mode_only = true,
			     .ways = { LENGTH_WAYS(recv) } },
	[EVENT_UDP_RECV_RESULT] = { .name = "udp_recv_result", .gives = "net.conn.recv.bytes",
				    .return_mode_only = true,
				    .ways = { { .tier = ATTACH_FENTRY, .progs = { "net_udp_recv_fexit", "net_udp6_recv_fexit" } },
					      { .tier = ATTACH_FENTRY,
						.progs = { "net_udp_recv_fexit6", "net_udp6_recv_fexit6" } },
					      { .tier = ATTACH_KPROBE,
						.progs = { "net_udp_recv_kprobe", "net_udp6_recv_kprobe", "net_udp_recv_kretprobe",
							   "net_udp6_recv_kretprobe" } },
					      LENGTH_WAYS(recv) } },
};

/* One endpoint as last read from the kernel. */
struct endpoint {
	struct net_endpoint_key key;
	struct net_endpoint_value last;
	uint64_t idle_since_ms; /* monotonic ms of the last change */
};

/*
 * One endpoint's change this collect, named and ready to rank. No pointer
 * into the struct itself: qsort moves it (the service tag is worked out from
 * the key when it is sent).
 */
struct endpoint_delta {
	const struct endpoint *ep;
	struct net_endpoint_value delta;
	uint64_t bytes;
	char dst[256];
};

/* An endpoint whose series are in the store: one of at most max_dimensions. */
struct live_endpoint {
	struct net_endpoint_key key;
	uint64_t active_ms; /* monotonic ms of the last collect it was sent with a change */
	bool renewed;       /* sent with a change this collect */
	char dst[256];      /* the dst tag as sent: a name may replace the address later */
};

struct resolved_name;

/*
 * Where TCP bytes are counted on the socket (probes/network_count.bpf.h), each
 * collect first moves them into net_endpoints with a pass of an iterator:
 * over the storage map (every namespace's sockets), else over the TCP
 * sockets of the agent's network namespace, the only ones that count on
 * the socket then. NONE: every byte counts in net_endpoints at once.
 */
enum sock_pass { PASS_NONE = 0, PASS_STORAGE, PASS_TCP };

struct network_state {
	struct network_bpf *skel;
	enum sock_pass pass;        /* how each collect moves the bytes counted on sockets */
	struct bpf_link *pass_link; /* that pass's iterator */
	struct net_filter filter;
	bool filter_loaded;
	struct endpoint *endpoints; /* sorted by key */
	size_t nendpoints;
	struct endpoint *scratch; /* the next reading, swapped with endpoints */
	struct endpoint_delta *deltas;
	struct live_endpoint *live, *next_live; /* sorted by key; both hold max_dimensions */
	size_t nlive, live_cap;
	struct net_endpoint_key *batch_keys; /* bpf_map_lookup_batch's output, kept across collects */
	struct net_endpoint_value *batch_values;
	bool no_batch; /* the kernel refused a batched read once: walk key by key from then on */
	struct resolved_name **names; /* resolver cache, a hash of chains */
	size_t nnames;
	struct lookup *lookups; /* in flight, each owned by its request until it completes */
	unsigned lookups_in_flight;
};

/* ---- reverse lookups: asynchronous, cached, never blocking a collect ---- */

#define NAME_BUCKETS 1024
#define NAME_TTL_MS (5 * 60 * 1000)
#define NAME_RETRY_MS (60 * 1000)
#define LOOKUPS_MAX 16
#define NAMES_MAX 8192

struct resolved_name {
	struct resolved_name *next;
	unsigned char family;
	unsigned char addr[16];
	bool pending;
	char *name;          /* NULL: no name (yet) */
	uint64_t expires_ms; /* monotonic */
};

struct lookup {
	uv_getnameinfo_t req;
	struct network_state *st; /* NULL once the module is gone */
	struct resolved_name *entry;
	struct lookup *prev, *next;
};

static unsigned name_bucket(int family, const unsigned char *addr)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;
	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h % NAME_BUCKETS;
}

static void lookup_done(uv_getnameinfo_t *req, int status, const char *hostname, const char *service)
{
	(void)service;
	struct lookup *l = req->data;
	if (l->st) {
		if (l->prev)
			l->prev->next = l->next;
		else
			l->st->lookups = l->next;
		if (l->next)
			l->next->prev = l->prev;
		l->st->lookups_in_flight--;
		l->entry->pending = false;
		uint64_t now = uv_now(req->loop);
		if (status == 0 && hostname) {
			free(l->entry->name);
			l->entry->name = strdup(hostname);
			l->entry->expires_ms = now + NAME_TTL_MS;
		} else {
			l->entry->expires_ms = now + NAME_RETRY_MS;
		}
	}
	free(l);
}

/* The remote's name when known; starts a lookup when not, and answers NULL meanwhile. */
static const char *name_of(struct network_state *st, uv_loop_t *loop, const struct net_endpoint_key *key)
{
	if (!st->names && !(st->names = calloc(NAME_BUCKETS, sizeof(*st->names))))
		return NULL;
	struct resolved_name **slot = &st->names[name_bucket(key->family, key->addr)];
	struct resolved_name *e = *slot;
	while (e && (e->family != key->family || memcmp(e->addr, key->addr, 16)))
		e = e->next;
	uint64_t now = uv_now(loop);
	if (e && (e->pending || now < e->expires_ms))
		return e->name;
	if (st->lookups_in_flight >= LOOKUPS_MAX)
		return e ? e->name : NULL;
	if (!e) {
		if (st->nnames >= NAMES_MAX || !(e = calloc(1, sizeof(*e))))
			return NULL;
		e->family = key->family;
		memcpy(e->addr, key->addr, 16);
		e->next = *slot;
		*slot = e;
		st->nnames++;
	}
	struct lookup *l = calloc(1, sizeof(*l));
	if (!l)
		return e->name;
	struct sockaddr_storage ss = { 0 };
	if (key->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, key->addr, 4);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, key->addr, 16);
	}
	l->st = st;
	l->entry = e;
	l->req.data = l;
	if (uv_getnameinfo(loop, &l->req, lookup_done, (struct sockaddr *)&ss, NI_NAMEREQD)) {
		free(l);
		e->expires_ms = now + NAME_RETRY_MS;
		return e->name;
	}
	e->pending = true;
	st->lookups_in_flight++;
	l->next = st->lookups;
	if (st->lookups)
		st->lookups->prev = l;
	st->lookups = l;
	return e->name;
}

static void names_free(struct network_state *st)
{
	/* Lookups still running complete into nothing: their requests free themselves. */
	for (struct lookup *l = st->lookups; l; l = l->next) {
		l->st = NULL;
		uv_cancel((uv_req_t *)&l->req);
	}
	st->lookups = NULL;
	if (!st->names)
		return;
	for (size_t b = 0; b < NAME_BUCKETS; b++)
		for (struct resolved_name *e = st->names[b], *next; e; e = next) {
			next = e->next;
			free(e->name);
			free(e);
		}
	free(st->names);
	st->names = NULL;
}

/* ---- the module ---- */

static struct bpf_object *network_open(struct module *m)
{
	struct network_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	/* The build that counts on the socket wherever the kernel takes it; counts_on_socket says whether it does. */
	st->skel = network_object_open(!m->probes || m->probes->atomics_fetch);
	if (st->skel && m->probes) {
		map_prealloc_where_needed(st->skel->maps.net_endpoints, probe_cache_btf(m->probes));
		map_prealloc_where_needed(st->skel->maps.net_connections, probe_cache_btf(m->probes));
	}
	return st->skel ? st->skel->obj : NULL;
}

/* The shared sock:* programs count a protocol only where its event chose them. */
/*
 * The fexit receive ways read udp_recvmsg's result where the kernel puts it
 * (agent/kernel/btf_proto.h).
 */
static bool network_way_fits(const struct module *m, size_t event, int way, char *why)
{
	const struct attach_way *w = &m->ops->events[event].ways[way];
	if (event != EVENT_UDP_RECV_RESULT || w->tier != ATTACH_FENTRY)
		return true;
	return btf_fits_udp_recv_fexit(probe_cache_btf(m->probes), w->progs, WAY_MAX_PROGS, why, REASON_MAX);
}

/* The inode number of the agent's network namespace, as the kernel's ns.inum; 0 when unknown. */
static __u32 own_netns(void)
{
	struct stat ns;
	return stat("/proc/self/ns/net", &ns) ? 0 : (__u32)ns.st_ino;
}

/* Programs of this tier get a socket they may hand to bpf_sk_storage_*(); ATTACH_AUTO: the event has none. */
static bool tier_may_use_sk_storage(enum attach_tier tier)
{
	return tier == ATTACH_TP_BTF || tier == ATTACH_FENTRY || tier == ATTACH_AUTO;
}

static void network_prepare(struct module *m)
{
	struct network_state *st = m->priv;
	st->skel->rodata->net_tcp_send_tier = (unsigned char)attach_pair_tier(m, EVENT_TCP_SEND, EVENT_TCP_SEND_RESULT);
	st->skel->rodata->net_tcp_recv_tier = (unsigned char)attach_chosen_tier(m, EVENT_TCP_RECV);
	st->skel->rodata->net_udp_send_tier = (unsigned char)attach_pair_tier(m, EVENT_UDP_SEND, EVENT_UDP_SEND_RESULT);
	st->skel->rodata->net_udp_recv_tier = (unsigned char)attach_pair_tier(m, EVENT_UDP_RECV, EVENT_UDP_RECV_RESULT);
	/*
	 * A connection's direction goes on the socket itself when every program
	 * that keeps or reads it may use socket-local storage (tp_btf, fentry/fexit):
	 * one lookup less per TCP send and receive. net_connections is not used then.
	 */
	st->skel->rodata->conn_on_socket = btf_tracing_has_sk_storage(probe_cache_btf(m->probes)) &&
					   tier_may_use_sk_storage(attach_chosen_tier(m, EVENT_STATE)) &&
					   tier_may_use_sk_storage(attach_pair_tier(m, EVENT_TCP_SEND, EVENT_TCP_SEND_RESULT)) &&
					   tier_may_use_sk_storage(attach_chosen_tier(m, EVENT_TCP_RECV));
	bpf_map__set_max_entries(st->skel->maps.net_connections,
				 st->skel->rodata->conn_on_socket ? 1 : NET_CONNECTIONS_MAX);
	/*
	 * And its bytes too, where the kernel has atomics with fetch (5.12) and
	 * loads an iterator for the collect's pass.
	 */
	bool atomics = m->probes && m->probes->atomics_fetch;
	st->pass = PASS_NONE;
	if (st->skel->rodata->conn_on_socket && atomics) {
		if (m->probes->iter_sk_storage)
			st->pass = PASS_STORAGE;
		else if (m->probes->iter_tcp && (st->skel->rodata->counts_netns = own_netns()) != 0)
			st->pass = PASS_TCP; /* only the agent's namespace's sockets count on the socket */
	}
	st->skel->rodata->counts_on_socket = st->pass != PASS_NONE;
	bpf_program__set_autoload(st->skel->progs.net_flush_sockets, st->pass == PASS_STORAGE);
	bpf_program__set_autoload(st->skel->progs.net_flush_tcp, st->pass == PASS_TCP);
	/*
	 * Only the kprobe and kretprobe pairs keep calls in net_calls. Elsewhere it
	 * stays empty, but 5.10 and 6.1 charge a map its capacity, allocated or
	 * not (1.4 MiB on 5.10): one entry then.
	 */
	if (attach_chosen_tier(m, EVENT_TCP_SEND_RESULT) != ATTACH_KPROBE &&
	    attach_chosen_tier(m, EVENT_UDP_SEND_RESULT) != ATTACH_KPROBE &&
	    attach_chosen_tier(m, EVENT_UDP_RECV_RESULT) != ATTACH_KPROBE)
		bpf_map__set_max_entries(st->skel->maps.net_calls, 1);
	else
		bpf_map__set_max_entries(st->skel->maps.net_calls, NET_CALLS_MAX);
}

/* The service names, once attached; the filters are the ones the config loader parsed. */
static int network_start(struct module *m)
{
	struct network_state *st = m->priv;
	char err[256];
	/* The filter points into the config the module attached with, held until module_release(). */
	if (net_filter_load(&st->filter, config_module_opts(m->attached_cfg, m->id), NET_SERVICES_PATH, err,
			    sizeof(err))) {
		log_error("network", "%s", err);
		return -EINVAL;
	}
	st->filter_loaded = true;
	if (st->pass == PASS_NONE)
		return 0;
	struct bpf_program *pass =
		st->pass == PASS_STORAGE ? st->skel->progs.net_flush_sockets : st->skel->progs.net_flush_tcp;
	union bpf_iter_link_info storage = { .map.map_fd = (__u32)bpf_map__fd(st->skel->maps.net_conn_storage) };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &storage, .link_info_len = sizeof(storage));
	st->pass_link = bpf_program__attach_iter(pass, st->pass == PASS_STORAGE ? &opts : NULL);
	if (!st->pass_link) {
		int rc = -errno;
		log_error("network", "cannot attach %s, which moves the bytes counted on sockets: %s",
			  bpf_program__name(pass), strerror(-rc));
		return rc;
	}
	log_info("network", "TCP bytes count on the socket, moved at each collect by a pass over %s",
		 st->pass == PASS_STORAGE ? "the sockets that count"
					  : "this network namespace's TCP sockets (the kernel refuses map iterators: "
					    "other namespaces' sockets count per event)");
	return 0;
}

/*
 * Move every socket's bytes counted since the last collect into
 * net_endpoints: one pass of the iterator, which writes no output.
 */
static int flush_sockets(struct network_state *st)
{
	if (!st->pass_link)
		return 0;
	int fd = bpf_iter_create(bpf_link__fd(st->pass_link));
	if (fd < 0)
		return -errno;
	char buf[64];
	ssize_t got;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		;
	int err = got < 0 ? -errno : 0;
	close(fd);
	return err;
}

static void network_destroy(struct module *m)
{
	struct network_state *st = m->priv;
	if (!st)
		return;
	bpf_link__destroy(st->pass_link);
	network_bpf__destroy(st->skel);
	if (st->filter_loaded)
		net_filter_free(&st->filter);
	free(st->endpoints);
	free(st->scratch);
	free(st->deltas);
	free(st->live);
	free(st->next_live);
	free(st->batch_keys);
	free(st->batch_values);
	names_free(st);
	free(st);
	m->priv = NULL;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct endpoint *)a)->key, &((const struct endpoint *)b)->key,
		      sizeof(struct net_endpoint_key));
}

/* One key or value at a time: kernels or maps that refuse batched reads. */
static size_t read_endpoints_by_key(int fd, struct endpoint *out)
{
	struct net_endpoint_key key, next;
	size_t n = 0;
	int rc = bpf_map_get_next_key(fd, NULL, &next);
	while (!rc && n < NET_ENDPOINTS_MAX) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &out[n].last)) {
			out[n].key = key;
			n++;
		}
		rc = bpf_map_get_next_key(fd, &key, &next);
	}
	return n;
}

/*
 * The whole map in a few bpf() calls instead of two per endpoint (500
 * endpoints cost ~1000 syscalls per collect the other way). Returns how many
 * were read, or -errno.
 */
static long read_endpoints_batch(struct network_state *st, int fd)
{
	if (!st->batch_keys && !(st->batch_keys = calloc(NET_ENDPOINTS_MAX, sizeof(*st->batch_keys))))
		return -ENOMEM;
	if (!st->batch_values && !(st->batch_values = calloc(NET_ENDPOINTS_MAX, sizeof(*st->batch_values))))
		return -ENOMEM;
	/* A hash map's batch position is a bucket index (4 bytes); sized as a key to be safe elsewhere. */
	struct net_endpoint_key token = { 0 };
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t n = 0;
	bool first = true;
	while (n < NET_ENDPOINTS_MAX) {
		__u32 count = (__u32)(NET_ENDPOINTS_MAX - n);
		int rc = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, st->batch_keys + n,
					      st->batch_values + n, &count, &opts);
		if (rc < 0 && rc != -ENOENT)
			return rc;
		n += count;
		if (rc)
			break; /* ENOENT: the last chunk, its entries counted above */
		first = false;
	}
	for (size_t i = 0; i < n; i++) {
		st->scratch[i].key = st->batch_keys[i];
		st->scratch[i].last = st->batch_values[i];
	}
	return (long)n;
}

/* Every endpoint the kernel holds, sorted by key, into st->scratch. Returns how many, or -errno. */
static long read_endpoints(struct network_state *st)
{
	int fd = bpf_map__fd(st->skel->maps.net_endpoints);
	if (!st->scratch && !(st->scratch = calloc(NET_ENDPOINTS_MAX, sizeof(*st->scratch))))
		return -ENOMEM;
	long n = -EINVAL;
	if (!st->no_batch) {
		n = read_endpoints_batch(st, fd);
		/* EINVAL: no batch command (before 5.6); ENOTSUPP (524, kernel-internal) or EOPNOTSUPP: not for this map. */
		if (n == -EINVAL || n == -524 || n == -EOPNOTSUPP) {
			st->no_batch = true;
			log_info("network", "batched map reads refused (%s): reading endpoints one by one",
				 strerror((int)-n));
		}
	}
	/* ENOSPC (a hash bucket larger than the room left) cannot happen with room for the whole map; walk anyway. */
	if (st->no_batch || n == -ENOSPC)
		n = (long)read_endpoints_by_key(fd, st->scratch);
	if (n < 0)
		return n;
	qsort(st->scratch, (size_t)n, sizeof(*st->scratch), key_cmp);
	return n;
}

static uint64_t counter_delta(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

static bool is_v4_mapped(const unsigned char *a)
{
	static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return !memcmp(a, prefix, sizeof(prefix));
}

/* The dst tag: the remote's name when resolved (returned, else NULL), its address, or "any". */
static const char *name_endpoint(struct network_state *st, uv_loop_t *loop, bool resolve, struct endpoint_delta *d)
{
	const struct net_endpoint_key *key = &d->ep->key;
	const char *name = resolve && key->peer_known ? name_of(st, loop, key) : NULL;
	if (name) {
		snprintf(d->dst, sizeof(d->dst), "%s", name);
	} else if (!key->peer_known) {
		snprintf(d->dst, sizeof(d->dst), "any");
	} else if (key->family == AF_INET || is_v4_mapped(key->addr)) {
		inet_ntop(AF_INET, key->family == AF_INET ? key->addr : key->addr + 12, d->dst, sizeof(d->dst));
	} else {
		inet_ntop(AF_INET6, key->addr, d->dst, sizeof(d->dst));
	}
	return name;
}

static int busiest_first(const void *a, const void *b)
{
	const struct endpoint_delta *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	int c = strcmp(x->dst, y->dst);
	if (c)
		return c;
	return key_cmp(x->ep, y->ep);
}

static const char *proto_name(unsigned char proto) { return proto == IPPROTO_UDP ? "udp" : "tcp"; }
static const char *direction_name(unsigned char d) { return d == NET_DIRECTION_IN ? "in" : "out"; }

static const char *const endpoint_series[] = { "net.conn.sent.bytes", "net.conn.recv.bytes", "net.conn.opened",
					       "net.conn.closed" };

static bool hooked(const struct module *m, int event) { return m->events[event].chosen >= 0; }

static void emit(const struct module *m, struct series_store *store, const char *dst, const char *port,
		 const char *service, const char *proto, const char *direction, const struct net_endpoint_value *v)
{
	const struct metric_tag tags[] = {
		{ "dst", dst }, { "port", port }, { "service", service }, { "proto", proto }, { "direction", direction },
	};
	unsigned n = sizeof(tags) / sizeof(tags[0]);
	if (!v) {
		for (size_t i = 0; i < sizeof(endpoint_series) / sizeof(endpoint_series[0]); i++)
			series_retire(store, endpoint_series[i], tags, n);
		return;
	}
	/* A direction no event of this protocol watches is not sent: a 0 there would be a guess. */
	bool udp = !strcmp(proto, "udp");
	bool sent_seen = udp ? hooked(m, EVENT_UDP_SEND) || hooked(m, EVENT_UDP_SEND_RESULT)
			     : hooked(m, EVENT_TCP_SEND) || hooked(m, EVENT_TCP_SEND_RESULT);
	bool recv_seen = udp ? hooked(m, EVENT_UDP_RECV) || hooked(m, EVENT_UDP_RECV_RESULT) : hooked(m, EVENT_TCP_RECV);
	if (sent_seen)
		series_counter_add(store, "net.conn.sent.bytes", tags, n, v->sent);
	if (recv_seen)
		series_counter_add(store, "net.conn.recv.bytes", tags, n, v->recv);
	if (!strcmp(proto, "tcp") && m->events[EVENT_STATE].chosen >= 0) {
		series_counter_add(store, "net.conn.opened", tags, n, v->opened);
		series_counter_add(store, "net.conn.closed", tags, n, v->closed);
	}
}

/* An endpoint's series, by its key and the dst it was sent under: v NULL retires them. */
static void emit_endpoint(const struct module *m, struct series_store *store, const struct network_state *st,
			  const struct net_endpoint_key *key, const char *dst, const struct net_endpoint_value *v)
{
	char port[NET_PORT_TEXT_MAX], service_buf[NET_PORT_TEXT_MAX];
	snprintf(port, sizeof(port), "%u", key->port);
	const char *service = net_service_name(st->filter.services, key->port, key->proto, service_buf,
					       sizeof(service_buf));
	emit(m, store, dst, port, service, proto_name(key->proto), direction_name(key->direction), v);
}

static int live_key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct live_endpoint *)a)->key, &((const struct live_endpoint *)b)->key,
		      sizeof(struct net_endpoint_key));
}

static int live_recent_first(const void *a, const void *b)
{
	const struct live_endpoint *x = a, *y = b;
	if (x->active_ms != y->active_ms)
		return x->active_ms > y->active_ms ? -1 : 1;
	return live_key_cmp(a, b);
}

/* Room for max_dimensions live endpoints in both arrays; false when memory runs out. */
static bool live_reserve(struct network_state *st, size_t cap)
{
	if (st->live_cap >= cap)
		return true;
	struct live_endpoint *a = realloc(st->live, cap * sizeof(*a));
	if (a)
		st->live = a;
	struct live_endpoint *b = a ? realloc(st->next_live, cap * sizeof(*b)) : NULL;
	if (b)
		st->next_live = b;
	if (!a || !b)
		return false;
	st->live_cap = cap;
	return true;
}

/*
 * The endpoints sent this collect (deltas[0..nsent)) take their slots; the
 * rest of the max_dimensions slots go to endpoints sent before, most recently
 * active first, which the store sends as 0 until series_ttl. Those left
 * without a slot are retired, so no flush carries more than max_dimensions
 * endpoints, zeros included.
 */
static void live_update(const struct module *m, struct series_store *store, struct network_state *st,
			const struct endpoint_delta *deltas, size_t nsent, uint64_t now_ms)
{
	const struct network_opts *opts = module_opts(m);
	size_t max = opts->max_dimensions, n = 0;
	uint64_t ttl_ms = m->cfg->global.series_ttl_ms;
	for (size_t i = 0; i < nsent && n < max; i++) {
		struct live_endpoint probe = { .key = deltas[i].ep->key };
		struct live_endpoint *old = bsearch(&probe, st->live, st->nlive, sizeof(probe), live_key_cmp);
		if (old) {
			old->renewed = true;
			if (strcmp(old->dst, deltas[i].dst)) /* now named (or named differently): the old series end */
				emit_endpoint(m, store, st, &old->key, old->dst, NULL);
		}
		struct live_endpoint *e = &st->next_live[n++];
		e->key = probe.key;
		e->active_ms = now_ms;
		e->renewed = false;
		snprintf(e->dst, sizeof(e->dst), "%s", deltas[i].dst);
	}
	/* The idle ones, most recent first, into the slots left. */
	size_t idle = 0;
	for (size_t i = 0; i < st->nlive; i++)
		if (!st->live[i].renewed)
			st->live[idle++] = st->live[i];
	qsort(st->live, idle, sizeof(*st->live), live_recent_first);
	for (size_t i = 0; i < idle; i++) {
		const struct live_endpoint *old = &st->live[i];
		bool expired = ttl_ms && now_ms - old->active_ms >= ttl_ms;
		if (n < max && !expired)
			st->next_live[n++] = *old;
		else /* expired too: the store may count series_ttl from a later flush */
			emit_endpoint(m, store, st, &old->key, old->dst, NULL);
	}
	qsort(st->next_live, n, sizeof(*st->next_live), live_key_cmp);
	struct live_endpoint *swap = st->live;
	st->live = st->next_live;
	st->next_live = swap;
	st->nlive = n;
}

static void sum_into(struct net_endpoint_value *sum, const struct net_endpoint_value *v)
{
	sum->sent += v->sent;
	sum->recv += v->recv;
	sum->opened += v->opened;
	sum->closed += v->closed;
}

/*
 * Endpoints unchanged this long are removed from the kernel's map, so that
 * it holds the live ones; their series end with series_ttl as usual.
 */
#define IDLE_FORGET_MS (2 * 60 * 1000)

static void forget_idle(struct network_state *st, uint64_t now_ms)
{
	int fd = bpf_map__fd(st->skel->maps.net_endpoints);
	/*
	 * Many new endpoints a second (a scan, a fan-out) would fill the map long
	 * before two minutes pass, and what the map cannot hold is not counted:
	 * past half full, an endpoint unchanged for one collect is let go (it
	 * comes back from zero, as a new one, with its next byte).
	 */
	uint64_t forget_ms = st->nendpoints > NET_ENDPOINTS_MAX / 2 ? 1 : IDLE_FORGET_MS;
	size_t kept = 0;
	for (size_t i = 0; i < st->nendpoints; i++) {
		struct endpoint *ep = &st->endpoints[i];
		if (now_ms - ep->idle_since_ms >= forget_ms && !bpf_map_delete_elem(fd, &ep->key))
			continue;
		st->endpoints[kept++] = *ep;
	}
	st->nendpoints = kept;
}

static int network_collect(struct module *m, struct series_store *store)
{
	struct network_state *st = m->priv;
	const struct network_opts *opts = module_opts(m);
	if (!st->filter_loaded)
		return -EINVAL; /* nothing would pass a filter that could not be built */
	uv_loop_t *loop = m->timer.loop;
	uint64_t now_ms = uv_now(loop);
	int flushed = flush_sockets(st);
	if (flushed < 0)
		return flushed;
	long n = read_endpoints(st);
	if (n < 0)
		return (int)n;
	if (!st->endpoints && !(st->endpoints = calloc(NET_ENDPOINTS_MAX, sizeof(*st->endpoints))))
		return -ENOMEM;
	if (!st->deltas && !(st->deltas = calloc(NET_ENDPOINTS_MAX, sizeof(*st->deltas))))
		return -ENOMEM;

	size_t ndeltas = 0;
	for (long i = 0; i < n; i++) {
		struct endpoint *cur = &st->scratch[i];
		const struct endpoint *before = bsearch(cur, st->endpoints, st->nendpoints, sizeof(*cur), key_cmp);
		struct net_endpoint_value zero = { 0 }, d;
		const struct net_endpoint_value *prev = before ? &before->last : &zero;
		d.sent = counter_delta(cur->last.sent, prev->sent);
		d.recv = counter_delta(cur->last.recv, prev->recv);
		d.opened = counter_delta(cur->last.opened, prev->opened);
		d.closed = counter_delta(cur->last.closed, prev->closed);
		bool changed = d.sent || d.recv || d.opened || d.closed;
		cur->idle_since_ms = changed || !before ? now_ms : before->idle_since_ms;
		/* Ports and addresses first: an endpoint they drop is not worth a name lookup. */
		if (!changed || !net_filter_pass_endpoint(&st->filter, &cur->key, NULL))
			continue;
		struct endpoint_delta *ed = &st->deltas[ndeltas];
		ed->ep = cur;
		ed->delta = d;
		ed->bytes = d.sent + d.recv;
		const char *name = name_endpoint(st, loop, opts->resolve_hostnames, ed);
		if (name && !net_filter_pass_endpoint(&st->filter, &cur->key, name))
			continue;
		ndeltas++;
	}
	qsort(st->deltas, ndeltas, sizeof(*st->deltas), busiest_first);

	/* Without room to remember what is sent, nothing is sent on its own: all of it goes to "other". */
	size_t max = live_reserve(st, opts->max_dimensions) ? opts->max_dimensions : 0;
	/* The rest, by protocol and direction, so totals per protocol and direction stay exact. */
	struct net_endpoint_value other[2][2] = { 0 };
	bool other_seen[2][2] = { { false } };
	for (size_t i = 0; i < ndeltas; i++) {
		const struct endpoint_delta *d = &st->deltas[i];
		const struct net_endpoint_key *key = &d->ep->key;
		if (i < max) {
			emit_endpoint(m, store, st, key, d->dst, &d->delta);
			continue;
		}
		int p = key->proto == IPPROTO_UDP, dir = key->direction == NET_DIRECTION_IN;
		sum_into(&other[p][dir], &d->delta);
		other_seen[p][dir] = true;
	}
	for (int p = 0; p < 2; p++)
		for (int dir = 0; dir < 2; dir++)
			if (other_seen[p][dir])
				emit(m, store, "other", "other", "other", p ? "udp" : "tcp", dir ? "in" : "out", &other[p][dir]);
	if (max)
		live_update(m, store, st, st->deltas, ndeltas < max ? ndeltas : max, now_ms);

	struct endpoint *swap = st->endpoints;
	st->endpoints = st->scratch;
	st->nendpoints = (size_t)n;
	st->scratch = swap;
	forget_idle(st, now_ms);

	uint64_t c[sizeof(struct net_counters) / sizeof(uint64_t)];
	if (!percpu_sum_u64(bpf_map__fd(st->skel->maps.net_counters), 0, 3, c)) {
		struct metric_tag endpoints = { "map", "net_endpoints" }, connections = { "map", "net_connections" },
				  calls = { "map", "net_calls" };
		series_counter_observe(store, "agent.bpf.map_full", &endpoints, 1, c[0]);
		series_counter_observe(store, "agent.bpf.map_full", &connections, 1, c[1]);
		series_counter_observe(store, "agent.bpf.map_full", &calls, 1, c[2]);
	}
	return 0;
}

const struct module_ops network_module = {
	.name = "network",
	.config_help = "net.conn.*: traffic per remote endpoint",
	.enabled_by_default = true,
	.keys = network_keys,
	.nkeys = sizeof(network_keys) / sizeof(network_keys[0]),
	.opts_size = sizeof(struct network_opts),
	.metrics = network_metrics,
	.nmetrics = sizeof(network_metrics) / sizeof(network_metrics[0]),
	.events = network_events,
	.nevents = sizeof(network_events) / sizeof(network_events[0]),
	.open = network_open,
	.destroy = network_destroy,
	.prepare = network_prepare,
	.way_fits = network_way_fits,
	.start = network_start,
	.collect = network_collect,
	.sock_chain_slot = SOCK_SLOT_NETWORK,
};
