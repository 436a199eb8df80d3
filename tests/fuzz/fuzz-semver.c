/*
 * fuzz-semver.c - versions and version ranges (semver.c), which every
 * call parses from its caller and every registry entry from the database.
 *
 * Input: a range on the first line, then up to three versions, one a line.
 * Properties: nothing crashes; a version prints as one that parses back
 * equal; precedence is an order (a == a, antisymmetric, transitive); the
 * range "OP v" made from a version v holds v exactly when OP says so.
 */
#include <stdio.h>
#include <string.h>

#include "vd-private.h"
#include "fuzz.h"

static int
sign(int c)
{
	return (c > 0) - (c < 0);
}

/* Whether the range "op" followed by v holds v. */
static bool
range_holds(const char *op, const vd_version_t *v)
{
	char spec[256];
	vd_range_t *r;
	bool match;
	int n;

	n = snprintf(spec, sizeof spec, "%s", op);
	vd_version_format(v, spec + n, sizeof spec - (size_t)n);
	r = vd_range_new(spec, NULL);
	FUZZ_ASSERT(r != NULL);
	FUZZ_ASSERT(strcmp(vd_range_spec(r), spec) == 0);
	match = vd_range_match(r, v);
	vd_range_destroy(r);
	return match;
}

static void
check_version(const vd_version_t *v)
{
	char text[256];
	vd_version_t back;
	int n;

	n = vd_version_format(v, text, sizeof text);
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof text);
	FUZZ_ASSERT(vd_version_parse(text, &back, NULL) == VD_OK);
	FUZZ_ASSERT(vd_version_compare(v, &back) == 0);
	FUZZ_ASSERT(vd_version_compare(v, v) == 0);
	FUZZ_ASSERT(range_holds("", v) && range_holds("=", v) &&
	    range_holds("^", v) && range_holds("~", v) &&
	    range_holds(">=", v) && range_holds("<=", v));
	FUZZ_ASSERT(!range_holds("<", v) && !range_holds(">", v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields ff;
	vd_version_t v[3];
	bool ok[3];
	vd_range_t *range;
	vd_error_t err;
	int i, j, k;

	fuzz_split(&ff, data, size, 4);
	range = vd_range_new(ff.f[0], &err);
	FUZZ_ASSERT(range != NULL || err.code == VD_EVERSION);
	for (i = 0; i < 3; i++) {
		ok[i] = vd_version_parse(ff.f[i + 1], &v[i], NULL) == VD_OK;
		if (!ok[i])
			continue;
		check_version(&v[i]);
		(void)vd_range_match(range, &v[i]);
	}
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			if (!ok[i] || !ok[j])
				continue;
			FUZZ_ASSERT(sign(vd_version_compare(&v[i], &v[j])) ==
			    -sign(vd_version_compare(&v[j], &v[i])));
			for (k = 0; k < 3; k++)
				if (ok[k] &&
				    vd_version_compare(&v[i], &v[j]) <= 0 &&
				    vd_version_compare(&v[j], &v[k]) <= 0)
					FUZZ_ASSERT(vd_version_compare(&v[i],
					    &v[k]) <= 0);
		}
	vd_range_destroy(range);
	fuzz_free(&ff);
	return 0;
}
