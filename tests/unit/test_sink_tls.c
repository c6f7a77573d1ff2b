/*
 * The tls:// sink against `openssl s_server` with certificates made by the
 * openssl CLI (verified, refused for the wrong CA or name) and against a peer
 * that never answers the handshake (no line ever in clear). Every wait is a
 * predicate under a deadline (tests/lib/unit/sink_fixture.h).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "sink_fixture.h"

/* A CA, a server certificate it signed (for 127.0.0.1 and localhost), and a second CA, made with the openssl CLI. */
struct tls_files {
	char dir[64];
	char ca[128], other_ca[128], cert[128], key[128], received[128];
};

static void tls_files_make(struct tls_files *x)
{
	strcpy(x->dir, "/tmp/bpfpush-tls-test-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->ca, sizeof(x->ca), "%s/ca.pem", x->dir);
	snprintf(x->other_ca, sizeof(x->other_ca), "%s/other-ca.pem", x->dir);
	snprintf(x->cert, sizeof(x->cert), "%s/server.pem", x->dir);
	snprintf(x->key, sizeof(x->key), "%s/server.key", x->dir);
	snprintf(x->received, sizeof(x->received), "%s/received", x->dir);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; exec >openssl.log 2>&1; "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		 "-subj /CN=test-ca -keyout ca.key -out ca.pem; "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		 "-subj /CN=other-ca -keyout other-ca.key -out other-ca.pem; "
		 "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-subj /CN=localhost -keyout server.key -out server.csr; "
		 "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext; "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out server.pem",
		 x->dir);
	assert_int_equal(system(cmd), 0);
}

static void tls_files_free(struct tls_files *x)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	assert_int_equal(system(cmd), 0);
}

/* openssl s_server on 127.0.0.1:port: what it decrypts goes to x->received. */
struct tls_server {
	pid_t pid; /* 0: not running */
	int stdin_fd; /* s_server ends a connection when its stdin ends: held open */
};

static void tls_server_start(struct tls_server *srv, const struct tls_files *x, uint16_t port)
{
	int in[2];
	assert_int_equal(pipe(in), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(x->received, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDWR);
		if (out < 0 || null < 0)
			_exit(127);
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		dup2(out, 1);
		dup2(null, 2);
		char accept[32];
		snprintf(accept, sizeof(accept), "127.0.0.1:%u", (unsigned)port);
		execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", x->cert, "-key", x->key, "-quiet",
		       (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	srv->pid = pid;
	srv->stdin_fd = in[1];
	/* Listening once a connection succeeds (it is accepted and dropped: s_server goes on). */
	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return;
		poll(NULL, 0, 25);
	}
	fail_msg("openssl s_server did not listen on port %u", (unsigned)port); /* the teardown stops it */
}

static void tls_server_stop(struct tls_server *srv)
{
	if (srv->pid <= 0)
		return;
	close(srv->stdin_fd);
	kill(srv->pid, SIGTERM);
	waitpid(srv->pid, NULL, 0);
	srv->pid = 0;
}

/* The certificates are made once for the group (the openssl CLI is slow); each test starts its own server. */
static int tls_group_setup(void **state)
{
	struct tls_files *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -1;
	*state = x;
	tls_files_make(x);
	return 0;
}

static int tls_group_teardown(void **state)
{
	tls_files_free(*state);
	free(*state);
	return 0;
}

struct tls_case {
	struct fixture f;
	struct tls_files *x;
	struct tls_server server;
	struct peer p;
	struct series ser;
};

static int tls_setup(void **state)
{
	struct tls_case *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->x = *state; /* the group's */
	peer_init(&c->p);
	*state = c;
	return 0;
}

static int tls_teardown(void **state)
{
	struct tls_case *c = *state;
	fixture_end(&c->f);
	tls_server_stop(&c->server);
	peer_free(&c->p);
	series_free(&c->ser);
	free(c);
	return 0;
}

struct file_wait {
	const char *path;
	size_t lines;
	char *data;
	size_t len;
};

static bool file_has_lines(void *arg)
{
	struct file_wait *w = arg;
	free(w->data);
	w->data = NULL;
	w->len = 0;
	FILE *f = fopen(w->path, "r");
	if (f == NULL)
		return false;
	size_t cap = 0;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		w->data = realloc(w->data, cap = w->len + n);
		assert_non_null(w->data);
		memcpy(w->data + w->len, buf, n);
		w->len += n;
	}
	fclose(f);
	return count_lines(w->data, w->len) >= w->lines;
}

static void tls_delivers_everything_with_a_verified_certificate(void **state)
{
	struct tls_case *c = *state;
	struct fixture *f = &c->f;
	struct tls_files *x = c->x;
	uint16_t port = unused_port();
	tls_server_start(&c->server, x, port);
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TLS, "localhost", port); /* SNI and name check: localhost */
	f->cfg.ca_file = x->ca;
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 30000);
	send_range(s, ser, 0, 10000); /* before the handshake: buffered */
	struct file_wait w = { x->received, 10000, NULL, 0 };
	assert_true(pump_until(&f->loop, WAIT_MS, file_has_lines, &w));
	send_range(s, ser, 10000, 20000);
	w.lines = 30000;
	assert_true(pump_until(&f->loop, WAIT_MS, file_has_lines, &w));
	assert_lines(w.data, w.len, 0, 30000);
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 30000);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.buffered, 0);
	close_and_check(f, s);
	tls_server_stop(&c->server);
	free(w.data);
}

static void tls_refuses_a_certificate_it_cannot_verify(void **state)
{
	struct tls_case *c = *state;
	struct fixture *f = &c->f;
	struct tls_files *x = c->x;
	uint16_t port = unused_port();
	tls_server_start(&c->server, x, port);
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TLS, "127.0.0.1", port);
	f->cfg.ca_file = x->other_ca; /* not the CA that signed the server's certificate */
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 100);
	send_range(s, ser, 0, 100);
	assert_true(errors_reach(f, s, 2)); /* refused, and retried with the backoff */
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.buffered, 100);
	close_and_check(f, s);

	/* The right CA but the wrong name: refused too. */
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TLS, "127.0.0.1", port);
	f->cfg.ca_file = x->ca;
	f->cfg.server_name = "relay.example";
	s = sink_start(f);
	send_range(s, ser, 0, 100);
	assert_true(errors_reach(f, s, 1));
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 0);
	close_and_check(f, s);

	struct file_wait w = { x->received, 1, NULL, 0 };
	assert_false(file_has_lines(&w));
	assert_int_equal(w.len, 0); /* s_server decrypted nothing */
	tls_server_stop(&c->server);
	free(w.data);
}

/* The peer got a first connection's bytes, the sink gave up on that handshake, and tried again. */
struct retry_wait {
	struct peer *p;
	struct sink *s;
};

static bool handshake_retried(void *retry_wait)
{
	struct retry_wait *w = retry_wait;
	peer_poll(w->p);
	return w->p->len > 5 && w->p->accepted >= 2 && stats_of(w->s).errors >= 1;
}

/* A peer that accepts and never answers the handshake: it sees TLS records only, no line in clear. */
static void tls_never_sends_in_clear(void **state)
{
	struct tls_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	peer_listen(p, 0, 0);
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TLS, "127.0.0.1", p->port);
	f->cfg.write_timeout_ms = 100; /* the handshake deadline */
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 50);
	send_range(s, ser, 0, 50);
	struct retry_wait w = { p, s };
	assert_true(pump_until(&f->loop, WAIT_MS, handshake_retried, &w));
	assert_true(p->len > 5);
	assert_int_equal((unsigned char)p->data[0], 0x16); /* a TLS handshake record: the ClientHello */
	assert_null(memmem(p->data, p->len, "t.1 ", 4));
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.buffered, 50);
	assert_true(st.errors >= 1); /* the handshake timed out */
	assert_true(p->accepted >= 2); /* and was retried */
	close_and_check(f, s);
}

int main(void)
{
	log_set_level(getenv("TEST_SINK_LOG") ? LOG_DEBUG : LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tls_delivers_everything_with_a_verified_certificate, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(tls_refuses_a_certificate_it_cannot_verify, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(tls_never_sends_in_clear, tls_setup, tls_teardown),
	};
	return cmocka_run_group_tests(tests, tls_group_setup, tls_group_teardown);
}
