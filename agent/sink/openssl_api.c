/* libssl.so.3 opened at run time: see openssl_api.h. */
#include "sink/openssl_api.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

/* OpenSSL 3's soname; libcrypto comes with it as its dependency. */
#define OPENSSL_LIBRARY "libssl.so.3"

/* Each pointer has exactly the type of the function the headers declare. */
#define OPENSSL_API_SAME_TYPE(ret, name, params)                                                    \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&name), ret(*) params),              \
		       #name " is declared otherwise by the OpenSSL headers");
OPENSSL_API_FUNCTIONS(OPENSSL_API_SAME_TYPE)
#undef OPENSSL_API_SAME_TYPE

/* Loaded once, read by every TLS sink after. */
static struct openssl_api api;
static bool api_loaded;

const struct openssl_api *openssl_api_load(char *why, size_t cap)
{
	if (api_loaded)
		return &api;
	void *lib = dlopen(OPENSSL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(why, cap, "tls:// needs OpenSSL 3 (%s): %s", OPENSSL_LIBRARY, dlerror());
		return NULL;
	}
	struct openssl_api loaded;
	void *sym;
	/* dlsym's result as a function pointer: POSIX guarantees the conversion, ISO C does not say. */
#define OPENSSL_API_RESOLVE(ret, name, params)                                                      \
	if (!(sym = dlsym(lib, #name))) {                                                           \
		snprintf(why, cap, "tls:// needs OpenSSL 3: %s has no %s", OPENSSL_LIBRARY, #name); \
		dlclose(lib);                                                                       \
		return NULL;                                                                        \
	}                                                                                           \
	*(void **)&loaded.name = sym;
	OPENSSL_API_FUNCTIONS(OPENSSL_API_RESOLVE)
#undef OPENSSL_API_RESOLVE
	api = loaded;
	api_loaded = true;
	return &api;
}
