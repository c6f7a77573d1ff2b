#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level threshold = LOG_INFO;

static const char *const level_names[] = { "ERROR", "WARNING", "INFO", "DEBUG" };

void log_set_level(enum log_level level) { threshold = level; }
enum log_level log_get_level(void) { return threshold; }

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
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
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

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
