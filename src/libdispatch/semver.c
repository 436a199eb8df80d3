/*
 * semver.c - semantic versions (semver.org 2.0.0) and version ranges.
 *
 * A range is a list of comparator sets joined by "||"; a version matches
 * when every comparator of some set holds. The short forms (bare, "^",
 * "~") are rewritten into comparators when parsed, as npm does, so that
 * matching is one simple loop.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd-private.h"

enum vd_op { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE };

struct vd_comparator {
	enum vd_op op;
	vd_version_t version;
	size_t set;          /* which "||" alternative it belongs to */
	bool implied;        /* an upper bound we added: not "named" by the
	                        user for the pre-release rule */
};

struct vd_range {
	char *spec;
	size_t n_sets;
	struct vd_comparator *comparators;
	size_t n;
	size_t cap;
};

/* Parses a decimal number without leading zeros, as semver requires of
 * version numbers. Returns the characters used, 0 if none or overflow. */
static size_t
parse_number(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (isdigit((unsigned char)s[i])) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
		i++;
	}
	if (i == 0 || (i > 1 && s[0] == '0'))
		return 0;
	*out = v;
	return i;
}

/* Checks dot-separated identifiers of [0-9A-Za-z-]; numeric ones must not
 * have leading zeros when numeric_rule is set (pre-release, not build). */
static bool
valid_identifiers(const char *s, size_t len, bool numeric_rule)
{
	size_t start = 0;

	if (len == 0)
		return false;
	while (start <= len) {
		size_t end = start;
		bool numeric = true;

		while (end < len && s[end] != '.') {
			unsigned char c = (unsigned char)s[end];

			if (!isalnum(c) && c != '-')
				return false;
			if (!isdigit(c))
				numeric = false;
			end++;
		}
		if (end == start)
			return false;
		if (numeric_rule && numeric && end - start > 1 &&
		    s[start] == '0')
			return false;
		start = end + 1;
	}
	return true;
}

/* Parses the "-PRERELEASE" and "+BUILD" tail at s into version; the whole
 * of s must be used. */
static bool
parse_tail(const char *s, vd_version_t *version)
{
	const char *plus;
	size_t pre_len;

	version->prerelease[0] = '\0';
	if (*s == '\0')
		return true;
	plus = strchr(s, '+');
	if (*s == '-') {
		s++;
		pre_len = plus != NULL ? (size_t)(plus - s) : strlen(s);
		if (!valid_identifiers(s, pre_len, true) ||
		    pre_len >= sizeof version->prerelease)
			return false;
		memcpy(version->prerelease, s, pre_len);
		version->prerelease[pre_len] = '\0';
		s += pre_len;
	}
	if (*s == '\0')
		return true;
	if (*s != '+')
		return false;
	return valid_identifiers(s + 1, strlen(s + 1), false);
}

vd_code_t
vd_version_parse(const char *text, vd_version_t *version, vd_error_t *error)
{
	vd_version_t v;
	const char *s = text;
	size_t n;

	if (version != NULL)
		memset(version, 0, sizeof *version);
	if (text == NULL || version == NULL)
		return vd_error_set(error, VD_EINVAL, 0,
		    "vd_version_parse: NULL argument");
	memset(&v, 0, sizeof v);
	if (*s == 'v')
		s++;
	if ((n = parse_number(s, &v.major)) == 0 || s[n] != '.')
		goto bad;
	s += n + 1;
	if ((n = parse_number(s, &v.minor)) == 0 || s[n] != '.')
		goto bad;
	s += n + 1;
	if ((n = parse_number(s, &v.patch)) == 0)
		goto bad;
	if (!parse_tail(s + n, &v))
		goto bad;
	*version = v;
	return VD_OK;
bad:
	return vd_error_set(error, VD_EVERSION, 0,
	    "Not a semantic version: \"%s\"", text);
}

/* Compares two dot-separated pre-release strings by semver's rule 11. */
static int
compare_prerelease(const char *a, const char *b)
{
	if (*a == '\0' || *b == '\0')
		return (*a == '\0') - (*b == '\0');   /* none is higher */
	for (;;) {
		size_t la = strcspn(a, "."), lb = strcspn(b, ".");
		bool na = strspn(a, "0123456789") == la;
		bool nb = strspn(b, "0123456789") == lb;
		int c;

		if (na && nb) {
			/* No leading zeros: the longer number is larger. */
			c = la != lb ? (la < lb ? -1 : 1) : strncmp(a, b, la);
		} else if (na != nb) {
			c = na ? -1 : 1;
		} else {
			c = strncmp(a, b, la < lb ? la : lb);
			if (c == 0 && la != lb)
				c = la < lb ? -1 : 1;
		}
		if (c != 0)
			return c < 0 ? -1 : 1;
		a += la;
		b += lb;
		if (*a == '\0' || *b == '\0')
			return (*a != '\0') - (*b != '\0');   /* more is higher */
		a++;
		b++;
	}
}

int
vd_version_compare(const vd_version_t *a, const vd_version_t *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return compare_prerelease(a->prerelease, b->prerelease);
}

int
vd_version_format(const vd_version_t *version, char *buf, size_t size)
{
	return snprintf(buf, size, "%" PRIu64 ".%" PRIu64 ".%" PRIu64 "%s%s",
	    version->major, version->minor, version->patch,
	    version->prerelease[0] != '\0' ? "-" : "", version->prerelease);
}

/* Parses a possibly partial version ("1", "1.2", "1.x", "*", "1.2.3-rc.1")
 * into v; *parts is how many numbers it gave (0 to 3). Missing numbers are
 * zero. A pre-release needs all three numbers. */
static bool
parse_partial(const char *s, vd_version_t *v, int *parts)
{
	uint64_t *field[3] = { &v->major, &v->minor, &v->patch };
	int i;

	memset(v, 0, sizeof *v);
	*parts = 0;
	if (*s == 'v')
		s++;
	for (i = 0; i < 3; i++) {
		size_t n;

		if ((*s == 'x' || *s == 'X' || *s == '*') &&
		    (s[1] == '\0' || s[1] == '.')) {
			/* A wildcard ends the numbers; only more may follow. */
			for (s++; *s == '.'; s += 2)
				if (strchr("xX*", s[1]) == NULL || s[1] == '\0')
					return false;
			return *s == '\0';
		}
		if ((n = parse_number(s, field[i])) == 0)
			return false;
		s += n;
		(*parts)++;
		if (*s != '.')
			break;
		if (i == 2)
			return false;
		s++;
	}
	if (*parts < 3)
		return *s == '\0';
	return parse_tail(s, v);
}

static bool
add_comparator(vd_range_t *r, enum vd_op op, const vd_version_t *v,
    bool implied)
{
	if (r->n == r->cap) {
		size_t cap = r->cap != 0 ? r->cap * 2 : 8;
		struct vd_comparator *c;

		c = realloc(r->comparators, cap * sizeof *c);
		if (c == NULL)
			return false;
		r->comparators = c;
		r->cap = cap;
	}
	r->comparators[r->n].op = op;
	r->comparators[r->n].version = *v;
	r->comparators[r->n].set = r->n_sets;
	r->comparators[r->n].implied = implied;
	r->n++;
	return true;
}

/* Adds "< major.minor.patch-0", the lowest version above a family; no
 * bound when the number would overflow (nothing is above it anyway). */
static bool
add_upper(vd_range_t *r, uint64_t major, uint64_t minor, uint64_t patch)
{
	vd_version_t v;

	memset(&v, 0, sizeof v);
	v.major = major;
	v.minor = minor;
	v.patch = patch;
	strcpy(v.prerelease, "0");
	return add_comparator(r, OP_LT, &v, true);
}

/* The operators a token may start with; the short forms are rewritten
 * into comparators. */
enum vd_token_op { T_BARE, T_EQ, T_LT, T_LE, T_GT, T_GE, T_CARET, T_TILDE };

/* Turns one token (operator and version) into comparators of the current
 * set. Returns VD_OK, VD_EVERSION or VD_ENOMEM. */
static vd_code_t
parse_token(vd_range_t *r, const char *tok)
{
	static const struct {
		const char *text;
		enum vd_token_op op;
	} ops[] = {     /* longest first */
		{ "<=", T_LE }, { ">=", T_GE }, { "<", T_LT }, { ">", T_GT },
		{ "=", T_EQ }, { "^", T_CARET }, { "~", T_TILDE },
	};
	static const enum vd_op plain[] = {
		[T_EQ] = OP_EQ, [T_LT] = OP_LT, [T_LE] = OP_LE,
		[T_GT] = OP_GT, [T_GE] = OP_GE,
	};
	enum vd_token_op op = T_BARE;
	vd_version_t v;
	int parts;
	size_t i;
	bool ok = true;

	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		size_t len = strlen(ops[i].text);

		if (strncmp(tok, ops[i].text, len) == 0) {
			op = ops[i].op;
			tok += len;
			break;
		}
	}
	if (!parse_partial(tok, &v, &parts))
		return VD_EVERSION;
	if (parts == 0) {
		/* "*", "x": any version; "<*" and ">*" would match none. */
		return op == T_LT || op == T_GT ? VD_EVERSION : VD_OK;
	}
	switch (op) {
	case T_BARE:
		/* Same major, this version or newer; and, as a last resort,
		 * older patches of the same minor: a patch release keeps the
		 * API, so the article's call at 1.0.1 can fall back to 1.0.0.
		 * Newest-first order tries every version >= v before those. */
		if (v.prerelease[0] == '\0')
			v.patch = 0;
		ok = add_comparator(r, OP_GE, &v, false) &&
		    (v.major == UINT64_MAX || add_upper(r, v.major + 1, 0, 0));
		break;
	case T_TILDE:
		ok = add_comparator(r, OP_GE, &v, false);
		if (ok && parts == 1 && v.major != UINT64_MAX)
			ok = add_upper(r, v.major + 1, 0, 0);
		else if (ok && parts > 1 && v.minor != UINT64_MAX)
			ok = add_upper(r, v.major, v.minor + 1, 0);
		break;
	case T_CARET:
		/* Up to the next change of the left-most non-zero number
		 * given: ^1.2.3 <2.0.0, ^0.2.3 <0.3.0, ^0.0.3 <0.0.4. */
		ok = add_comparator(r, OP_GE, &v, false);
		if (!ok)
			break;
		if (v.major != 0 || parts == 1)
			ok = v.major == UINT64_MAX ||
			    add_upper(r, v.major + 1, 0, 0);
		else if (v.minor != 0 || parts == 2)
			ok = v.minor == UINT64_MAX ||
			    add_upper(r, 0, v.minor + 1, 0);
		else
			ok = v.patch == UINT64_MAX ||
			    add_upper(r, 0, 0, v.patch + 1);
		break;
	default:
		ok = add_comparator(r, plain[op], &v, false);
		break;
	}
	return ok ? VD_OK : VD_ENOMEM;
}

/* Parses one alternative (between "||") of len bytes at s. */
static vd_code_t
parse_set(vd_range_t *r, const char *s, size_t len)
{
	char tok[256];
	size_t i = 0;

	while (i < len) {
		size_t n = 0;
		vd_code_t code;

		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i == len)
			break;
		/* An operator may stand apart from its version: ">= 1.0.0". */
		while (i < len && strchr("<>=^~", s[i]) != NULL &&
		    n < sizeof tok - 1)
			tok[n++] = s[i++];
		while (n > 0 && i < len && isspace((unsigned char)s[i]))
			i++;
		while (i < len && !isspace((unsigned char)s[i])) {
			if (n == sizeof tok - 1)
				return VD_EVERSION;
			tok[n++] = s[i++];
		}
		tok[n] = '\0';
		if ((code = parse_token(r, tok)) != VD_OK)
			return code;
	}
	r->n_sets++;
	return VD_OK;
}

vd_range_t *
vd_range_new(const char *spec, vd_error_t *error)
{
	vd_range_t *r;
	const char *s;
	vd_code_t code = VD_OK;

	if (spec == NULL)
		spec = "";
	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->spec = strdup(spec)) == NULL) {
		vd_range_destroy(r);
		vd_error_set(error, VD_ENOMEM, 0, "out of memory");
		return NULL;
	}
	for (s = spec; code == VD_OK; ) {
		const char *bar = strstr(s, "||");
		size_t len = bar != NULL ? (size_t)(bar - s) : strlen(s);

		code = parse_set(r, s, len);
		if (bar == NULL)
			break;
		s = bar + 2;
	}
	if (code != VD_OK) {
		vd_range_destroy(r);
		if (code == VD_ENOMEM)
			vd_error_set(error, code, 0, "out of memory");
		else
			vd_error_set(error, code, 0,
			    "Not a version range: \"%s\"", spec);
		return NULL;
	}
	return r;
}

static bool
holds(const struct vd_comparator *c, const vd_version_t *v)
{
	int cmp = vd_version_compare(v, &c->version);

	switch (c->op) {
	case OP_EQ:
		return cmp == 0;
	case OP_LT:
		return cmp < 0;
	case OP_LE:
		return cmp <= 0;
	case OP_GT:
		return cmp > 0;
	case OP_GE:
		return cmp >= 0;
	}
	return false;
}

bool
vd_range_match(const vd_range_t *range, const vd_version_t *version)
{
	size_t set, i;

	if (range == NULL || version == NULL)
		return false;
	for (set = 0; set < range->n_sets; set++) {
		bool all = true;
		bool named = version->prerelease[0] == '\0';

		for (i = 0; i < range->n && all; i++) {
			const struct vd_comparator *c = &range->comparators[i];

			if (c->set != set)
				continue;
			all = holds(c, version);
			/* npm's rule: a pre-release is chosen only by a set
			 * that names a pre-release of the same release, so
			 * that no one gets a pre-release by accident. */
			if (!c->implied && c->version.prerelease[0] != '\0' &&
			    c->version.major == version->major &&
			    c->version.minor == version->minor &&
			    c->version.patch == version->patch)
				named = true;
		}
		if (all && named)
			return true;
	}
	return false;
}

const char *
vd_range_spec(const vd_range_t *range)
{
	return range != NULL ? range->spec : "";
}

void
vd_range_destroy(vd_range_t *range)
{
	if (range == NULL)
		return;
	free(range->comparators);
	free(range->spec);
	free(range);
}
