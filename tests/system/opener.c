/*
 * The known workload of the system test: opens and closes /dev/null N times (argv[1]) and
 * exits. Built static, so the dynamic loader opens nothing: apps.file_open for its comm is
 * exactly N per run.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	for (long i = 0; i < n; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			perror("open /dev/null");
			return 1;
		}
		close(fd);
	}
	return 0;
}
