/* OpenSSL behind sink/tls.h: see there. */
#include "sink/tls.h"

#include "log.h"

#ifdef BPFPUSH_NO_TLS

struct sink_tls_ctx *sink_tls_ctx_new(const struct config_sink *cfg, const char *sink_name)
{
	(void)cfg;
	log_error("sink", "%s: tls:// addresses are not supported by this build (built without OpenSSL)", sink_name);
	return NULL;
}
void sink_tls_ctx_free(struct sink_tls_ctx *ctx) { (void)ctx; }
struct sink_tls_conn *sink_tls_conn_new(struct sink_tls_ctx *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}
void sink_tls_conn_free(struct sink_tls_conn *conn) { (void)conn; }
bool sink_tls_feed(struct sink_tls_conn *conn, const char *data, size_t len)
{
	(void)conn;
	(void)data;
	(void)len;
	return false;
}
enum sink_tls_status sink_tls_handshake(struct sink_tls_conn *conn)
{
	(void)conn;
	return SINK_TLS_FAILED;
}
enum sink_tls_status sink_tls_read(struct sink_tls_conn *conn)
{
	(void)conn;
	return SINK_TLS_FAILED;
}
bool sink_tls_write(struct sink_tls_conn *conn, const char *data, size_t len)
{
	(void)conn;
	(void)data;
	(void)len;
	return false;
}
size_t sink_tls_pending(const struct sink_tls_conn *conn)
{
	(void)conn;
	return 0;
}
size_t sink_tls_take(struct sink_tls_conn *conn, char *out, size_t cap)
{
	(void)conn;
	(void)out;
	(void)cap;
	return 0;
}
const char *sink_tls_error(const struct sink_tls_conn *conn)
{
	(void)conn;
	return "no TLS in this build";
}

#else

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/openssl_api.h"

struct sink_tls_ctx {
	const struct openssl_api *api;
	SSL_CTX *ssl_ctx;
	const char *server_name; /* config: overrides the host for SNI and verification */
};

struct sink_tls_conn {
	const struct openssl_api *api;
	SSL *ssl;
	BIO *in;  /* ciphertext from the peer; owned by ssl */
	BIO *out; /* ciphertext to the peer; owned by ssl */
	char error[256];
};

/* The oldest queued OpenSSL error as text, with what we were doing. */
static void openssl_error(const struct openssl_api *api, char *buf, size_t cap, const char *what)
{
	unsigned long e = api->ERR_get_error();
	char detail[200] = "unknown error";
	if (e != 0)
		api->ERR_error_string_n(e, detail, sizeof(detail));
	api->ERR_clear_error();
	snprintf(buf, cap, "%s: %s", what, detail);
}

struct sink_tls_ctx *sink_tls_ctx_new(const struct config_sink *cfg, const char *sink_name)
{
	char why[300];
	SSL_CTX *c = NULL;
	const struct openssl_api *api = openssl_api_load(why, sizeof(why));
	if (api == NULL)
		goto fail;
	api->ERR_clear_error();
	c = api->SSL_CTX_new(api->TLS_client_method());
	if (c == NULL) {
		openssl_error(api, why, sizeof(why), "creating a TLS context");
		goto fail;
	}
	api->SSL_CTX_ctrl(c, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
	api->SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	api->SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if (cfg->ca_file != NULL) {
		if (api->SSL_CTX_load_verify_locations(c, cfg->ca_file, NULL) != 1) {
			char what[200];
			snprintf(what, sizeof(what), "loading ca_file %s", cfg->ca_file);
			openssl_error(api, why, sizeof(why), what);
			goto fail;
		}
	} else if (api->SSL_CTX_set_default_verify_paths(c) != 1) {
		openssl_error(api, why, sizeof(why), "loading the system's CA certificates");
		goto fail;
	}
	if (cfg->cert_file != NULL) {
		char what[200];
		if (api->SSL_CTX_use_certificate_chain_file(c, cfg->cert_file) != 1) {
			snprintf(what, sizeof(what), "loading cert_file %s", cfg->cert_file);
			openssl_error(api, why, sizeof(why), what);
			goto fail;
		}
		if (api->SSL_CTX_use_PrivateKey_file(c, cfg->key_file ? cfg->key_file : cfg->cert_file, SSL_FILETYPE_PEM) != 1) {
			snprintf(what, sizeof(what), "loading key_file %s", cfg->key_file ? cfg->key_file : cfg->cert_file);
			openssl_error(api, why, sizeof(why), what);
			goto fail;
		}
		if (api->SSL_CTX_check_private_key(c) != 1) {
			openssl_error(api, why, sizeof(why), "key_file does not match cert_file");
			goto fail;
		}
	}
	struct sink_tls_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		goto fail;
	}
	ctx->api = api;
	ctx->ssl_ctx = c;
	ctx->server_name = cfg->server_name;
	return ctx;
fail:
	if (c != NULL)
		api->SSL_CTX_free(c);
	log_error("sink", "%s: %s", sink_name, why);
	return NULL;
}

void sink_tls_ctx_free(struct sink_tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	ctx->api->SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

static bool is_ip_literal(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

struct sink_tls_conn *sink_tls_conn_new(struct sink_tls_ctx *ctx, const char *host)
{
	const char *name = ctx->server_name ? ctx->server_name : host;
	const struct openssl_api *api = ctx->api;
	struct sink_tls_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return NULL;
	conn->api = api;
	api->ERR_clear_error();
	conn->ssl = api->SSL_new(ctx->ssl_ctx);
	conn->in = api->BIO_new(api->BIO_s_mem());
	conn->out = api->BIO_new(api->BIO_s_mem());
	if (conn->ssl == NULL || conn->in == NULL || conn->out == NULL) {
		api->BIO_free(conn->in);
		api->BIO_free(conn->out);
		api->SSL_free(conn->ssl);
		free(conn);
		api->ERR_clear_error();
		return NULL;
	}
	/* An empty input BIO means "wait for more", not end of stream. */
	api->BIO_ctrl(conn->in, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, NULL);
	api->BIO_ctrl(conn->out, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, NULL);
	api->SSL_set_bio(conn->ssl, conn->in, conn->out);
	api->SSL_set_connect_state(conn->ssl);
	bool ok;
	if (is_ip_literal(name)) {
		/* No SNI for an IP address (RFC 6066); the certificate must name the IP. */
		ok = api->X509_VERIFY_PARAM_set1_ip_asc(api->SSL_get0_param(conn->ssl), name) == 1;
	} else {
		ok = api->SSL_ctrl(conn->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)name) == 1 && api->SSL_set1_host(conn->ssl, name) == 1;
		api->SSL_set_hostflags(conn->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	if (!ok) {
		sink_tls_conn_free(conn);
		api->ERR_clear_error();
		return NULL;
	}
	return conn;
}

void sink_tls_conn_free(struct sink_tls_conn *conn)
{
	if (conn == NULL)
		return;
	conn->api->SSL_free(conn->ssl); /* frees both BIOs */
	free(conn);
}

bool sink_tls_feed(struct sink_tls_conn *conn, const char *data, size_t len)
{
	const struct openssl_api *api = conn->api;
	while (len > 0) {
		int chunk = len > (size_t)1 << 30 ? 1 << 30 : (int)len;
		int n = api->BIO_write(conn->in, data, chunk);
		if (n <= 0) {
			openssl_error(conn->api, conn->error, sizeof(conn->error), "buffering TLS input");
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Turn the result of an SSL call that did not succeed into a status, with the reason on failure. */
static enum sink_tls_status status_of(struct sink_tls_conn *conn, int ret, const char *what)
{
	const struct openssl_api *api = conn->api;
	int err = api->SSL_get_error(conn->ssl, ret);
	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: /* memory BIOs always take writes; kept for completeness */
		api->ERR_clear_error();
		return SINK_TLS_WANT;
	case SSL_ERROR_ZERO_RETURN:
		api->ERR_clear_error();
		return SINK_TLS_CLOSED;
	default:
		break;
	}
	long verify = api->SSL_get_verify_result(conn->ssl);
	if (verify != X509_V_OK) {
		snprintf(conn->error, sizeof(conn->error), "certificate verification failed: %s",
			 api->X509_verify_cert_error_string(verify));
		api->ERR_clear_error();
	} else if (err == SSL_ERROR_SYSCALL && api->ERR_peek_error() == 0) {
		snprintf(conn->error, sizeof(conn->error), "%s: unexpected end of stream", what);
	} else {
		openssl_error(conn->api, conn->error, sizeof(conn->error), what);
	}
	return SINK_TLS_FAILED;
}

enum sink_tls_status sink_tls_handshake(struct sink_tls_conn *conn)
{
	const struct openssl_api *api = conn->api;
	api->ERR_clear_error();
	int r = api->SSL_do_handshake(conn->ssl);
	if (r == 1)
		return SINK_TLS_OK;
	return status_of(conn, r, "TLS handshake");
}

enum sink_tls_status sink_tls_read(struct sink_tls_conn *conn)
{
	const struct openssl_api *api = conn->api;
	char buf[4096];
	for (;;) {
		api->ERR_clear_error();
		int r = api->SSL_read(conn->ssl, buf, sizeof(buf));
		if (r > 0)
			continue; /* peers of a metrics sink send nothing we use */
		enum sink_tls_status st = status_of(conn, r, "TLS read");
		return st == SINK_TLS_WANT ? SINK_TLS_OK : st;
	}
}

bool sink_tls_write(struct sink_tls_conn *conn, const char *data, size_t len)
{
	const struct openssl_api *api = conn->api;
	while (len > 0) {
		int chunk = len > (size_t)1 << 30 ? 1 << 30 : (int)len;
		api->ERR_clear_error();
		int n = api->SSL_write(conn->ssl, data, chunk);
		if (n <= 0) {
			status_of(conn, n, "TLS write");
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

size_t sink_tls_pending(const struct sink_tls_conn *conn) { return conn->api->BIO_ctrl_pending(conn->out); }

size_t sink_tls_take(struct sink_tls_conn *conn, char *out, size_t cap)
{
	const struct openssl_api *api = conn->api;
	size_t got = 0;
	while (got < cap) {
		size_t want = cap - got;
		int n = api->BIO_read(conn->out, out + got, want > (size_t)1 << 30 ? 1 << 30 : (int)want);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

const char *sink_tls_error(const struct sink_tls_conn *conn) { return conn->error[0] ? conn->error : "unknown error"; }

#endif
