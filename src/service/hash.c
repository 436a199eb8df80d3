/*
 * hash.c - FNV-1a, 64 bits: the same value for the same bytes in every
 * process and on every host, which is what an ETag needs. Not for
 * anything an attacker chooses to collide.
 */
#include "service.h"

uint64_t
svc_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 14695981039346656037ULL;

	while (len-- > 0)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}
