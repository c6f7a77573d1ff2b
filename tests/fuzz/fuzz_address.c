/*
 * The sink address parser (config_parse_address: udp://, tcp://, tls://,
 * unix://) on the input, then the transports' literal-address helper on what
 * it accepted. Checks the parser's promises: on success a host and a port
 * from 1 to 65535 (or an absolute unix path that fits sun_path), on failure a
 * reason and nothing to free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config.h"
#include "sink/transport.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_whole_str(data, size);
	struct config_address addr;
	const char *why = NULL;
	if (config_parse_address(text, &addr, &why) == 0) {
		if (addr.transport == TRANSPORT_UNIX) {
			if (addr.path == NULL || addr.path[0] != '/' ||
			    strlen(addr.path) >= sizeof(((struct sockaddr_un *)0)->sun_path) || addr.host != NULL)
				abort();
		} else {
			if (addr.host == NULL || addr.host[0] == '\0' || addr.port == 0 || addr.path != NULL)
				abort();
			if (addr.transport != TRANSPORT_UDP && addr.transport != TRANSPORT_TCP &&
			    addr.transport != TRANSPORT_TLS)
				abort();
			struct sockaddr_storage ss;
			char buf[96];
			if (sink_addr_literal(addr.host, addr.port, &ss))
				sink_addr_text(&ss, buf, sizeof(buf));
		}
		config_address_free(&addr);
	} else {
		if (why == NULL || addr.host != NULL || addr.path != NULL)
			abort();
	}
	free(text);
	return 0;
}
