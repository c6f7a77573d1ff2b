/*
 * Helpers shared by the libFuzzer targets (make fuzz): carving typed values
 * out of the input bytes, in the spirit of LLVM's FuzzedDataProvider.
 */
#ifndef BPFPUSH_FUZZ_H
#define BPFPUSH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | fuzz_u8(in);
	return v;
}

/* A NUL-terminated copy of the next n bytes (fewer when the input runs out); caller frees. */
static inline char *fuzz_bytes_str(struct fuzz_in *in, size_t n)
{
	if (n > in->left)
		n = in->left;
	char *s = malloc(n + 1);
	if (s == NULL)
		abort();
	memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n;
	in->left -= n;
	return s;
}

/* A string whose length is carved first: mostly short, sometimes up to 64 KiB. */
static inline char *fuzz_str(struct fuzz_in *in)
{
	uint8_t b = fuzz_u8(in);
	size_t n = b & 0x3f;
	if (b & 0x80)
		n = ((size_t)(b & 0x7f) << 8 | fuzz_u8(in)) * 2; /* long strings repeat their bytes */
	if (n <= in->left || !(b & 0x80))
		return fuzz_bytes_str(in, n);
	char *s = malloc(n + 1);
	if (s == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		s[i] = in->left ? (char)in->p[i % in->left] : 'x';
	s[n] = '\0';
	return s;
}

/* The input as one NUL-terminated string (bytes after an embedded NUL are ignored by C parsers). */
static inline char *fuzz_whole_str(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	return fuzz_bytes_str(&in, size);
}

#endif
