/*
 * N sleeping processes for scripts/bench/scale (per-PID tables at scale).
 * Forks N children that open and close /dev/null once every PERIOD seconds
 * (1: counted calls, so each has an entry in the apps module's table and, at
 * interval 1s, changes between two collects, as a live process would) and
 * sleep otherwise; prints "ready N" once all exist;
 * on SIGTERM or SIGINT kills and reaps exactly the children it made.
 * Each child first sleeps its own share of a period: N children started within
 * a second would otherwise wake in the same tick, a herd no real host makes.
 *
 * Usage: sleepers N [PERIOD]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0;
	long period = argc > 2 ? atol(argv[2]) : 1;
	if (n <= 0 || period <= 0) {
		fprintf(stderr, "usage: %s N [PERIOD]\n", argv[0]);
		return 3;
	}
	pid_t *kids = calloc((size_t)n, sizeof(*kids));
	if (!kids)
		return 1;
	/* Blocked until the children exist: a signal now must not leave some behind. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pid_t parent = getpid();
	long made = 0;
	for (; made < n; made++) {
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			break;
		}
		if (p == 0) {
			/* Dies with the parent, whatever kills it. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			long long phase_ns = (long long)made * period * 1000000000LL / n;
			struct timespec phase = { (time_t)(phase_ns / 1000000000LL), (long)(phase_ns % 1000000000LL) };
			nanosleep(&phase, NULL);
			for (;;) {
				close(open("/dev/null", O_RDONLY));
				sleep((unsigned)period);
			}
		}
		kids[made] = p;
	}
	printf("ready %ld\n", made);
	fflush(stdout);
	while (!stop)
		sigsuspend(&old);
	for (long i = 0; i < made; i++)
		kill(kids[i], SIGKILL);
	for (long i = 0; i < made; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	return made == n ? 0 : 1;
}
