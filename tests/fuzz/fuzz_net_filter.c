/*
 * The network viewer's filter parsers (net_ports_parse, net_ips_parse,
 * net_hostnames_parse) on the input: the whole input goes to each parser,
 * then its first three lines go to one parser each; accepted filters answer
 * a few pass() queries, some with addresses, ports and names from the input.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_filter.h"

#include "fuzz.h"

static struct net_services *services;

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
