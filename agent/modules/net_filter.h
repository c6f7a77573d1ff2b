/*
 * The network viewer's filters and service names (docs/metrics.md "network",
 * config/bpfpush.yaml `modules.network`): pure userspace, no BPF.
 *
 * The three filters share Netdata's network.conf rules. A filter is a list
 * of tokens separated by whitespace or commas; a token prefixed with "!"
 * excludes. A value passes when some include matches it and no exclude does:
 * exclusion wins whatever the order. A filter with no include at all (only
 * exclusions, or nothing) lets everything pass but what it excludes.
 *
 *   ports      "1-1024 !145 !domain": numbers 0-65535, ranges a-b, service
 *              names (from the services file), "*".
 *   ips        "!127.0.0.1/8 10.0.0.0/8 fc00::/7": IPv4 or IPv6 addresses,
 *              CIDR, ranges a-b of one family, "*". An IPv4-mapped IPv6
 *              address (::ffff:a.b.c.d) is an IPv4 address, both in the
 *              filter and when matching.
 *   hostnames  "*.example.com !bad.example.com": globs where "*" matches
 *              any run of characters (dots too) and "?" one character,
 *              compared without regard to case.
 *
 * Parse functions return 0, or -1 with one message in err naming the
 * offending token and what is wrong with it; the caller adds where it was
 * written. After a failure the output holds nothing to free, and freeing it
 * anyway is harmless. Nothing here keeps global state: every table belongs
 * to the struct that a free function releases.
 */
#ifndef BPFPUSH_NET_FILTER_H
#define BPFPUSH_NET_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define NET_SERVICES_PATH "/etc/services"

/* ------------------------------------------------------------------ */
/* Service names                                                        */

/*
 * Port -> name for the `service` tag, and name -> port for the ports
 * filter: the config's service_names, then the services file (read once
 * here, never through getservbyport, which is slow and not thread-safe).
 */
struct net_services;

/*
 * Reads services_path (NULL: none) and copies the config's port -> name
 * pairs. A missing or unreadable file is not an error: names then fall back
 * to port numbers. Returns NULL only when memory runs out.
 */
struct net_services *net_services_load(const char *services_path, const struct config_service_name *names,
				       size_t nnames);
void net_services_free(struct net_services *services);
/* Whether the services file was read: without it, service tags are port numbers. */
bool net_services_have_file(const struct net_services *services);

/* Room for a port number as text ("65535" and its NUL). */
#define NET_PORT_TEXT_MAX 6

/*
 * The service tag for a port: the config's name for it, else the services
 * file's name for that protocol (IPPROTO_TCP or IPPROTO_UDP), else the
 * number written into buf (len >= NET_PORT_TEXT_MAX). The result is either
 * owned by services (valid until it is freed) or buf. services may be NULL.
 */
const char *net_service_name(const struct net_services *services, uint16_t port, int proto, char *buf,
			     size_t len);

/* ------------------------------------------------------------------ */
/* Ports                                                                */

#define NET_PORTS_WORDS (65536 / 64)

/* One bit per port that passes: 8 KiB, O(1) to test, no heap memory. */
struct net_ports {
	uint64_t pass[NET_PORTS_WORDS];
};

/*
 * Service names are looked up in services' file, by name or alias, for TCP
 * and UDP (the config's service_names are tags, not filter names). Without a
 * services file (services NULL, or the file missing, as in a bare
 * container) a few well-known names such as domain, http and https still
 * resolve, so the default filter works everywhere.
 */
int net_ports_parse(struct net_ports *out, const char *text, const struct net_services *services, char *err,
		    size_t errlen);
bool net_ports_pass(const struct net_ports *ports, uint16_t port);

/* ------------------------------------------------------------------ */
/* IP addresses                                                         */

/* A 128-bit number in host order: IPv4 addresses use the low 32 bits. */
struct net_u128 {
	uint64_t hi, lo;
};

struct net_ip_range {
	struct net_u128 lo, hi; /* inclusive */
};

/*
 * What passes, worked out when parsing (includes minus excludes), as sorted
 * disjoint ranges per family: a match is one binary search.
 */
struct net_ips {
	struct net_ip_range *v4;
	size_t nv4;
	struct net_ip_range *v6;
	size_t nv6;
};

int net_ips_parse(struct net_ips *out, const char *text, char *err, size_t errlen);
void net_ips_free(struct net_ips *ips);
/* addr: 4 bytes (AF_INET) or 16 bytes (AF_INET6) in network order; other families fail. */
bool net_ips_pass(const struct net_ips *ips, int family, const void *addr);

/* ------------------------------------------------------------------ */
/* Host names                                                           */

struct net_hostnames {
	char **include; /* globs as written, matched without regard to case */
	size_t ninclude;
	char **exclude;
	size_t nexclude;
};

int net_hostnames_parse(struct net_hostnames *out, const char *text, char *err, size_t errlen);
void net_hostnames_free(struct net_hostnames *hostnames);
/* A NULL name (not resolved yet) passes: the filter applies once there is a name. */
bool net_hostnames_pass(const struct net_hostnames *hostnames, const char *name);

/* ------------------------------------------------------------------ */
/* Everything the network viewer's config asks for                      */

/* The network module's options (its keys are in agent/modules/network.c). */
struct network_opts {
	char *ports; /* filter expressions, as written: NULL means everything */
	char *ips;
	char *hostnames;
	/* Each expression parsed when the config loaded: struct net_ports, net_ips, net_hostnames; NULL: none. */
	void *ports_parsed;
	void *ips_parsed;
	void *hostnames_parsed;
	uint32_t max_dimensions;
	bool resolve_hostnames;
	struct config_port_names service_names;
};

/*
 * The keys' parsers (cfg_parse_fn, agent/core/config_keys.h): the parsed filter
 * on the heap, or NULL with why naming the token; and their release.
 * Service names in ports resolve through NET_SERVICES_PATH.
 */
void *net_filter_parse_ports(const char *value, char *why, size_t cap);
void *net_filter_parse_ips(const char *value, char *why, size_t cap);
void *net_filter_parse_hostnames(const char *value, char *why, size_t cap);
void net_filter_release_ports(void *ports);
void net_filter_release_ips(void *ips);
void net_filter_release_hostnames(void *hostnames);

struct net_filter {
	/* the config's parsed filters (it outlives the filter), else own_* */
	const struct net_ports *ports;
	const struct net_ips *ips;
	const struct net_hostnames *hostnames;
	struct net_services *services;
	/* parsed here from the text, for options no config loader filled (tests, tools) */
	struct net_ports *own_ports;
	struct net_ips own_ips;
	struct net_hostnames own_hostnames;
};

struct net_endpoint_key;

/*
 * Does an endpoint (probes/network.h) pass the three filters? name is the
 * remote's resolved host name, or NULL while it has none (resolve_hostnames
 * off, the lookup pending or failed): the address text the dst tag falls
 * back to is not a name, and an endpoint without a name passes the
 * hostnames filter, includes or not (config/bpfpush.yaml says so). An
 * endpoint whose peer the hook could not see is judged by its port alone.
 */
bool net_filter_pass_endpoint(const struct net_filter *filter, const struct net_endpoint_key *key, const char *name);

/*
 * Builds the filter and the service names from cfg, reading services_path
 * (normally NET_SERVICES_PATH). It takes the parsed forms the config loader
 * made and parses only text that has none. A NULL filter string means
 * "everything". On failure err starts with the key ("ports: ...") and out
 * holds nothing.
 */
int net_filter_load(struct net_filter *out, const struct network_opts *cfg, const char *services_path,
		    char *err, size_t errlen);
void net_filter_free(struct net_filter *filter);

#endif
