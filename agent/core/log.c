#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

static enum log_level threshold = LOG_INFO;

static const char *const level_names[] = { "ERROR", "WARNING", "INFO", "DEBUG" };

void log_set_level(enum log_level level) { threshold = level; }
enum log_level log_get_level(void) { return threshold; }

/* Length of the valid UTF-8 sequence at p (1 for ASCII), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) || (p[0] == 0xf0 && p[1] < 0x90) ||
	    (p[0] == 0xf4 && p[1] > 0x8f))
		return 0; /* overlong, surrogate, beyond U+10FFFF */
	return n;
}

size_t log_sanitize(char *text)
{
	unsigned char *in = (unsigned char *)text, *out = in;
	while (*in) {
		size_t n = utf8_sequence(in);
		bool bad = n == 0 || (n == 1 && (*in < 0x20 || *in == 0x7f)) ||
			   (n == 2 && in[0] == 0xc2 && in[1] <= 0x9f) || /* C1 controls U+0080-U+009F */
			   (n == 3 && in[0] == 0xe2 && in[1] == 0x80 && in[2] >= 0xaa && in[2] <= 0xae) || /* U+202A-202E */
			   (n == 3 && in[0] == 0xe2 && in[1] == 0x81 && in[2] >= 0xa6 && in[2] <= 0xa9);  /* U+2066-2069 */
		if (bad) {
			*out++ = '?';
			in += n ? n : 1;
			continue;
		}
		while (n--)
			*out++ = *in++;
	}
	*out = '\0';
	return (size_t)(out - (unsigned char *)text);
}

static void vlog(enum log_level level, const char *module, const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/*
	 * Messages carry names the kernel hands us (comm, exe, cgroup, IRQ
	 * handler): a task named "x\nERROR agent: ..." must not forge a log line.
	 */
	log_sanitize(line);
	/* One write per line so lines from a crash handler or a child never interleave. */
	fprintf(stderr, "%s %s: %s\n", level_names[level], module ? module : "agent", line);
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	if (level > threshold)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, module, fmt, ap);
	va_end(ap);
}

#define COMPLAIN_EVERY_NS (60ull * 1000000000ull)

void log_complain(struct log_complaint *c, enum log_level level, const char *module,
		  const char *fmt, ...)
{
	uint64_t now = monotonic_ns();
	if (!c->active) {
		c->active = 1;
		c->first_ns = now;
		c->last_logged_ns = now;
		c->repeats = 0;
	} else {
		c->repeats++;
		if (now - c->last_logged_ns < COMPLAIN_EVERY_NS)
			return;
	}
	if (level > threshold)
		return;
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->repeats)
		log_msg(level, module, "%s (repeated %llu times in %llu s)", msg,
			(unsigned long long)c->repeats,
			(unsigned long long)((now - c->last_logged_ns) / 1000000000ull));
	else
		log_msg(level, module, "%s", msg);
	c->last_logged_ns = now;
	c->repeats = 0;
}

void log_complaint_clear(struct log_complaint *c, const char *module, const char *what)
{
	if (!c->active)
		return;
	c->active = 0;
	log_info(module, "%s", what);
}
