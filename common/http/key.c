/*
 * key.c: request target to cache key, and the key hash (FNV-1a, 64 bit).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "http/key.h"

const char *
key_from_target(const char *target, size_t *len)
{
	const char *p = target, *slash;

	if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "//") + 2;
		slash = strchr(p, '/');
		if (slash == NULL)
			return NULL;
		/* "http://host?x" has no path: RFC 9112 3.2.2 says the path is "/",
		 * but then the key is not a suffix of the target; refuse it. */
		if (memchr(p, '?', (size_t)(slash - p)) != NULL)
			return NULL;
		p = slash;
	}
	if (*p != '/')
		return NULL;
	for (const char *q = p; *q != '\0'; q++) {
		unsigned char c = (unsigned char)*q;

		if (c <= 0x20 || c == 0x7f || c == '#')
			return NULL;
	}
	*len = strlen(p);
	return p;
}

uint64_t
key_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
