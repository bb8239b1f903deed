/*
 * key.c: request target to cache key, and the key hash (FNV-1a, 64 bit).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/hdrs.h"
#include "http/key.h"
#include "util/mem.h"

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

/* Append s to buf folding whitespace runs to one space and trimming. */
static size_t
append_folded(char *buf, size_t at, const char *s)
{
	bool space = false, any = false;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t') {
			space = any;
			continue;
		}
		if (space)
			buf[at++] = ' ';
		space = false;
		any = true;
		buf[at++] = *s;
	}
	return at;
}

char *
key_variant(const char *key, size_t keylen, uint64_t gen, const char *vary,
    const struct hdrs *req, size_t *len)
{
	const char *p = vary, *elem;
	size_t elen, cap = keylen + 2 + 24, at;
	char *out, name[128];

	/* First pass: size and the "*" check. */
	while ((p = hdrs_list_next(p, &elem, &elen)) != NULL) {
		char *v;

		if (elen == 1 && elem[0] == '*')
			return NULL;
		if (elen >= sizeof name)
			elen = sizeof name - 1;
		memcpy(name, elem, elen);
		name[elen] = '\0';
		v = hdrs_join(req, name);
		cap += elen + 3 + (v != NULL ? strlen(v) : 0);
		free(v);
	}
	out = xmalloc(cap);
	memcpy(out, key, keylen);
	at = keylen;
	out[at++] = KEY_VARIANT_SEP;
	at += (size_t)snprintf(out + at, cap - at, "%llu", (unsigned long long)gen);
	out[at++] = KEY_VARIANT_SEP;
	p = vary;
	while ((p = hdrs_list_next(p, &elem, &elen)) != NULL) {
		char *v;

		if (elen >= sizeof name)
			elen = sizeof name - 1;
		for (size_t i = 0; i < elen; i++)
			name[i] = (char)tolower((unsigned char)elem[i]);
		name[elen] = '\0';
		memcpy(out + at, name, elen);
		at += elen;
		out[at++] = '=';
		v = hdrs_join(req, name);
		if (v != NULL)
			at = append_folded(out, at, v);
		free(v);
		out[at++] = '\n';
	}
	out[at] = '\0';
	*len = at;
	return out;
}

uint64_t
key_variant_gen(const char *key, size_t len)
{
	size_t b = key_base_len(key, len);
	uint64_t g = 0;

	if (b == len || key[b] != KEY_VARIANT_SEP)
		return 0;
	for (size_t i = b + 1; i < len && key[i] >= '0' && key[i] <= '9'; i++)
		g = g * 10 + (uint64_t)(key[i] - '0');
	return g;
}

char *
key_marker(const char *key, size_t keylen, size_t *len)
{
	char *out = xmalloc(keylen + 2);

	memcpy(out, key, keylen);
	out[keylen] = KEY_MARKER_SEP;
	out[keylen + 1] = '\0';
	*len = keylen + 1;
	return out;
}

size_t
key_base_len(const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (key[i] == KEY_VARIANT_SEP || key[i] == KEY_MARKER_SEP)
			return i;
	return len;
}
