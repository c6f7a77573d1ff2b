/*
 * The network viewer's filters and service names (net_filter.h).
 *
 * Each filter does its work when parsed, so that matching, which runs for
 * every endpoint of every collection, is cheap: ports become a bitmap of
 * the ports that pass, addresses become sorted disjoint ranges of what
 * passes (includes minus excludes), and only host names keep their globs.
 */
#include "net_filter.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "grow.h"
#include "network.h"

/* Longer tokens are mistakes: a host name is at most 253 characters. */
#define NET_TOKEN_MAX 256
#define NET_PORT_MAX 65535u

static void set_error(char *err, size_t errlen, const char *fmt, ...) LOG_PRINTF(3, 4);
static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_ascii_alnum(char c) { return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static bool all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_ascii_digit(s[i]))
			return false;
	return true;
}

/* A decimal number of len digits; false when it is not one or exceeds max. */
static bool parse_number(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	if (!all_digits(s, len))
		return false;
	uint64_t value = 0;
	for (size_t i = 0; i < len; i++) {
		value = value * 10 + (uint64_t)(s[i] - '0');
		if (value > max)
			return false;
	}
	*out = (uint32_t)value;
	return true;
}

/* ------------------------------------------------------------------ */
/* Tokens: the syntax the three filters share                           */

struct net_token {
	char text[NET_TOKEN_MAX]; /* as written, "!" included */
	const char *body;         /* text after the "!" */
	bool exclude;
};

static bool is_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Returns 1 with the next token in tok, 0 at the end of the text, -1 when the token is malformed. */
static int next_token(const char **cursor, struct net_token *tok, char *err, size_t errlen)
{
	const char *start = *cursor;
	while (*start && is_separator(*start))
		start++;
	size_t len = 0;
	while (start[len] && !is_separator(start[len]))
		len++;
	*cursor = start + len;
	if (len == 0)
		return 0;
	if (len >= NET_TOKEN_MAX) {
		set_error(err, errlen, "\"%.40s...\": longer than %d characters", start, NET_TOKEN_MAX - 1);
		return -1;
	}
	memcpy(tok->text, start, len);
	tok->text[len] = '\0';
	tok->exclude = tok->text[0] == '!';
	tok->body = tok->text + (tok->exclude ? 1 : 0);
	if (tok->exclude && tok->body[0] == '\0') {
		set_error(err, errlen, "\"!\" with nothing after it");
		return -1;
	}
	if (tok->body[0] == '!') {
		set_error(err, errlen, "\"%s\": more than one \"!\"", tok->text);
		return -1;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Service names                                                        */

/* All names live in one pool; entries refer to them by offset, so the pool may move. */
struct string_pool {
	char *chars;
	size_t len, cap;
};

struct net_port_name {
	uint16_t port;
	uint32_t name; /* offset into the pool */
};

struct port_name_list {
	struct net_port_name *items;
	size_t len, cap;
};

struct net_services {
	struct string_pool pool;
	struct port_name_list config; /* service_names, by port */
	struct port_name_list tcp;    /* the file's primary names, by port */
	struct port_name_list udp;
	struct port_name_list names;  /* every TCP/UDP name and alias, in file order */
	bool have_file;
	uint32_t path; /* offset of the file's path, for messages */
};

/*
 * For a host without a services file (bare containers, the test VMs'
 * initramfs): enough well-known names that the shipped default filter
 * ("1-1024 !145 !domain") and common ones still parse. Filters only; the
 * service tag stays a number there, as the contract says.
 */
static const struct {
	const char *name;
	uint16_t port;
} well_known_services[] = {
	{ "ftp-data", 20 }, { "ftp", 21 },       { "ssh", 22 },     { "telnet", 23 },     { "smtp", 25 },
	{ "domain", 53 },   { "http", 80 },      { "www", 80 },     { "kerberos", 88 },   { "pop3", 110 },
	{ "sunrpc", 111 },  { "ntp", 123 },      { "imap", 143 },   { "imap2", 143 },     { "snmp", 161 },
	{ "ldap", 389 },    { "https", 443 },    { "microsoft-ds", 445 }, { "submission", 587 },
	{ "ldaps", 636 },   { "imaps", 993 },    { "pop3s", 995 },
};

static bool pool_add(struct string_pool *pool, const char *s, uint32_t *offset)
{
	size_t n = strlen(s) + 1;
	if (pool->len + n > UINT32_MAX)
		return false;
	char *chars = grow_array(pool->chars, &pool->cap, pool->len + n, 1, 4096);
	if (!chars)
		return false;
	pool->chars = chars;
	memcpy(pool->chars + pool->len, s, n);
	*offset = (uint32_t)pool->len;
	pool->len += n;
	return true;
}

static const char *pool_string(const struct string_pool *pool, uint32_t offset) { return pool->chars + offset; }

static bool port_name_list_add(struct port_name_list *list, uint16_t port, uint32_t name)
{
	struct net_port_name *items = grow_array(list->items, &list->cap, list->len + 1, sizeof(*items), 64);
	if (!items)
		return false;
	list->items = items;
	list->items[list->len++] = (struct net_port_name){ port, name };
	return true;
}

/* By port, then by pool offset, which is the order the names were added in. */
static int compare_port_then_order(const void *a, const void *b)
{
	const struct net_port_name *x = a, *y = b;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Sorts by port and keeps the first name given for each, as getservbyport would. */
static void port_name_list_index(struct port_name_list *list)
{
	if (list->len == 0)
		return;
	qsort(list->items, list->len, sizeof(*list->items), compare_port_then_order);
	size_t kept = 1;
	for (size_t i = 1; i < list->len; i++)
		if (list->items[i].port != list->items[kept - 1].port)
			list->items[kept++] = list->items[i];
	list->len = kept;
}

static const struct net_port_name *port_name_list_find(const struct port_name_list *list, uint16_t port)
{
	size_t lo = 0, hi = list->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (list->items[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < list->len && list->items[lo].port == port ? &list->items[lo] : NULL;
}

/* "53/tcp": only TCP and UDP matter to the network viewer. */
static bool parse_port_proto(const char *text, uint16_t *port, int *proto)
{
	const char *slash = strchr(text, '/');
	uint32_t value;
	if (!slash || !parse_number(text, (size_t)(slash - text), NET_PORT_MAX, &value))
		return false;
	if (strcmp(slash + 1, "tcp") == 0)
		*proto = IPPROTO_TCP;
	else if (strcmp(slash + 1, "udp") == 0)
		*proto = IPPROTO_UDP;
	else
		return false;
	*port = (uint16_t)value;
	return true;
}

/* One line of services(5): "name port/proto [alias...] [# comment]". False only when memory runs out. */
static bool services_add_line(struct net_services *svc, char *line)
{
	static const char blanks[] = " \t\r\n";
	char *comment = strchr(line, '#');
	if (comment)
		*comment = '\0';
	char *save = NULL;
	const char *name = strtok_r(line, blanks, &save);
	const char *port_proto = name ? strtok_r(NULL, blanks, &save) : NULL;
	uint16_t port;
	int proto;
	if (!port_proto || !parse_port_proto(port_proto, &port, &proto))
		return true; /* a malformed line, or another protocol: skip it */
	uint32_t offset;
	if (!pool_add(&svc->pool, name, &offset))
		return false;
	if (!port_name_list_add(proto == IPPROTO_TCP ? &svc->tcp : &svc->udp, port, offset) ||
	    !port_name_list_add(&svc->names, port, offset))
		return false;
	for (const char *alias; (alias = strtok_r(NULL, blanks, &save));)
		if (!pool_add(&svc->pool, alias, &offset) || !port_name_list_add(&svc->names, port, offset))
			return false;
	return true;
}

static bool services_read_file(struct net_services *svc, FILE *file)
{
	char *line = NULL;
	size_t cap = 0;
	bool ok = true;
	while (ok && getline(&line, &cap, file) >= 0)
		ok = services_add_line(svc, line);
	free(line);
	return ok;
}

static bool services_add_config(struct net_services *svc, const struct config_service_name *names, size_t nnames)
{
	for (size_t i = 0; i < nnames; i++) {
		uint32_t offset;
		if (!names[i].name)
			continue;
		if (!pool_add(&svc->pool, names[i].name, &offset) || !port_name_list_add(&svc->config, names[i].port, offset))
			return false;
	}
	return true;
}

struct net_services *net_services_load(const char *services_path, const struct config_service_name *names,
				       size_t nnames)
{
	struct net_services *svc = calloc(1, sizeof(*svc));
	if (!svc)
		return NULL;
	bool ok = pool_add(&svc->pool, services_path ? services_path : "", &svc->path) &&
		  services_add_config(svc, names, nnames);
	FILE *file = ok && services_path ? fopen(services_path, "re") : NULL;
	if (file) {
		ok = services_read_file(svc, file);
		svc->have_file = !ferror(file);
		fclose(file);
	}
	if (!ok) {
		net_services_free(svc);
		return NULL;
	}
	port_name_list_index(&svc->config);
	port_name_list_index(&svc->tcp);
	port_name_list_index(&svc->udp);
	return svc;
}

void net_services_free(struct net_services *svc)
{
	if (!svc)
		return;
	free(svc->pool.chars);
	free(svc->config.items);
	free(svc->tcp.items);
	free(svc->udp.items);
	free(svc->names.items);
	free(svc);
}

bool net_services_have_file(const struct net_services *svc) { return svc && svc->have_file; }

const char *net_service_name(const struct net_services *svc, uint16_t port, int proto, char *buf, size_t len)
{
	if (svc) {
		const struct port_name_list *from_file = proto == IPPROTO_TCP ? &svc->tcp
							 : proto == IPPROTO_UDP ? &svc->udp
										: NULL;
		const struct net_port_name *found = port_name_list_find(&svc->config, port);
		if (!found && from_file)
			found = port_name_list_find(from_file, port);
		if (found)
			return pool_string(&svc->pool, found->name);
	}
	snprintf(buf, len, "%u", (unsigned)port);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Ports                                                                */

static void ports_set(struct net_ports *ports, uint32_t port) { ports->pass[port / 64] |= UINT64_C(1) << (port % 64); }

static void ports_set_range(struct net_ports *ports, uint32_t first, uint32_t last)
{
	for (uint32_t port = first; port <= last; port++)
		ports_set(ports, port);
}

bool net_ports_pass(const struct net_ports *ports, uint16_t port)
{
	return (ports->pass[port / 64] >> (port % 64)) & 1;
}

/* Sets every port the name (or an alias of it) has; returns how many names matched. */
static size_t services_mark_name(const struct net_services *svc, const char *name, struct net_ports *into)
{
	size_t found = 0;
	if (net_services_have_file(svc)) {
		for (size_t i = 0; i < svc->names.len; i++)
			if (strcasecmp(pool_string(&svc->pool, svc->names.items[i].name), name) == 0) {
				ports_set(into, svc->names.items[i].port);
				found++;
			}
		return found;
	}
	for (size_t i = 0; i < sizeof(well_known_services) / sizeof(well_known_services[0]); i++)
		if (strcasecmp(well_known_services[i].name, name) == 0) {
			ports_set(into, well_known_services[i].port);
			found++;
		}
	return found;
}

static void unknown_service_error(const struct net_services *svc, const char *name, char *err, size_t errlen)
{
	const char *path = svc ? pool_string(&svc->pool, svc->path) : "";
	if (net_services_have_file(svc))
		set_error(err, errlen, "unknown service name \"%s\" (not in %s)", name, path);
	else if (*path)
		set_error(err, errlen, "unknown service name \"%s\" (%s cannot be read, and it is not a built-in name)",
			  name, path);
	else
		set_error(err, errlen, "unknown service name \"%s\" (no services file, and it is not a built-in name)",
			  name);
}

/* "a-b" made only of digits and one dash. */
static int ports_add_range(struct net_ports *into, const char *body, char *err, size_t errlen)
{
	const char *dash = strchr(body, '-');
	uint32_t first, last;
	if (!dash || !all_digits(body, (size_t)(dash - body)) || !all_digits(dash + 1, strlen(dash + 1))) {
		set_error(err, errlen, "bad port range \"%s\": expected START-END, two numbers from 0 to 65535", body);
		return -1;
	}
	if (!parse_number(body, (size_t)(dash - body), NET_PORT_MAX, &first) ||
	    !parse_number(dash + 1, strlen(dash + 1), NET_PORT_MAX, &last)) {
		set_error(err, errlen, "bad port range \"%s\": ports go from 0 to 65535", body);
		return -1;
	}
	if (first > last) {
		set_error(err, errlen, "bad port range \"%s\": the start is above the end", body);
		return -1;
	}
	ports_set_range(into, first, last);
	return 0;
}

static int ports_add_token(struct net_ports *into, const char *body, const struct net_services *svc, char *err,
			   size_t errlen)
{
	size_t len = strlen(body);
	if (strcmp(body, "*") == 0) {
		ports_set_range(into, 0, NET_PORT_MAX);
		return 0;
	}
	if (all_digits(body, len)) {
		uint32_t port;
		if (!parse_number(body, len, NET_PORT_MAX, &port)) {
			set_error(err, errlen, "bad port \"%s\": ports go from 0 to 65535", body);
			return -1;
		}
		ports_set(into, port);
		return 0;
	}
	if (strspn(body, "0123456789-") == len)
		return ports_add_range(into, body, err, errlen);
	if (services_mark_name(svc, body, into) > 0)
		return 0;
	/* Some service names start with a digit ("3com-tsmux"), so a name is tried before this. */
	if (is_ascii_digit(body[0]))
		set_error(err, errlen, "bad port \"%s\": expected a number, a range START-END, a service name or *",
			  body);
	else
		unknown_service_error(svc, body, err, errlen);
	return -1;
}

int net_ports_parse(struct net_ports *out, const char *text, const struct net_services *svc, char *err,
		    size_t errlen)
{
	struct net_ports exclude = { { 0 } };
	bool any_include = false;
	const char *cursor = text ? text : "";
	struct net_token tok;
	int rc;
	memset(out, 0, sizeof(*out));
	while ((rc = next_token(&cursor, &tok, err, errlen)) > 0) {
		if (ports_add_token(tok.exclude ? &exclude : out, tok.body, svc, err, errlen) < 0) {
			rc = -1;
			break;
		}
		any_include |= !tok.exclude;
	}
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	if (!any_include)
		memset(out->pass, 0xff, sizeof(out->pass));
	for (size_t i = 0; i < NET_PORTS_WORDS; i++)
		out->pass[i] &= ~exclude.pass[i];
	return 0;
}

/* ------------------------------------------------------------------ */
/* IP addresses                                                         */

enum { FAMILY_V4 = 0, FAMILY_V6, FAMILY_COUNT };

static const int family_bits[FAMILY_COUNT] = { 32, 128 };
static const char *const family_names[FAMILY_COUNT] = { "IPv4", "IPv6" };

static const struct net_u128 u128_max = { UINT64_MAX, UINT64_MAX };

static int u128_cmp(struct net_u128 a, struct net_u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static bool u128_eq(struct net_u128 a, struct net_u128 b) { return a.hi == b.hi && a.lo == b.lo; }

static struct net_u128 u128_inc(struct net_u128 a)
{
	return (struct net_u128){ a.hi + (a.lo == UINT64_MAX), a.lo + 1 };
}

static struct net_u128 u128_dec(struct net_u128 a)
{
	return (struct net_u128){ a.hi - (a.lo == 0), a.lo - 1 };
}

/* The lowest n bits set, n from 0 to 128. */
static struct net_u128 u128_low_ones(int n)
{
	if (n >= 128)
		return u128_max;
	if (n >= 64)
		return (struct net_u128){ n == 64 ? 0 : UINT64_MAX >> (128 - n), UINT64_MAX };
	return (struct net_u128){ 0, n == 0 ? 0 : UINT64_MAX >> (64 - n) };
}

static uint64_t load_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ::ffff:a.b.c.d: the first 80 bits zero, then 16 ones. */
static bool is_v4_mapped(struct net_u128 a) { return a.hi == 0 && (a.lo >> 32) == 0xffff; }

static struct net_u128 unmap_v4(struct net_u128 a) { return (struct net_u128){ 0, a.lo & UINT32_MAX }; }

static struct net_ip_range full_range(int family)
{
	return (struct net_ip_range){ { 0, 0 }, u128_low_ones(family_bits[family]) };
}

struct range_list {
	struct net_ip_range *items;
	size_t len, cap;
};

static bool range_list_add(struct range_list *list, struct net_ip_range range)
{
	struct net_ip_range *items = grow_array(list->items, &list->cap, list->len + 1, sizeof(*items), 8);
	if (!items)
		return false;
	list->items = items;
	list->items[list->len++] = range;
	return true;
}

static int compare_range_start(const void *a, const void *b)
{
	const struct net_ip_range *x = a, *y = b;
	return u128_cmp(x->lo, y->lo);
}

/* Sorted, with overlapping and touching ranges joined, so they are disjoint. */
static void range_list_normalize(struct range_list *list)
{
	if (list->len == 0)
		return;
	qsort(list->items, list->len, sizeof(*list->items), compare_range_start);
	size_t kept = 0;
	for (size_t i = 1; i < list->len; i++) {
		struct net_ip_range *last = &list->items[kept];
		const struct net_ip_range *next = &list->items[i];
		if (u128_eq(last->hi, u128_max) || u128_cmp(next->lo, u128_inc(last->hi)) <= 0) {
			if (u128_cmp(next->hi, last->hi) > 0)
				last->hi = next->hi;
		} else {
			list->items[++kept] = *next;
		}
	}
	list->len = kept + 1;
}

/* out = include minus exclude; both normalized, and so is the result. */
static bool range_list_subtract(const struct range_list *include, const struct range_list *exclude,
				struct range_list *out)
{
	size_t first_ex = 0;
	for (size_t i = 0; i < include->len; i++) {
		struct net_u128 from = include->items[i].lo, to = include->items[i].hi;
		while (first_ex < exclude->len && u128_cmp(exclude->items[first_ex].hi, from) < 0)
			first_ex++;
		bool rest_passes = true;
		for (size_t k = first_ex; k < exclude->len && u128_cmp(exclude->items[k].lo, to) <= 0; k++) {
			const struct net_ip_range *ex = &exclude->items[k];
			bool gap_before = u128_cmp(ex->lo, from) > 0;
			if (gap_before && !range_list_add(out, (struct net_ip_range){ from, u128_dec(ex->lo) }))
				return false;
			if (u128_cmp(ex->hi, to) >= 0) {
				rest_passes = false;
				break;
			}
			from = u128_inc(ex->hi);
		}
		if (rest_passes && !range_list_add(out, (struct net_ip_range){ from, to }))
			return false;
	}
	return true;
}

struct ips_builder {
	struct range_list include[FAMILY_COUNT];
	struct range_list exclude[FAMILY_COUNT];
	bool any_include;
};

static void ips_builder_release(struct ips_builder *b)
{
	for (int f = 0; f < FAMILY_COUNT; f++) {
		free(b->include[f].items);
		free(b->exclude[f].items);
	}
}

/* An IPv6 range wholly inside ::ffff:0:0/96 is the IPv4 range it maps; one that only overlaps it stays IPv6. */
static bool ips_builder_add(struct ips_builder *b, bool exclude, int family, struct net_ip_range range)
{
	if (family == FAMILY_V6 && is_v4_mapped(range.lo) && is_v4_mapped(range.hi)) {
		family = FAMILY_V4;
		range = (struct net_ip_range){ unmap_v4(range.lo), unmap_v4(range.hi) };
	}
	return range_list_add(exclude ? &b->exclude[family] : &b->include[family], range);
}

/* One address of either family, len characters of s. */
static bool parse_address(const char *s, size_t len, struct net_u128 *value, int *family)
{
	char text[INET6_ADDRSTRLEN + 1];
	unsigned char bytes[16];
	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, bytes) == 1) {
		*value = (struct net_u128){ 0, load_be32(bytes) };
		*family = FAMILY_V4;
		return true;
	}
	if (inet_pton(AF_INET6, text, bytes) == 1) {
		*value = (struct net_u128){ load_be64(bytes), load_be64(bytes + 8) };
		*family = FAMILY_V6;
		return true;
	}
	return false;
}

/* "10.0.0.0/8": host bits set in the address are ignored, as in "127.0.0.1/8". */
static int parse_cidr(const char *body, const char *slash, struct net_ip_range *range, int *family, char *err,
		      size_t errlen)
{
	struct net_u128 address;
	if (!parse_address(body, (size_t)(slash - body), &address, family)) {
		set_error(err, errlen, "bad address in \"%s\": \"%.*s\" is not an IPv4 or IPv6 address", body,
			  (int)(slash - body), body);
		return -1;
	}
	uint32_t prefix;
	int bits = family_bits[*family];
	if (!parse_number(slash + 1, strlen(slash + 1), (uint32_t)bits, &prefix)) {
		set_error(err, errlen, "bad prefix length in \"%s\": an %s prefix goes from 0 to %d", body,
			  family_names[*family], bits);
		return -1;
	}
	struct net_u128 host = u128_low_ones(bits - (int)prefix);
	range->lo = (struct net_u128){ address.hi & ~host.hi, address.lo & ~host.lo };
	range->hi = (struct net_u128){ address.hi | host.hi, address.lo | host.lo };
	return 0;
}

/* "a-b": IPv6 addresses have no dash, so the first one splits the range. */
static int parse_ip_range(const char *body, const char *dash, struct net_ip_range *range, int *family, char *err,
			  size_t errlen)
{
	int end_family;
	if (!parse_address(body, (size_t)(dash - body), &range->lo, family)) {
		set_error(err, errlen, "bad address range \"%s\": \"%.*s\" is not an IPv4 or IPv6 address", body,
			  (int)(dash - body), body);
		return -1;
	}
	if (!parse_address(dash + 1, strlen(dash + 1), &range->hi, &end_family)) {
		set_error(err, errlen, "bad address range \"%s\": \"%s\" is not an IPv4 or IPv6 address", body,
			  dash + 1);
		return -1;
	}
	if (end_family != *family) {
		set_error(err, errlen, "bad address range \"%s\": one end is IPv4 and the other IPv6", body);
		return -1;
	}
	if (u128_cmp(range->lo, range->hi) > 0) {
		set_error(err, errlen, "bad address range \"%s\": the start is above the end", body);
		return -1;
	}
	return 0;
}

static int ips_add_token(struct ips_builder *b, const struct net_token *tok, char *err, size_t errlen)
{
	const char *body = tok->body;
	bool ok = true;
	b->any_include |= !tok->exclude;
	if (strcmp(body, "*") == 0) {
		for (int f = 0; f < FAMILY_COUNT; f++)
			ok = ok && ips_builder_add(b, tok->exclude, f, full_range(f));
	} else {
		const char *slash = strchr(body, '/'), *dash = strchr(body, '-');
		struct net_ip_range range;
		int family;
		if (slash) {
			if (parse_cidr(body, slash, &range, &family, err, errlen) < 0)
				return -1;
		} else if (dash) {
			if (parse_ip_range(body, dash, &range, &family, err, errlen) < 0)
				return -1;
		} else if (parse_address(body, strlen(body), &range.lo, &family)) {
			range.hi = range.lo;
		} else {
			set_error(err, errlen, "bad address \"%s\": not an IPv4 or IPv6 address", body);
			return -1;
		}
		ok = ips_builder_add(b, tok->exclude, family, range);
	}
	if (!ok)
		set_error(err, errlen, "out of memory");
	return ok ? 0 : -1;
}

static bool ips_finish(struct ips_builder *b, struct net_ips *out)
{
	struct range_list pass[FAMILY_COUNT] = { { 0 } };
	bool ok = true;
	for (int f = 0; f < FAMILY_COUNT && ok; f++) {
		if (!b->any_include)
			ok = range_list_add(&b->include[f], full_range(f));
		range_list_normalize(&b->include[f]);
		range_list_normalize(&b->exclude[f]);
		ok = ok && range_list_subtract(&b->include[f], &b->exclude[f], &pass[f]);
	}
	if (!ok) {
		free(pass[FAMILY_V4].items);
		free(pass[FAMILY_V6].items);
		return false;
	}
	*out = (struct net_ips){
		.v4 = pass[FAMILY_V4].items, .nv4 = pass[FAMILY_V4].len,
		.v6 = pass[FAMILY_V6].items, .nv6 = pass[FAMILY_V6].len,
	};
	return true;
}

int net_ips_parse(struct net_ips *out, const char *text, char *err, size_t errlen)
{
	struct ips_builder b = { 0 };
	const char *cursor = text ? text : "";
	struct net_token tok;
	int rc;
	*out = (struct net_ips){ 0 };
	while ((rc = next_token(&cursor, &tok, err, errlen)) > 0)
		if (ips_add_token(&b, &tok, err, errlen) < 0) {
			rc = -1;
			break;
		}
	if (rc == 0 && !ips_finish(&b, out)) {
		set_error(err, errlen, "out of memory");
		rc = -1;
	}
	ips_builder_release(&b);
	return rc;
}

void net_ips_free(struct net_ips *ips)
{
	free(ips->v4);
	free(ips->v6);
	*ips = (struct net_ips){ 0 };
}

static bool ranges_contain(const struct net_ip_range *ranges, size_t n, struct net_u128 value)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (u128_cmp(ranges[mid].hi, value) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && u128_cmp(ranges[lo].lo, value) <= 0;
}

bool net_ips_pass(const struct net_ips *ips, int family, const void *addr)
{
	struct net_u128 value;
	if (family == AF_INET) {
		value = (struct net_u128){ 0, load_be32(addr) };
	} else if (family == AF_INET6) {
		const unsigned char *bytes = addr;
		value = (struct net_u128){ load_be64(bytes), load_be64(bytes + 8) };
		if (!is_v4_mapped(value))
			return ranges_contain(ips->v6, ips->nv6, value);
		value = unmap_v4(value);
	} else {
		return false;
	}
	return ranges_contain(ips->v4, ips->nv4, value);
}

/* ------------------------------------------------------------------ */
/* Host names                                                           */

/* What a host name is made of, plus the two wildcards; anything else is a typo (or a bracket fnmatch would read). */
static bool is_hostname_pattern_char(char c)
{
	return is_ascii_alnum(c) || c == '-' || c == '_' || c == '.' || c == '*' || c == '?';
}

#define HOSTNAME_PATTERN_CHARS "letters, digits, '-', '_', '.', '*' and '?'"

static int check_hostname_pattern(const char *body, char *err, size_t errlen)
{
	for (const char *c = body; *c; c++) {
		unsigned char byte = (unsigned char)*c;
		if (is_hostname_pattern_char(*c))
			continue;
		if (byte >= 0x20 && byte < 0x7f)
			set_error(err, errlen, "bad host name pattern \"%s\": '%c' is not allowed (only %s)", body, *c,
				  HOSTNAME_PATTERN_CHARS);
		else
			set_error(err, errlen, "bad host name pattern \"%s\": byte 0x%02x is not allowed (only %s)", body,
				  byte, HOSTNAME_PATTERN_CHARS);
		return -1;
	}
	return 0;
}

static bool glob_list_add(char ***items, size_t *len, const char *glob)
{
	char *copy = strdup(glob);
	char **grown = copy ? realloc(*items, (*len + 1) * sizeof(**items)) : NULL;
	if (!grown) {
		free(copy);
		return false;
	}
	grown[(*len)++] = copy;
	*items = grown;
	return true;
}

static bool glob_list_matches(char *const *globs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], name, FNM_CASEFOLD) == 0)
			return true;
	return false;
}

int net_hostnames_parse(struct net_hostnames *out, const char *text, char *err, size_t errlen)
{
	const char *cursor = text ? text : "";
	struct net_token tok;
	int rc;
	*out = (struct net_hostnames){ 0 };
	while ((rc = next_token(&cursor, &tok, err, errlen)) > 0) {
		if (check_hostname_pattern(tok.body, err, errlen) < 0) {
			rc = -1;
			break;
		}
		bool added = tok.exclude ? glob_list_add(&out->exclude, &out->nexclude, tok.body)
					 : glob_list_add(&out->include, &out->ninclude, tok.body);
		if (!added) {
			set_error(err, errlen, "out of memory");
			rc = -1;
			break;
		}
	}
	if (rc < 0)
		net_hostnames_free(out);
	return rc;
}

static void glob_list_free(char **items, size_t len)
{
	for (size_t i = 0; i < len; i++)
		free(items[i]);
	free(items);
}

void net_hostnames_free(struct net_hostnames *hostnames)
{
	glob_list_free(hostnames->include, hostnames->ninclude);
	glob_list_free(hostnames->exclude, hostnames->nexclude);
	*hostnames = (struct net_hostnames){ 0 };
}

bool net_hostnames_pass(const struct net_hostnames *hostnames, const char *name)
{
	if (!name)
		return true;
	if (hostnames->ninclude > 0 && !glob_list_matches(hostnames->include, hostnames->ninclude, name))
		return false;
	return !glob_list_matches(hostnames->exclude, hostnames->nexclude, name);
}

/* ------------------------------------------------------------------ */
/* The whole network config                                             */

/* Room for a message that quotes a whole token. */
#define NET_WHY_MAX (NET_TOKEN_MAX + 200)

void *net_filter_parse_ports(const char *value, char *why, size_t cap)
{
	/* Names resolve through the services file alone: service_names are tags, not filter names. */
	struct net_services *services = net_services_load(NET_SERVICES_PATH, NULL, 0);
	struct net_ports *ports = malloc(sizeof(*ports));
	if (!services || !ports)
		abort();
	int rc = net_ports_parse(ports, value, services, why, cap);
	net_services_free(services);
	if (rc == 0)
		return ports;
	free(ports);
	return NULL;
}

void *net_filter_parse_ips(const char *value, char *why, size_t cap)
{
	struct net_ips *ips = malloc(sizeof(*ips));
	if (!ips)
		abort();
	if (net_ips_parse(ips, value, why, cap) == 0)
		return ips;
	net_ips_free(ips);
	free(ips);
	return NULL;
}

void *net_filter_parse_hostnames(const char *value, char *why, size_t cap)
{
	struct net_hostnames *hostnames = malloc(sizeof(*hostnames));
	if (!hostnames)
		abort();
	if (net_hostnames_parse(hostnames, value, why, cap) == 0)
		return hostnames;
	net_hostnames_free(hostnames);
	free(hostnames);
	return NULL;
}

void net_filter_release_ports(void *ports) { free(ports); }

void net_filter_release_ips(void *ips)
{
	net_ips_free(ips);
	free(ips);
}

void net_filter_release_hostnames(void *hostnames)
{
	net_hostnames_free(hostnames);
	free(hostnames);
}

int net_filter_load(struct net_filter *out, const struct network_opts *cfg, const char *services_path,
		    char *err, size_t errlen)
{
	char why[NET_WHY_MAX];
	const char *key = NULL;
	memset(out, 0, sizeof(*out));
	out->services = net_services_load(services_path, cfg->service_names.items, cfg->service_names.len);
	if (!out->services) {
		set_error(err, errlen, "out of memory");
		return -1;
	}
	out->ports = cfg->ports_parsed;
	out->ips = cfg->ips_parsed;
	out->hostnames = cfg->hostnames_parsed;
	if (!out->ports) {
		if (!(out->own_ports = malloc(sizeof(*out->own_ports)))) {
			set_error(err, errlen, "out of memory");
			net_filter_free(out);
			return -1;
		}
		out->ports = out->own_ports;
		if (net_ports_parse(out->own_ports, cfg->ports, out->services, why, sizeof(why)) < 0)
			key = "ports";
	}
	if (!key && !out->ips) {
		out->ips = &out->own_ips;
		if (net_ips_parse(&out->own_ips, cfg->ips, why, sizeof(why)) < 0)
			key = "ips";
	}
	if (!key && !out->hostnames) {
		out->hostnames = &out->own_hostnames;
		if (net_hostnames_parse(&out->own_hostnames, cfg->hostnames, why, sizeof(why)) < 0)
			key = "hostnames";
	}
	if (key) {
		set_error(err, errlen, "%s: %s", key, why);
		net_filter_free(out);
		return -1;
	}
	return 0;
}

bool net_filter_pass_endpoint(const struct net_filter *filter, const struct net_endpoint_key *key, const char *name)
{
	if (!net_ports_pass(filter->ports, key->port))
		return false;
	if (!key->peer_known)
		return true; /* an unconnected socket's peers: only the port can be judged */
	int family = key->family == AF_INET ? AF_INET : AF_INET6;
	return net_ips_pass(filter->ips, family, key->addr) && net_hostnames_pass(filter->hostnames, name);
}

void net_filter_free(struct net_filter *filter)
{
	net_services_free(filter->services);
	free(filter->own_ports);
	net_ips_free(&filter->own_ips);
	net_hostnames_free(&filter->own_hostnames);
	memset(filter, 0, sizeof(*filter));
}
