/*
 * The YAML config loader on the input: the bytes become bpfpush.yaml in a
 * private temporary directory; if the input holds a line "#conf.d", what
 * follows it becomes conf.d/10-fuzz.yaml. ${FUZZ_SINK}, ${FUZZ_EMPTY} and
 * ${FUZZ_NUM} are set in the environment (the seeds use them), ${FUZZ_UNSET}
 * is not. config_load, then config_free or the errors printed and freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#include "fuzz.h"

#define CONF_D_MARK "\n#conf.d\n"

static char dir[64];
static char main_path[128];
static char conf_d_dir[128];
static char conf_d_path[160];

static void cleanup(void)
{
	unlink(conf_d_path);
	rmdir(conf_d_dir);
	unlink(main_path);
	rmdir(dir);
}

static void setup_once(void)
{
	if (dir[0] != '\0')
		return;
	strcpy(dir, "/tmp/bpfpush-fuzz-config-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(main_path, sizeof(main_path), "%s/bpfpush.yaml", dir);
	snprintf(conf_d_dir, sizeof(conf_d_dir), "%s/conf.d", dir);
	snprintf(conf_d_path, sizeof(conf_d_path), "%s/10-fuzz.yaml", conf_d_dir);
	atexit(cleanup);
	setenv("FUZZ_SINK", "udp://127.0.0.1:8125", 1);
	setenv("FUZZ_EMPTY", "", 1);
	setenv("FUZZ_NUM", "5", 1);
	unsetenv("FUZZ_UNSET");
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	while (size > 0) {
		ssize_t n = write(fd, data, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		data += n;
		size -= (size_t)n;
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup_once();
	const uint8_t *mark = memmem(data, size, CONF_D_MARK, sizeof(CONF_D_MARK) - 1);
	size_t main_size = mark ? (size_t)(mark - data) + 1 : size;
	write_file(main_path, data, main_size);
	if (mark != NULL) {
		if (mkdir(conf_d_dir, 0700) != 0 && errno != EEXIST)
			abort();
		size_t skip = main_size + sizeof(CONF_D_MARK) - 2;
		write_file(conf_d_path, data + skip, size - skip);
	} else {
		unlink(conf_d_path);
		rmdir(conf_d_dir);
	}

	struct config *cfg = NULL;
	struct config_errors errs = { 0 };
	int rc = config_load(main_path, &cfg, &errs);
	if (rc == 0) {
		if (cfg == NULL || errs.len != errs.warnings)
			abort();
		config_free(cfg);
	} else {
		if (cfg != NULL || errs.len == errs.warnings)
			abort();
	}
	FILE *null = fopen("/dev/null", "w");
	if (null != NULL) {
		config_errors_print(&errs, null);
		fclose(null);
	}
	config_errors_free(&errs);
	return 0;
}
