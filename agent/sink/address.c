/* Address helpers shared by the UDP and TCP transports. */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "sink/transport.h"

bool sink_addr_literal(const char *host, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (host == NULL)
		return false;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
		return true;
	if (strchr(host, ':') != NULL && uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0)
		return true;
	memset(out, 0, sizeof(*out));
	return false;
}

int sink_resolve_start(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb, const char *host,
		       uint16_t port, int socktype)
{
	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	struct addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	return uv_getaddrinfo(loop, req, cb, host, service, &hints);
}

void sink_addrs_take(struct sink_addrs *out, struct addrinfo *res)
{
	out->len = 0;
	for (struct addrinfo *ai = res; ai != NULL && out->len < SINK_MAX_ADDRS; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(out->items[0]))
			continue;
		memset(&out->items[out->len], 0, sizeof(out->items[0]));
		memcpy(&out->items[out->len], ai->ai_addr, ai->ai_addrlen);
		out->len++;
	}
	uv_freeaddrinfo(res);
}

socklen_t sink_addr_len(const struct sockaddr_storage *addr)
{
	return addr->ss_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
					   : (socklen_t)sizeof(struct sockaddr_in);
}

const char *sink_addr_text(const struct sockaddr_storage *addr, char *buf, size_t cap)
{
	char ip[64] = "?";
	unsigned port = 0;
	if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
		uv_ip6_name(a, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
		snprintf(buf, cap, "[%s]:%u", ip, port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
		uv_ip4_name(a, ip, sizeof(ip));
		port = ntohs(a->sin_port);
		snprintf(buf, cap, "%s:%u", ip, port);
	}
	return buf;
}

static uint64_t rng_next(uint64_t *state)
{
	/* xorshift64*: plenty for jitter, and the state lives in its owner. */
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

uint64_t sink_rng_seed(const void *salt)
{
	uint64_t seed = uv_hrtime() ^ ((uint64_t)(uintptr_t)salt * 0x9E3779B97F4A7C15ull);
	return seed ? seed : 0x853c49e6748fea9bull;
}

uint64_t sink_backoff_ms(uint64_t min_ms, uint64_t max_ms, unsigned failures, uint64_t *rng)
{
	if (min_ms == 0)
		min_ms = 1;
	if (max_ms < min_ms)
		max_ms = min_ms;
	uint64_t base = min_ms;
	for (unsigned i = 0; i < failures && base < max_ms; i++)
		base *= 2;
	if (base > max_ms)
		base = max_ms;
	/*
	 * Jitter so that a fleet restarted together does not reconnect in step:
	 * up to 50 % above the step, or up to 25 % below the cap once there.
	 */
	uint64_t hi = base + base / 2;
	if (hi > max_ms)
		hi = max_ms;
	uint64_t lo = hi == base ? base - base / 4 : base;
	if (lo < min_ms)
		lo = min_ms;
	return lo + rng_next(rng) % (hi - lo + 1);
}
