/*
 * OpenSSL for tls:// sinks, loaded from the host's libssl.so.3 when the first
 * TLS sink is made. Linked at build time, its relocated method tables cost
 * every agent about 1.7 MB of resident memory from start-up, TLS or not
 * (libcrypto 1.46 MB and libssl 0.25 MB measured with no call made): a
 * tenth of the agent's memory budget. Loaded at run time, the host's library
 * still serves (its trust store and security updates apply).
 */
#ifndef BPFPUSH_SINK_OPENSSL_API_H
#define BPFPUSH_SINK_OPENSSL_API_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Every OpenSSL function the TLS sink calls: return type, name, parameter types. */
#define OPENSSL_API_FUNCTIONS(X)                                                                    \
	X(const SSL_METHOD *, TLS_client_method, (void))                                            \
	X(SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *))                                             \
	X(void, SSL_CTX_free, (SSL_CTX *))                                                          \
	X(long, SSL_CTX_ctrl, (SSL_CTX *, int, long, void *))                                       \
	X(uint64_t, SSL_CTX_set_options, (SSL_CTX *, uint64_t))                                     \
	X(void, SSL_CTX_set_verify, (SSL_CTX *, int, SSL_verify_cb))                                \
	X(int, SSL_CTX_load_verify_locations, (SSL_CTX *, const char *, const char *))              \
	X(int, SSL_CTX_set_default_verify_paths, (SSL_CTX *))                                       \
	X(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX *, const char *))                       \
	X(int, SSL_CTX_use_PrivateKey_file, (SSL_CTX *, const char *, int))                         \
	X(int, SSL_CTX_check_private_key, (const SSL_CTX *))                                        \
	X(SSL *, SSL_new, (SSL_CTX *))                                                              \
	X(void, SSL_free, (SSL *))                                                                  \
	X(long, SSL_ctrl, (SSL *, int, long, void *))                                               \
	X(void, SSL_set_bio, (SSL *, BIO *, BIO *))                                                 \
	X(void, SSL_set_connect_state, (SSL *))                                                     \
	X(X509_VERIFY_PARAM *, SSL_get0_param, (SSL *))                                             \
	X(int, SSL_set1_host, (SSL *, const char *))                                                \
	X(void, SSL_set_hostflags, (SSL *, unsigned int))                                           \
	X(int, SSL_get_error, (const SSL *, int))                                                   \
	X(long, SSL_get_verify_result, (const SSL *))                                               \
	X(int, SSL_do_handshake, (SSL *))                                                           \
	X(int, SSL_read, (SSL *, void *, int))                                                      \
	X(int, SSL_write, (SSL *, const void *, int))                                               \
	X(const BIO_METHOD *, BIO_s_mem, (void))                                                    \
	X(BIO *, BIO_new, (const BIO_METHOD *))                                                     \
	X(int, BIO_free, (BIO *))                                                                   \
	X(long, BIO_ctrl, (BIO *, int, long, void *))                                               \
	X(size_t, BIO_ctrl_pending, (BIO *))                                                        \
	X(int, BIO_read, (BIO *, void *, int))                                                      \
	X(int, BIO_write, (BIO *, const void *, int))                                               \
	X(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM *, const char *))                  \
	X(const char *, X509_verify_cert_error_string, (long))                                      \
	X(unsigned long, ERR_get_error, (void))                                                     \
	X(unsigned long, ERR_peek_error, (void))                                                    \
	X(void, ERR_clear_error, (void))                                                            \
	X(void, ERR_error_string_n, (unsigned long, char *, size_t))

#define OPENSSL_API_MEMBER(ret, name, params) ret(*name) params;
struct openssl_api {
	OPENSSL_API_FUNCTIONS(OPENSSL_API_MEMBER)
};
#undef OPENSSL_API_MEMBER

/*
 * The functions, loaded at the first call and kept for the process's life
 * (OpenSSL does not support being unloaded). NULL with why filled when the
 * library or one of its functions is missing.
 */
const struct openssl_api *openssl_api_load(char *why, size_t cap);

#endif
