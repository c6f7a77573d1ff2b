/*
 * The network viewer's filters and service names (agent/modules/net_filter.h):
 * ports, addresses and host names with Netdata's include/exclude rules,
 * the services file and the config's service_names, and a message naming
 * the token for each kind of bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_filter.h"
#include "network.h"

/* A services(5) file with the shapes real ones have: comments, aliases, one protocol only, other protocols. */
static const char test_services_text[] =
	"# Network services, Internet style\n"
	"\n"
	"ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol\n"
	"domain\t\t53/tcp\n"
	"domain\t\t53/udp\n"
	"tftp\t\t69/udp\n"
	"http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
	"https\t\t443/tcp\n"
	"https\t\t443/udp\n"
	"exec\t\t512/tcp\n"
	"biff\t\t512/udp\t\tcomsat\n"
	"3com-tsmux\t106/tcp\n"
	"first\t\t7000/tcp\n"
	"second\t\t7000/tcp\n"
	"sctponly\t9999/sctp\n"
	"not a line\n"
	"toobig\t\t70000/tcp\n";

struct fixture {
	char dir[64];
	char services_path[128];
	struct net_services *services; /* loaded from services_path, no config names */
	char err[512];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/bpfpush-net-filter-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->services_path, sizeof(fx->services_path), "%s/services", fx->dir);
	FILE *f = fopen(fx->services_path, "w");
	assert_non_null(f);
	fputs(test_services_text, f);
	fclose(f);
	fx->services = net_services_load(fx->services_path, NULL, 0);
	assert_non_null(fx->services);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	net_services_free(fx->services);
	unlink(fx->services_path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle)) {
		print_error("expected to find:\n  %s\nin:\n  %s\n", needle, text);
		fail();
	}
}

/* ------------------------------------------------------------------ */
/* Ports                                                                */

static void parse_ports_ok(struct fixture *fx, struct net_ports *ports, const char *text)
{
	int rc = net_ports_parse(ports, text, fx->services, fx->err, sizeof(fx->err));
	if (rc != 0) {
		print_error("\"%s\" did not parse: %s\n", text, fx->err);
		fail();
	}
}

static void assert_ports_fail(struct fixture *fx, const char *text, const char *message)
{
	struct net_ports ports;
	fx->err[0] = '\0';
	assert_int_equal(net_ports_parse(&ports, text, fx->services, fx->err, sizeof(fx->err)), -1);
	assert_contains(fx->err, message);
	for (uint32_t port = 0; port <= 65535; port++)
		assert_false(net_ports_pass(&ports, (uint16_t)port)); /* nothing half-parsed is left */
}

static void test_ports_default(void **state)
{
	struct fixture *fx = *state;
	struct net_ports ports;
	parse_ports_ok(fx, &ports, "1-1024 !145 !domain");
	assert_false(net_ports_pass(&ports, 0));
	assert_true(net_ports_pass(&ports, 1));
	assert_true(net_ports_pass(&ports, 52));
	assert_false(net_ports_pass(&ports, 53));
	assert_true(net_ports_pass(&ports, 54));
	assert_true(net_ports_pass(&ports, 144));
	assert_false(net_ports_pass(&ports, 145));
	assert_true(net_ports_pass(&ports, 146));
	assert_true(net_ports_pass(&ports, 1024));
	assert_false(net_ports_pass(&ports, 1025));
	assert_false(net_ports_pass(&ports, 65535));
	size_t passing = 0;
	for (uint32_t port = 0; port <= 65535; port++)
		passing += net_ports_pass(&ports, (uint16_t)port);
	assert_int_equal(passing, 1024 - 2);
}

static void test_ports_only_exclusions(void **state)
{
	struct fixture *fx = *state;
	struct net_ports ports;
	parse_ports_ok(fx, &ports, "!22 !80");
	assert_false(net_ports_pass(&ports, 22));
	assert_false(net_ports_pass(&ports, 80));
	assert_true(net_ports_pass(&ports, 0));
	assert_true(net_ports_pass(&ports, 23));
	assert_true(net_ports_pass(&ports, 65535));
}

static void test_ports_star_and_empty(void **state)
{
	struct fixture *fx = *state;
	struct net_ports ports;
	const char *everything[] = { "*", "", "   ", " , ", NULL };
	for (size_t i = 0; i < sizeof(everything) / sizeof(everything[0]); i++) {
		parse_ports_ok(fx, &ports, everything[i]);
		assert_true(net_ports_pass(&ports, 0));
		assert_true(net_ports_pass(&ports, 443));
		assert_true(net_ports_pass(&ports, 65535));
	}
	parse_ports_ok(fx, &ports, "* !443");
	assert_false(net_ports_pass(&ports, 443));
	assert_true(net_ports_pass(&ports, 0));
	assert_true(net_ports_pass(&ports, 442));
	assert_true(net_ports_pass(&ports, 444));
	assert_true(net_ports_pass(&ports, 65535));
	parse_ports_ok(fx, &ports, "!*");
	assert_false(net_ports_pass(&ports, 80));
}

static void test_ports_forms(void **state)
{
	struct fixture *fx = *state;
	struct net_ports ports;
	/* exclusion wins whatever the order; commas and tabs separate too */
	parse_ports_ok(fx, &ports, "!81,80-82\t0,65535");
	assert_true(net_ports_pass(&ports, 0));
	assert_true(net_ports_pass(&ports, 80));
	assert_false(net_ports_pass(&ports, 81));
	assert_true(net_ports_pass(&ports, 82));
	assert_false(net_ports_pass(&ports, 83));
	assert_true(net_ports_pass(&ports, 65535));
	/* an alias, any case, a name with only UDP, a name starting with a digit */
	parse_ports_ok(fx, &ports, "WWW tftp 3com-tsmux 7-7");
	assert_true(net_ports_pass(&ports, 80));
	assert_true(net_ports_pass(&ports, 69));
	assert_true(net_ports_pass(&ports, 106));
	assert_true(net_ports_pass(&ports, 7));
	assert_false(net_ports_pass(&ports, 443));
	/* a name with different ports for TCP and UDP (alias of one) */
	parse_ports_ok(fx, &ports, "comsat");
	assert_true(net_ports_pass(&ports, 512));
	parse_ports_ok(fx, &ports, "0-65535 !0-1023");
	assert_false(net_ports_pass(&ports, 1023));
	assert_true(net_ports_pass(&ports, 1024));
}

static void test_ports_without_services_file(void **state)
{
	struct fixture *fx = *state;
	struct net_ports ports;
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/no-such-file", fx->dir);
	struct net_services *none = net_services_load(missing, NULL, 0);
	assert_non_null(none);
	assert_false(net_services_have_file(none));
	/* the shipped default still parses where there is no services file */
	assert_int_equal(net_ports_parse(&ports, "1-1024 !145 !domain", none, fx->err, sizeof(fx->err)), 0);
	assert_false(net_ports_pass(&ports, 53));
	assert_true(net_ports_pass(&ports, 80));
	assert_int_equal(net_ports_parse(&ports, "https", NULL, fx->err, sizeof(fx->err)), 0);
	assert_true(net_ports_pass(&ports, 443));
	assert_int_equal(net_ports_parse(&ports, "sieve", none, fx->err, sizeof(fx->err)), -1);
	assert_contains(fx->err, "unknown service name \"sieve\"");
	assert_contains(fx->err, "no-such-file cannot be read");
	assert_int_equal(net_ports_parse(&ports, "sieve", NULL, fx->err, sizeof(fx->err)), -1);
	assert_contains(fx->err, "unknown service name \"sieve\" (no services file");
	net_services_free(none);
}

static void test_ports_errors(void **state)
{
	struct fixture *fx = *state;
	char unknown[256];
	snprintf(unknown, sizeof(unknown), "unknown service name \"domian\" (not in %s)", fx->services_path);
	assert_ports_fail(fx, "1-1024 !domian", unknown);
	assert_ports_fail(fx, "1024-1", "bad port range \"1024-1\": the start is above the end");
	assert_ports_fail(fx, "70000", "bad port \"70000\": ports go from 0 to 65535");
	assert_ports_fail(fx, "99999999999999999999", "bad port \"99999999999999999999\": ports go from 0 to 65535");
	assert_ports_fail(fx, "1-70000", "bad port range \"1-70000\": ports go from 0 to 65535");
	assert_ports_fail(fx, "1-", "bad port range \"1-\": expected START-END");
	assert_ports_fail(fx, "-5", "bad port range \"-5\": expected START-END");
	assert_ports_fail(fx, "1-2-3", "bad port range \"1-2-3\": expected START-END");
	assert_ports_fail(fx, "80x", "bad port \"80x\": expected a number, a range START-END, a service name or *");
	assert_ports_fail(fx, "22 !", "\"!\" with nothing after it");
	assert_ports_fail(fx, "! 22", "\"!\" with nothing after it");
	assert_ports_fail(fx, "!!22", "\"!!22\": more than one \"!\"");
	assert_ports_fail(fx, "sctponly", "unknown service name \"sctponly\"");
	assert_ports_fail(fx, "toobig", "unknown service name \"toobig\"");
	char long_token[400];
	memset(long_token, 'a', sizeof(long_token) - 1);
	long_token[sizeof(long_token) - 1] = '\0';
	assert_ports_fail(fx, long_token, "longer than 255 characters");
}

/* ------------------------------------------------------------------ */
/* IP addresses                                                         */

#define DEFAULT_IPS "!127.0.0.1/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"

/* Whether text (an address of either family) passes. */
static bool ip_passes(const struct net_ips *ips, const char *text)
{
	unsigned char bytes[16];
	if (inet_pton(AF_INET, text, bytes) == 1)
		return net_ips_pass(ips, AF_INET, bytes);
	assert_int_equal(inet_pton(AF_INET6, text, bytes), 1);
	return net_ips_pass(ips, AF_INET6, bytes);
}

static void parse_ips_ok(struct fixture *fx, struct net_ips *ips, const char *text)
{
	if (net_ips_parse(ips, text, fx->err, sizeof(fx->err)) != 0) {
		print_error("\"%s\" did not parse: %s\n", text, fx->err);
		fail();
	}
}

static void assert_ips_fail(struct fixture *fx, const char *text, const char *message)
{
	struct net_ips ips;
	fx->err[0] = '\0';
	assert_int_equal(net_ips_parse(&ips, text, fx->err, sizeof(fx->err)), -1);
	assert_contains(fx->err, message);
	assert_null(ips.v4);
	assert_null(ips.v6);
	net_ips_free(&ips); /* harmless after a failure */
}

static void test_ips_default(void **state)
{
	struct fixture *fx = *state;
	struct net_ips ips;
	parse_ips_ok(fx, &ips, DEFAULT_IPS);
	assert_true(ip_passes(&ips, "10.1.2.3"));
	assert_true(ip_passes(&ips, "10.255.255.255"));
	assert_false(ip_passes(&ips, "11.0.0.0"));
	assert_true(ip_passes(&ips, "172.16.0.1"));
	assert_true(ip_passes(&ips, "172.31.255.255"));
	assert_false(ip_passes(&ips, "172.32.0.0"));
	assert_true(ip_passes(&ips, "192.168.1.1"));
	assert_false(ip_passes(&ips, "127.0.0.1"));
	assert_false(ip_passes(&ips, "127.255.0.1"));
	assert_false(ip_passes(&ips, "8.8.8.8"));
	assert_true(ip_passes(&ips, "fd00::1"));
	assert_true(ip_passes(&ips, "fc00::"));
	assert_true(ip_passes(&ips, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(ip_passes(&ips, "fe00::"));
	assert_false(ip_passes(&ips, "::1"));
	assert_false(ip_passes(&ips, "2001:db8::1"));
	assert_true(ip_passes(&ips, "::ffff:10.0.0.1"));
	assert_false(ip_passes(&ips, "::ffff:127.0.0.1"));
	assert_false(ip_passes(&ips, "::ffff:8.8.8.8"));
	net_ips_free(&ips);
}

static void test_ips_ranges_and_exclusions(void **state)
{
	struct fixture *fx = *state;
	struct net_ips ips;
	parse_ips_ok(fx, &ips, "10.0.0.1-10.0.0.5");
	assert_false(ip_passes(&ips, "10.0.0.0"));
	assert_true(ip_passes(&ips, "10.0.0.1"));
	assert_true(ip_passes(&ips, "10.0.0.3"));
	assert_true(ip_passes(&ips, "10.0.0.5"));
	assert_false(ip_passes(&ips, "10.0.0.6"));
	assert_false(ip_passes(&ips, "::1"));
	net_ips_free(&ips);

	parse_ips_ok(fx, &ips, "!10.0.0.3");
	assert_false(ip_passes(&ips, "10.0.0.3"));
	assert_true(ip_passes(&ips, "10.0.0.2"));
	assert_true(ip_passes(&ips, "10.0.0.4"));
	assert_true(ip_passes(&ips, "0.0.0.0"));
	assert_true(ip_passes(&ips, "255.255.255.255"));
	assert_true(ip_passes(&ips, "::1"));
	net_ips_free(&ips);

	/* the exclusion may come first; overlapping includes merge */
	parse_ips_ok(fx, &ips, "!10.0.0.3, 10.0.0.1-10.0.0.5 10.0.0.4-10.0.0.9 fe80::1-fe80::ff");
	assert_true(ip_passes(&ips, "10.0.0.2"));
	assert_false(ip_passes(&ips, "10.0.0.3"));
	assert_true(ip_passes(&ips, "10.0.0.4"));
	assert_true(ip_passes(&ips, "10.0.0.9"));
	assert_false(ip_passes(&ips, "10.0.0.10"));
	assert_false(ip_passes(&ips, "fe80::"));
	assert_true(ip_passes(&ips, "fe80::1"));
	assert_true(ip_passes(&ips, "fe80::ff"));
	assert_false(ip_passes(&ips, "fe80::100"));
	net_ips_free(&ips);

	parse_ips_ok(fx, &ips, "* !10.0.0.0/8 !::1");
	assert_true(ip_passes(&ips, "9.255.255.255"));
	assert_false(ip_passes(&ips, "10.0.0.0"));
	assert_true(ip_passes(&ips, "11.0.0.0"));
	assert_false(ip_passes(&ips, "::1"));
	assert_true(ip_passes(&ips, "::2"));
	assert_true(ip_passes(&ips, "::"));
	net_ips_free(&ips);

	/* touching and overlapping ranges become one, so a match is one binary search over few ranges */
	parse_ips_ok(fx, &ips, "10.0.0.6-10.0.0.9 10.0.0.1-10.0.0.5 10.0.0.3 10.0.0.0/30");
	assert_int_equal(ips.nv4, 1);
	assert_true(ip_passes(&ips, "10.0.0.0"));
	assert_true(ip_passes(&ips, "10.0.0.9"));
	assert_false(ip_passes(&ips, "10.0.0.10"));
	net_ips_free(&ips);

	/* an exclusion that covers a whole include leaves nothing of it */
	parse_ips_ok(fx, &ips, "10.0.0.5 !10.0.0.0/24");
	assert_false(ip_passes(&ips, "10.0.0.5"));
	assert_int_equal(ips.nv4, 0);
	net_ips_free(&ips);
}

static void test_ips_everything(void **state)
{
	struct fixture *fx = *state;
	struct net_ips ips;
	const char *everything[] = { "", "*", " ", NULL };
	for (size_t i = 0; i < sizeof(everything) / sizeof(everything[0]); i++) {
		parse_ips_ok(fx, &ips, everything[i]);
		assert_true(ip_passes(&ips, "0.0.0.0"));
		assert_true(ip_passes(&ips, "255.255.255.255"));
		assert_true(ip_passes(&ips, "::"));
		assert_true(ip_passes(&ips, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
		net_ips_free(&ips);
	}
	parse_ips_ok(fx, &ips, "!*");
	assert_false(ip_passes(&ips, "10.0.0.1"));
	assert_false(ip_passes(&ips, "::1"));
	net_ips_free(&ips);
	unsigned char any[16] = { 0 };
	parse_ips_ok(fx, &ips, "*");
	assert_false(net_ips_pass(&ips, AF_UNIX, any));
	net_ips_free(&ips);
}

static void test_ips_cidr_edges(void **state)
{
	struct fixture *fx = *state;
	struct net_ips ips;
	parse_ips_ok(fx, &ips, "::/0");
	assert_true(ip_passes(&ips, "::"));
	assert_true(ip_passes(&ips, "::1"));
	assert_true(ip_passes(&ips, "2001:db8::1"));
	assert_true(ip_passes(&ips, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(ip_passes(&ips, "8.8.8.8"));
	assert_false(ip_passes(&ips, "::ffff:8.8.8.8")); /* IPv4, and there is no IPv4 include */
	net_ips_free(&ips);

	parse_ips_ok(fx, &ips, "!::/0");
	assert_false(ip_passes(&ips, "2001:db8::1"));
	assert_true(ip_passes(&ips, "8.8.8.8"));
	net_ips_free(&ips);

	parse_ips_ok(fx, &ips, "2001:db8::1/128");
	assert_true(ip_passes(&ips, "2001:db8::1"));
	assert_false(ip_passes(&ips, "2001:db8::"));
	assert_false(ip_passes(&ips, "2001:db8::2"));
	net_ips_free(&ips);

	parse_ips_ok(fx, &ips, "2001:db8:1:2::/64");
	assert_false(ip_passes(&ips, "2001:db8:1:1:ffff:ffff:ffff:ffff"));
	assert_true(ip_passes(&ips, "2001:db8:1:2::"));
	assert_true(ip_passes(&ips, "2001:db8:1:2:ffff:ffff:ffff:ffff"));
	assert_false(ip_passes(&ips, "2001:db8:1:3::"));
	net_ips_free(&ips);

	parse_ips_ok(fx, &ips, "2001:db8::/63 2001:db8:0:3::/65");
	assert_true(ip_passes(&ips, "2001:db8:0:1:ffff::"));
	assert_false(ip_passes(&ips, "2001:db8:0:2::"));
	assert_true(ip_passes(&ips, "2001:db8:0:3:7fff:ffff:ffff:ffff"));
	assert_false(ip_passes(&ips, "2001:db8:0:3:8000::"));
	net_ips_free(&ips);

	parse_ips_ok(fx, &ips, "0.0.0.0/0 !192.0.2.7/32");
	assert_true(ip_passes(&ips, "0.0.0.0"));
	assert_true(ip_passes(&ips, "192.0.2.6"));
	assert_false(ip_passes(&ips, "192.0.2.7"));
	assert_true(ip_passes(&ips, "192.0.2.8"));
	assert_true(ip_passes(&ips, "255.255.255.255"));
	assert_false(ip_passes(&ips, "::1"));
	net_ips_free(&ips);
}

static void test_ips_v4_mapped_in_filter(void **state)
{
	struct fixture *fx = *state;
	struct net_ips ips;
	parse_ips_ok(fx, &ips, "::ffff:10.0.0.0/104 !::ffff:10.0.0.7");
	assert_true(ip_passes(&ips, "10.1.2.3"));
	assert_true(ip_passes(&ips, "::ffff:10.1.2.3"));
	assert_false(ip_passes(&ips, "10.0.0.7"));
	assert_false(ip_passes(&ips, "11.0.0.0"));
	assert_int_equal(ips.nv6, 0);
	net_ips_free(&ips);
}

static void test_ips_errors(void **state)
{
	struct fixture *fx = *state;
	assert_ips_fail(fx, "10.0.0.300", "bad address \"10.0.0.300\": not an IPv4 or IPv6 address");
	assert_ips_fail(fx, "10.0.0.0/8 example.com", "bad address \"example.com\"");
	assert_ips_fail(fx, "10.0.0.0/33", "bad prefix length in \"10.0.0.0/33\": an IPv4 prefix goes from 0 to 32");
	assert_ips_fail(fx, "fc00::/129", "bad prefix length in \"fc00::/129\": an IPv6 prefix goes from 0 to 128");
	assert_ips_fail(fx, "10.0.0.0/", "bad prefix length in \"10.0.0.0/\"");
	assert_ips_fail(fx, "10.0.0.0/-1", "bad prefix length in \"10.0.0.0/-1\"");
	assert_ips_fail(fx, "10.0.0.256/8", "bad address in \"10.0.0.256/8\": \"10.0.0.256\" is not an IPv4 or IPv6 address");
	assert_ips_fail(fx, "10.0.0.5-10.0.0.1", "bad address range \"10.0.0.5-10.0.0.1\": the start is above the end");
	assert_ips_fail(fx, "10.0.0.1-::1", "bad address range \"10.0.0.1-::1\": one end is IPv4 and the other IPv6");
	assert_ips_fail(fx, "10.0.0.1-", "bad address range \"10.0.0.1-\": \"\" is not an IPv4 or IPv6 address");
	assert_ips_fail(fx, "10.0.0.1-x", "bad address range \"10.0.0.1-x\": \"x\" is not an IPv4 or IPv6 address");
	assert_ips_fail(fx, "10.0.0.1 !", "\"!\" with nothing after it");
	assert_ips_fail(fx, "!!10.0.0.1", "\"!!10.0.0.1\": more than one \"!\"");
}

/* ------------------------------------------------------------------ */
/* Host names                                                           */

static void parse_hostnames_ok(struct fixture *fx, struct net_hostnames *names, const char *text)
{
	if (net_hostnames_parse(names, text, fx->err, sizeof(fx->err)) != 0) {
		print_error("\"%s\" did not parse: %s\n", text, fx->err);
		fail();
	}
}

static void assert_hostnames_fail(struct fixture *fx, const char *text, const char *message)
{
	struct net_hostnames names;
	fx->err[0] = '\0';
	assert_int_equal(net_hostnames_parse(&names, text, fx->err, sizeof(fx->err)), -1);
	assert_contains(fx->err, message);
	assert_int_equal(names.ninclude + names.nexclude, 0);
	net_hostnames_free(&names);
}

static void test_hostnames_include_exclude(void **state)
{
	struct fixture *fx = *state;
	struct net_hostnames names;
	parse_hostnames_ok(fx, &names, "*.example.com !bad.example.com");
	assert_true(net_hostnames_pass(&names, "www.example.com"));
	assert_true(net_hostnames_pass(&names, "a.b.example.com")); /* "*" crosses dots */
	assert_false(net_hostnames_pass(&names, "bad.example.com"));
	assert_false(net_hostnames_pass(&names, "example.com"));
	assert_false(net_hostnames_pass(&names, "example.org"));
	assert_true(net_hostnames_pass(&names, NULL)); /* not resolved yet */
	net_hostnames_free(&names);

	parse_hostnames_ok(fx, &names, "!example.com");
	assert_false(net_hostnames_pass(&names, "example.com"));
	assert_false(net_hostnames_pass(&names, "EXAMPLE.com"));
	assert_true(net_hostnames_pass(&names, "www.example.com"));
	assert_true(net_hostnames_pass(&names, "localhost"));
	net_hostnames_free(&names);
}

static void test_hostnames_case_and_wildcards(void **state)
{
	struct fixture *fx = *state;
	struct net_hostnames names;
	parse_hostnames_ok(fx, &names, "*.Example.COM, host?.lan");
	assert_true(net_hostnames_pass(&names, "WWW.example.com"));
	assert_true(net_hostnames_pass(&names, "www.EXAMPLE.COM"));
	assert_true(net_hostnames_pass(&names, "host1.lan"));
	assert_true(net_hostnames_pass(&names, "HOSTa.LAN"));
	assert_false(net_hostnames_pass(&names, "host10.lan"));
	assert_false(net_hostnames_pass(&names, "host.lan"));
	net_hostnames_free(&names);

	const char *everything[] = { "", "*", NULL };
	for (size_t i = 0; i < sizeof(everything) / sizeof(everything[0]); i++) {
		parse_hostnames_ok(fx, &names, everything[i]);
		assert_true(net_hostnames_pass(&names, "anything.at.all"));
		assert_true(net_hostnames_pass(&names, NULL));
		net_hostnames_free(&names);
	}
	parse_hostnames_ok(fx, &names, "* !*.internal");
	assert_false(net_hostnames_pass(&names, "db.internal"));
	assert_true(net_hostnames_pass(&names, "db.example.net"));
	net_hostnames_free(&names);
}

static void test_hostnames_errors(void **state)
{
	struct fixture *fx = *state;
	assert_hostnames_fail(fx, "ok.example.com 10.0.0.0/8",
			      "bad host name pattern \"10.0.0.0/8\": '/' is not allowed");
	assert_hostnames_fail(fx, "web[12].lan", "bad host name pattern \"web[12].lan\": '[' is not allowed");
	assert_hostnames_fail(fx, "caf\xc3\xa9.example", "bad host name pattern \"caf\xc3\xa9.example\": byte 0xc3");
	assert_hostnames_fail(fx, "a.example !", "\"!\" with nothing after it");
	assert_hostnames_fail(fx, "!!a.example", "\"!!a.example\": more than one \"!\"");
}

/* ------------------------------------------------------------------ */
/* Service names                                                        */

static void test_service_names_from_file(void **state)
{
	struct fixture *fx = *state;
	char buf[NET_PORT_TEXT_MAX];
	assert_true(net_services_have_file(fx->services));
	assert_string_equal(net_service_name(fx->services, 22, IPPROTO_TCP, buf, sizeof(buf)), "ssh");
	assert_string_equal(net_service_name(fx->services, 53, IPPROTO_TCP, buf, sizeof(buf)), "domain");
	assert_string_equal(net_service_name(fx->services, 53, IPPROTO_UDP, buf, sizeof(buf)), "domain");
	assert_string_equal(net_service_name(fx->services, 80, IPPROTO_TCP, buf, sizeof(buf)), "http");
	/* per protocol */
	assert_string_equal(net_service_name(fx->services, 69, IPPROTO_UDP, buf, sizeof(buf)), "tftp");
	assert_string_equal(net_service_name(fx->services, 69, IPPROTO_TCP, buf, sizeof(buf)), "69");
	assert_string_equal(net_service_name(fx->services, 512, IPPROTO_TCP, buf, sizeof(buf)), "exec");
	assert_string_equal(net_service_name(fx->services, 512, IPPROTO_UDP, buf, sizeof(buf)), "biff");
	/* the first name in the file wins, as with getservbyport */
	assert_string_equal(net_service_name(fx->services, 7000, IPPROTO_TCP, buf, sizeof(buf)), "first");
	/* protocols other than TCP and UDP are not read */
	assert_string_equal(net_service_name(fx->services, 9999, IPPROTO_TCP, buf, sizeof(buf)), "9999");
	assert_string_equal(net_service_name(fx->services, 443, IPPROTO_SCTP, buf, sizeof(buf)), "443");
}

static void test_service_names_config_wins(void **state)
{
	struct fixture *fx = *state;
	char buf[NET_PORT_TEXT_MAX];
	char web[] = "web", netdata[] = "netdata";
	struct config_service_name names[] = { { 443, web }, { 19999, netdata } };
	struct net_services *svc = net_services_load(fx->services_path, names, 2);
	assert_non_null(svc);
	assert_string_equal(net_service_name(svc, 443, IPPROTO_TCP, buf, sizeof(buf)), "web");
	assert_string_equal(net_service_name(svc, 443, IPPROTO_UDP, buf, sizeof(buf)), "web");
	assert_string_equal(net_service_name(svc, 19999, IPPROTO_TCP, buf, sizeof(buf)), "netdata");
	assert_string_equal(net_service_name(svc, 53, IPPROTO_UDP, buf, sizeof(buf)), "domain");
	assert_string_equal(net_service_name(svc, 12345, IPPROTO_TCP, buf, sizeof(buf)), "12345");
	/* a config name is a tag, not a name the ports filter knows */
	struct net_ports ports;
	assert_int_equal(net_ports_parse(&ports, "netdata", svc, fx->err, sizeof(fx->err)), -1);
	net_services_free(svc);
}

static void test_service_names_fall_back_to_numbers(void **state)
{
	struct fixture *fx = *state;
	char buf[NET_PORT_TEXT_MAX];
	char missing[160];
	char netdata[] = "netdata";
	struct config_service_name names[] = { { 19999, netdata } };
	snprintf(missing, sizeof(missing), "%s/no-such-file", fx->dir);
	struct net_services *svc = net_services_load(missing, names, 1);
	assert_non_null(svc);
	assert_false(net_services_have_file(svc));
	assert_string_equal(net_service_name(svc, 53, IPPROTO_UDP, buf, sizeof(buf)), "53");
	assert_string_equal(net_service_name(svc, 0, IPPROTO_TCP, buf, sizeof(buf)), "0");
	assert_string_equal(net_service_name(svc, 65535, IPPROTO_TCP, buf, sizeof(buf)), "65535");
	assert_string_equal(net_service_name(svc, 19999, IPPROTO_TCP, buf, sizeof(buf)), "netdata");
	net_services_free(svc);
	assert_string_equal(net_service_name(NULL, 443, IPPROTO_TCP, buf, sizeof(buf)), "443");
	svc = net_services_load(NULL, NULL, 0);
	assert_non_null(svc);
	assert_string_equal(net_service_name(svc, 22, IPPROTO_TCP, buf, sizeof(buf)), "22");
	net_services_free(svc);
}

/* ------------------------------------------------------------------ */
/* The whole network config                                             */

static void test_filter_load(void **state)
{
	struct fixture *fx = *state;
	char ports[] = "1-1024 !145 !domain", ips[] = DEFAULT_IPS, hostnames[] = "!example.com", netdata[] = "netdata";
	struct config_service_name names[] = { { 19999, netdata } };
	struct network_opts cfg = {
		.ports = ports, .ips = ips, .hostnames = hostnames, .service_names = { names, 1 },
	};
	struct net_filter filter;
	char buf[NET_PORT_TEXT_MAX];
	assert_int_equal(net_filter_load(&filter, &cfg, fx->services_path, fx->err, sizeof(fx->err)), 0);
	assert_false(net_ports_pass(filter.ports, 53));
	assert_true(net_ports_pass(filter.ports, 80));
	assert_true(ip_passes(filter.ips, "10.0.0.1"));
	assert_false(net_hostnames_pass(filter.hostnames, "example.com"));
	assert_string_equal(net_service_name(filter.services, 19999, IPPROTO_TCP, buf, sizeof(buf)), "netdata");
	assert_string_equal(net_service_name(filter.services, 80, IPPROTO_TCP, buf, sizeof(buf)), "http");
	net_filter_free(&filter);

	struct network_opts unset = { 0 };
	assert_int_equal(net_filter_load(&filter, &unset, NULL, fx->err, sizeof(fx->err)), 0);
	assert_true(net_ports_pass(filter.ports, 1));
	assert_true(ip_passes(filter.ips, "8.8.8.8"));
	assert_true(net_hostnames_pass(filter.hostnames, "example.com"));
	net_filter_free(&filter);
}

/* The config loader parses each expression once (the keys' parse callbacks); the filter takes those forms. */
static void test_filter_load_takes_parsed_forms(void **state)
{
	struct fixture *fx = *state;
	char why[256];
	char ports[] = "80", ips[] = "10.0.0.0/8", hostnames[] = "!example.com";
	struct network_opts cfg = {
		.ports = ports, .ips = ips, .hostnames = hostnames,
		.ports_parsed = net_filter_parse_ports(ports, why, sizeof(why)),
		.ips_parsed = net_filter_parse_ips(ips, why, sizeof(why)),
		.hostnames_parsed = net_filter_parse_hostnames(hostnames, why, sizeof(why)),
	};
	assert_non_null(cfg.ports_parsed);
	assert_non_null(cfg.ips_parsed);
	assert_non_null(cfg.hostnames_parsed);
	struct net_filter filter;
	assert_int_equal(net_filter_load(&filter, &cfg, fx->services_path, fx->err, sizeof(fx->err)), 0);
	assert_ptr_equal(filter.ports, cfg.ports_parsed);
	assert_ptr_equal(filter.ips, cfg.ips_parsed);
	assert_ptr_equal(filter.hostnames, cfg.hostnames_parsed);
	assert_true(net_ports_pass(filter.ports, 80));
	assert_false(net_ports_pass(filter.ports, 81));
	net_filter_free(&filter);
	net_filter_release_ports(cfg.ports_parsed);
	net_filter_release_ips(cfg.ips_parsed);
	net_filter_release_hostnames(cfg.hostnames_parsed);

	assert_null(net_filter_parse_ports("1-1024 !domian", why, sizeof(why)));
	assert_non_null(strstr(why, "unknown service name \"domian\""));
	assert_null(net_filter_parse_ips("10.0.0.0/33", why, sizeof(why)));
	assert_null(net_filter_parse_hostnames("a/b", why, sizeof(why)));
}

static void test_filter_load_errors_name_the_key(void **state)
{
	struct fixture *fx = *state;
	char bad_ports[] = "1-1024 !domian", bad_ips[] = "10.0.0.0/33", bad_names[] = "a/b";
	struct net_filter filter;
	struct network_opts cfg = { .ports = bad_ports };
	assert_int_equal(net_filter_load(&filter, &cfg, fx->services_path, fx->err, sizeof(fx->err)), -1);
	assert_contains(fx->err, "ports: unknown service name \"domian\"");
	assert_null(filter.services);
	net_filter_free(&filter); /* harmless after a failure */

	cfg = (struct network_opts){ .ips = bad_ips };
	assert_int_equal(net_filter_load(&filter, &cfg, fx->services_path, fx->err, sizeof(fx->err)), -1);
	assert_contains(fx->err, "ips: bad prefix length in \"10.0.0.0/33\"");

	cfg = (struct network_opts){ .hostnames = bad_names };
	assert_int_equal(net_filter_load(&filter, &cfg, fx->services_path, fx->err, sizeof(fx->err)), -1);
	assert_contains(fx->err, "hostnames: bad host name pattern \"a/b\"");
}

static struct net_endpoint_key endpoint_v4(const char *addr, uint16_t port)
{
	struct net_endpoint_key key = { .family = AF_INET, .proto = IPPROTO_TCP, .peer_known = 1, .port = port };
	assert_int_equal(inet_pton(AF_INET, addr, key.addr), 1);
	return key;
}

/*
 * config/bpfpush.yaml: hostnames apply once a name is resolved, and an
 * endpoint without a name yet passes, includes or not. The address text
 * the dst tag shows meanwhile is no name to match.
 */
static void test_endpoint_without_name_passes_hostname_includes(void **state)
{
	struct fixture *fx = *state;
	char ips[] = "10.0.0.0/8", hostnames[] = "*.example.com !bad.example.com";
	struct network_opts cfg = { .ips = ips, .hostnames = hostnames };
	struct net_filter filter;
	assert_int_equal(net_filter_load(&filter, &cfg, fx->services_path, fx->err, sizeof(fx->err)), 0);
	struct net_endpoint_key key = endpoint_v4("10.1.2.3", 443);
	assert_true(net_filter_pass_endpoint(&filter, &key, NULL)); /* not resolved yet */
	assert_true(net_filter_pass_endpoint(&filter, &key, "www.example.com"));
	assert_false(net_filter_pass_endpoint(&filter, &key, "bad.example.com"));
	assert_false(net_filter_pass_endpoint(&filter, &key, "db.example.org"));
	struct net_endpoint_key outside = endpoint_v4("192.0.2.1", 443);
	assert_false(net_filter_pass_endpoint(&filter, &outside, NULL)); /* the ips filter still applies */
	assert_false(net_filter_pass_endpoint(&filter, &outside, "www.example.com"));
	struct net_endpoint_key any = { .family = AF_INET, .proto = IPPROTO_UDP, .port = 53 };
	assert_true(net_filter_pass_endpoint(&filter, &any, NULL)); /* peer unseen: the port alone */
	net_filter_free(&filter);

	char ports[] = "80";
	cfg = (struct network_opts){ .ports = ports, .hostnames = hostnames };
	assert_int_equal(net_filter_load(&filter, &cfg, fx->services_path, fx->err, sizeof(fx->err)), 0);
	struct net_endpoint_key other_port = endpoint_v4("10.1.2.3", 81);
	assert_false(net_filter_pass_endpoint(&filter, &other_port, NULL));
	net_filter_free(&filter);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ports_default),
		T(test_ports_only_exclusions),
		T(test_ports_star_and_empty),
		T(test_ports_forms),
		T(test_ports_without_services_file),
		T(test_ports_errors),
		T(test_ips_default),
		T(test_ips_ranges_and_exclusions),
		T(test_ips_everything),
		T(test_ips_cidr_edges),
		T(test_ips_v4_mapped_in_filter),
		T(test_ips_errors),
		T(test_hostnames_include_exclude),
		T(test_hostnames_case_and_wildcards),
		T(test_hostnames_errors),
		T(test_service_names_from_file),
		T(test_service_names_config_wins),
		T(test_service_names_fall_back_to_numbers),
		T(test_filter_load),
		T(test_filter_load_takes_parsed_forms),
		T(test_filter_load_errors_name_the_key),
		T(test_endpoint_without_name_passes_hostname_includes),
	};
	return cmocka_run_group_tests_name("net_filter", tests, NULL, NULL);
}
