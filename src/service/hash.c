/*
 * hash.c - FNV-1a, 64 bits (offset basis 14695981039346656037, prime
 * 1099511628211): the same value for the same bytes in every process and
 * on every host, which is what an ETag and a slot of the shared metrics
 * table need. Not for anything an attacker chooses to collide.
 */
#include "service.h"

uint64_t
svc_hash_add(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len-- > 0)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

uint64_t
svc_hash(const void *data, size_t len)
{
	return svc_hash_add(SVC_HASH_INIT, data, len);
}
