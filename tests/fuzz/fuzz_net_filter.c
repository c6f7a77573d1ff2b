/*
 * The network viewer's filter parsers (net_ports_parse, net_ips_parse,
 * net_hostnames_parse) on the input: the whole input goes to each parser,
 * then its first three lines go to one parser each; accepted filters answer
 * a few pass() queries, some with addresses, ports and names from the input.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_filter.h"

#include "fuzz.h"

static struct net_services *services;


/*
 * The filter rules as the header states them, checked token by token: a value
 * passes the whole filter when (there is no include, or some include's token
 * alone lets it pass) and no exclude's token (parsed alone, without its "!")
 * lets it pass. Each token alone is a filter with one include.
 */
#define MAX_TOKENS 32

struct tokens {
	char text[MAX_TOKENS][260]; /* without the "!" */
	bool exclude[MAX_TOKENS];
	size_t n;
};

static bool split_tokens(const char *text, struct tokens *t)
{
	t->n = 0;
	const char *p = text;
	for (;;) {
		p += strspn(p, ", \t\n\r\f\v");
		size_t len = strcspn(p, ", \t\n\r\f\v");
		if (len == 0)
			return true;
		if (t->n == MAX_TOKENS || len >= sizeof(t->text[0]))
			return false;
		t->exclude[t->n] = p[0] == '!';
		size_t skip = t->exclude[t->n] ? 1 : 0;
		memcpy(t->text[t->n], p + skip, len - skip);
		t->text[t->n][len - skip] = '\0';
		t->n++;
		p += len;
	}
}

static void check_ports(const struct net_ports *whole, const char *text)
{
	static struct tokens t;
	static struct net_ports alone[MAX_TOKENS];
	char err[256];
	if (!split_tokens(text, &t))
		return;
	bool any_include = false;
	for (size_t i = 0; i < t.n; i++) {
		if (net_ports_parse(&alone[i], t.text[i], services, err, sizeof(err)) != 0)
			abort(); /* the whole filter parsed, so each of its tokens does */
		any_include |= !t.exclude[i];
	}
	for (uint32_t port = 0; port <= 65535; port++) {
		bool included = !any_include, excluded = false;
		for (size_t i = 0; i < t.n; i++) {
			if (!net_ports_pass(&alone[i], (uint16_t)port))
				continue;
			if (t.exclude[i])
				excluded = true;
			else
				included = true;
		}
		if (net_ports_pass(whole, (uint16_t)port) != (included && !excluded))
			abort();
	}
}

static void store_be(unsigned char *out, struct net_u128 v, int family)
{
	if (family == AF_INET) {
		for (int i = 0; i < 4; i++)
			out[i] = (unsigned char)(v.lo >> (24 - 8 * i));
		return;
	}
	for (int i = 0; i < 8; i++) {
		out[i] = (unsigned char)(v.hi >> (56 - 8 * i));
		out[8 + i] = (unsigned char)(v.lo >> (56 - 8 * i));
	}
}

static struct net_u128 add(struct net_u128 v, int d)
{
	if (d > 0)
		return (struct net_u128){ v.hi + (v.lo == UINT64_MAX), v.lo + 1 };
	if (d < 0)
		return (struct net_u128){ v.hi - (v.lo == 0), v.lo - 1 };
	return v;
}

static void check_ip(const struct net_ips *whole, struct net_ips *alone, const struct tokens *t, bool any_include,
		     int family, struct net_u128 v)
{
	unsigned char a[16];
	if (family == AF_INET && (v.hi != 0 || v.lo > UINT32_MAX))
		return;
	store_be(a, v, family);
	bool included = !any_include, excluded = false;
	for (size_t i = 0; i < t->n; i++) {
		if (!net_ips_pass(&alone[i], family, a))
			continue;
		if (t->exclude[i])
			excluded = true;
		else
			included = true;
	}
	if (net_ips_pass(whole, family, a) != (included && !excluded))
		abort();
}

static void check_ips(const struct net_ips *whole, const char *text)
{
	static struct tokens t;
	static struct net_ips alone[MAX_TOKENS];
	char err[256];
	if (!split_tokens(text, &t))
		return;
	bool any_include = false;
	for (size_t i = 0; i < t.n; i++) {
		if (net_ips_parse(&alone[i], t.text[i], err, sizeof(err)) != 0)
			abort();
		any_include |= !t.exclude[i];
	}
	/* Probe every range edge of every token, one either side, in both families. */
	for (size_t i = 0; i < t.n; i++) {
		const struct net_ip_range *ranges[2] = { alone[i].v4, alone[i].v6 };
		size_t counts[2] = { alone[i].nv4, alone[i].nv6 };
		for (int f = 0; f < 2; f++)
			for (size_t r = 0; r < counts[f] && r < 8; r++)
				for (int d = -1; d <= 1; d++) {
					struct net_u128 lo = add(ranges[f][r].lo, d), hi = add(ranges[f][r].hi, d);
					check_ip(whole, alone, &t, any_include, f ? AF_INET6 : AF_INET, lo);
					check_ip(whole, alone, &t, any_include, f ? AF_INET6 : AF_INET, hi);
					if (f == 0) { /* the same address, IPv4-mapped */
						struct net_u128 mapped = { 0, UINT64_C(0xffff) << 32 | (lo.lo & UINT32_MAX) };
						check_ip(whole, alone, &t, any_include, AF_INET6, mapped);
					}
				}
	}
	for (size_t i = 0; i < t.n; i++)
		net_ips_free(&alone[i]);
}

static void check_hostnames(const struct net_hostnames *whole, const char *text, const char *name)
{
	static struct tokens t;
	static struct net_hostnames alone[MAX_TOKENS];
	char err[256];
	if (!split_tokens(text, &t))
		return;
	bool any_include = false;
	for (size_t i = 0; i < t.n; i++) {
		if (net_hostnames_parse(&alone[i], t.text[i], err, sizeof(err)) != 0)
			abort();
		any_include |= !t.exclude[i];
	}
	bool included = !any_include, excluded = false;
	for (size_t i = 0; i < t.n; i++) {
		if (!net_hostnames_pass(&alone[i], name))
			continue;
		if (t.exclude[i])
			excluded = true;
		else
			included = true;
	}
	if (net_hostnames_pass(whole, name) != (included && !excluded))
		abort();
	for (size_t i = 0; i < t.n; i++)
		net_hostnames_free(&alone[i]);
}

static void query(const char *ports_text, const char *ips_text, const char *hosts_text, const uint8_t *data,
		  size_t size)
{
	char err[256];
	struct net_ports ports;
	if (net_ports_parse(&ports, ports_text, services, err, sizeof(err)) == 0) {
		static const uint16_t probe[] = { 0, 1, 53, 80, 145, 443, 1024, 1025, 19999, 65535 };
		for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++)
			(void)net_ports_pass(&ports, probe[i]);
		if (size >= 2)
			(void)net_ports_pass(&ports, (uint16_t)(data[0] << 8 | data[1]));
		check_ports(&ports, ports_text);
	} else if (err[0] == '\0') {
		abort(); /* a failure names what is wrong */
	}

	struct net_ips ips;
	if (net_ips_parse(&ips, ips_text, err, sizeof(err)) == 0) {
		static const char *const v4[] = { "0.0.0.0", "127.0.0.1", "10.1.2.3", "192.168.255.255", "255.255.255.255" };
		static const char *const v6[] = { "::", "::1", "fc00::1", "::ffff:10.0.0.1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" };
		unsigned char a[16];
		for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
			if (inet_pton(AF_INET, v4[i], a) == 1)
				(void)net_ips_pass(&ips, AF_INET, a);
		for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
			if (inet_pton(AF_INET6, v6[i], a) == 1)
				(void)net_ips_pass(&ips, AF_INET6, a);
		memset(a, 0, sizeof(a));
		memcpy(a, data, size < 16 ? size : 16);
		(void)net_ips_pass(&ips, AF_INET, a);
		(void)net_ips_pass(&ips, AF_INET6, a);
		(void)net_ips_pass(&ips, AF_UNIX, a);
		check_ips(&ips, ips_text);
		net_ips_free(&ips);
	} else if (err[0] == '\0') {
		abort();
	}
	net_ips_free(&ips); /* harmless after a failure, and after a free */

	struct net_hostnames hosts;
	if (net_hostnames_parse(&hosts, hosts_text, err, sizeof(err)) == 0) {
		(void)net_hostnames_pass(&hosts, NULL);
		(void)net_hostnames_pass(&hosts, "");
		(void)net_hostnames_pass(&hosts, "example.com");
		(void)net_hostnames_pass(&hosts, "WWW.Example.COM");
		(void)net_hostnames_pass(&hosts, hosts_text);
		(void)net_hostnames_pass(&hosts, ports_text);
		check_hostnames(&hosts, hosts_text, "www.example.com");
		check_hostnames(&hosts, hosts_text, hosts_text + strspn(hosts_text, "!"));
		net_hostnames_free(&hosts);
	} else if (err[0] == '\0') {
		abort();
	}
	net_hostnames_free(&hosts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (services == NULL) {
		static struct config_service_name names[] = { { 19999, "netdata" }, { 8125, "statsd" } };
		services = net_services_load(NET_SERVICES_PATH, names, 2);
		if (services == NULL)
			abort();
	}
	char *text = fuzz_whole_str(data, size);
	query(text, text, text, data, size);

	char *lines[3] = { NULL, NULL, NULL };
	char *rest = text;
	for (int i = 0; i < 3; i++) {
		lines[i] = rest;
		char *nl = rest ? strchr(rest, '\n') : NULL;
		if (nl != NULL) {
			*nl = '\0';
			rest = nl + 1;
		} else {
			rest = NULL;
		}
		if (lines[i] == NULL)
			lines[i] = "";
	}
	query(lines[0], lines[1], lines[2], data, size);

	char buf[NET_PORT_TEXT_MAX];
	if (size >= 2)
		(void)net_service_name(services, (uint16_t)(data[0] << 8 | data[1]), data[0] & 1 ? IPPROTO_TCP : IPPROTO_UDP,
				       buf, sizeof(buf));
	free(text);
	return 0;
}
