/*
 * TLS for the TCP transport (tls://), with OpenSSL's non-blocking API over
 * memory BIOs: the transport feeds the ciphertext it reads from its uv_tcp
 * stream in, and writes out what the library produced. No thread, no fd of
 * its own. Internal to agent/sink/.
 *
 * A build with BPFPUSH_NO_TLS (the static VM build) has no TLS:
 * sink_tls_ctx_new logs that and returns NULL, so a tls:// sink is refused.
 */
#ifndef BPFPUSH_SINK_TLS_H
#define BPFPUSH_SINK_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct sink_tls_ctx;  /* per sink: trust store, client certificate */
struct sink_tls_conn; /* per connection */

enum sink_tls_status {
	SINK_TLS_OK,     /* done: handshake complete, or everything read */
	SINK_TLS_WANT,   /* needs more input from the peer */
	SINK_TLS_CLOSED, /* the peer sent close_notify */
	SINK_TLS_FAILED, /* see sink_tls_error */
};

/* NULL, having logged why (a file that does not load, no TLS in this build), on failure. */
struct sink_tls_ctx *sink_tls_ctx_new(const struct config_sink *cfg, const char *sink_name);
void sink_tls_ctx_free(struct sink_tls_ctx *ctx);

/* A client connection verifying the peer's certificate for `name` (a host name or an IP literal). */
struct sink_tls_conn *sink_tls_conn_new(struct sink_tls_ctx *ctx, const char *name);
void sink_tls_conn_free(struct sink_tls_conn *conn);

/* Ciphertext received from the peer. */
bool sink_tls_feed(struct sink_tls_conn *conn, const char *data, size_t len);
enum sink_tls_status sink_tls_handshake(struct sink_tls_conn *conn);
/* After the handshake: process what the peer sent (tickets, alerts, close_notify); data is discarded. */
enum sink_tls_status sink_tls_read(struct sink_tls_conn *conn);
/* Encrypt all of data (after the handshake). */
bool sink_tls_write(struct sink_tls_conn *conn, const char *data, size_t len);
/* Ciphertext waiting to be sent, and taking it (up to cap bytes). */
size_t sink_tls_pending(const struct sink_tls_conn *conn);
size_t sink_tls_take(struct sink_tls_conn *conn, char *out, size_t cap);
/* Why the last call failed, for a log line. */
const char *sink_tls_error(const struct sink_tls_conn *conn);

#endif
