/* One log line per event on stderr: "LEVEL module: message" (journald-friendly). */
#ifndef BPFPUSH_LOG_H
#define BPFPUSH_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/*
 * In place: every control character (C0, DEL, C1 as a byte or as U+0080-U+009F),
 * bidi override (U+202A-U+202E, U+2066-U+2069) and byte that is not valid
 * UTF-8 becomes '?', so text from the kernel or a config forges no line and
 * hides nothing. Returns the new length.
 */
size_t log_sanitize(char *text);
enum log_level log_get_level(void);

#if defined(__GNUC__)
#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LOG_PRINTF(a, b)
#endif

void log_msg(enum log_level level, const char *module, const char *fmt, ...) LOG_PRINTF(3, 4);

#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_WARNING, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)

/*
 * collectd's c_complain shape: a repeating error is logged once, then at most
 * once a minute as "(repeated N times in S s)". The caller owns the struct and
 * counts the error in its own metrics every time.
 */
struct log_complaint {
	uint64_t first_ns;
	uint64_t last_logged_ns;
	uint64_t repeats;
	int active;
};

void log_complain(struct log_complaint *c, enum log_level level, const char *module,
		  const char *fmt, ...) LOG_PRINTF(4, 5);
/* The condition cleared: log once that it recovered (if it had complained). */
void log_complaint_clear(struct log_complaint *c, const char *module, const char *what);

#endif
