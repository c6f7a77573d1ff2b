/* The kernel's softirq counts per vector, summed over CPUs across their 32-bit wraps. */
#include "softirq_counts.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const softirq_vector_names[SOFTIRQ_VECTORS] = {
	"hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu",
};

int softirq_counts_init(struct softirq_counts *c, size_t ncpus)
{
	memset(c, 0, sizeof(*c));
	c->last = calloc((size_t)SOFTIRQ_VECTORS * (ncpus ? ncpus : 1), sizeof(*c->last));
	if (!c->last)
		return -ENOMEM;
	c->ncpus = ncpus;
	return 0;
}

void softirq_counts_free(struct softirq_counts *c)
{
	free(c->last);
	memset(c, 0, sizeof(*c));
}

/* The vector a row names ("  NET_RX" -> 3), lower-casing it in place; -1 when unknown. */
static int vector_of(char *name)
{
	while (*name == ' ')
		name++;
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (int v = 0; v < SOFTIRQ_VECTORS; v++)
		if (!strcmp(softirq_vector_names[v], name))
			return v;
	return -1;
}

int softirq_counts_read(struct softirq_counts *c, FILE *f)
{
	/* 11 bytes a CPU: read whole lines, whatever the CPU count. */
	char *line = NULL;
	size_t cap = 0;
	int rows = 0;
	while (getline(&line, &cap, f) > 0) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue; /* the header of CPUs */
		*colon = '\0';
		int v = vector_of(line);
		if (v < 0)
			continue;
		uint32_t *last = c->last + (size_t)v * c->ncpus;
		char *p = colon + 1, *end;
		for (size_t cpu = 0; cpu < c->ncpus; cpu++, p = end) {
			uint32_t now = (uint32_t)strtoul(p, &end, 10);
			if (end == p)
				break;
			if (c->started)
				c->events[v] += (uint32_t)(now - last[cpu]); /* modulo 2^32: a wrap adds what ran */
			last[cpu] = now;
		}
		rows++;
	}
	free(line);
	if (!rows)
		return -ENODATA;
	c->started = true;
	return 0;
}
