/*
 * bsonjson.c - BSON documents to JSON as the article's services showed
 * them (ObjectIds as 24-hex strings), and JSON to BSON for loading data.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "service.h"

/* Deeper documents are not ours: they could only come from elsewhere. */
#define MAX_DEPTH 32

static cJSON *value_to_json(const bson_iter_t *it, int depth);

static cJSON *
container_to_json(const bson_iter_t *it, bool array, int depth)
{
	bson_iter_t child;
	cJSON *out;

	out = array ? cJSON_CreateArray() : cJSON_CreateObject();
	if (depth > MAX_DEPTH || !bson_iter_recurse(it, &child))
		return out;
	while (bson_iter_next(&child)) {
		cJSON *v = value_to_json(&child, depth + 1);

		if (v == NULL)
			continue;
		if (array)
			cJSON_AddItemToArray(out, v);
		else
			cJSON_AddItemToObject(out, bson_iter_key(&child), v);
	}
	return out;
}

static cJSON *
value_to_json(const bson_iter_t *it, int depth)
{
	char buf[64];
	uint32_t len;
	const char *s;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_DOUBLE:
		return cJSON_CreateNumber(bson_iter_double(it));
	case BSON_TYPE_INT32:
		return cJSON_CreateNumber(bson_iter_int32(it));
	case BSON_TYPE_INT64:
		return cJSON_CreateNumber((double)bson_iter_int64(it));
	case BSON_TYPE_UTF8:
		s = bson_iter_utf8(it, &len);
		return cJSON_CreateString(s);
	case BSON_TYPE_DOCUMENT:
		return container_to_json(it, false, depth);
	case BSON_TYPE_ARRAY:
		return container_to_json(it, true, depth);
	case BSON_TYPE_OID:
		bson_oid_to_string(bson_iter_oid(it), buf);
		return cJSON_CreateString(buf);
	case BSON_TYPE_BOOL:
		return cJSON_CreateBool(bson_iter_bool(it));
	case BSON_TYPE_DATE_TIME:
		svc_iso_time(bson_iter_date_time(it), buf, sizeof buf);
		return cJSON_CreateString(buf);
	case BSON_TYPE_DECIMAL128: {
		bson_decimal128_t dec;
		char dbuf[BSON_DECIMAL128_STRING];

		bson_iter_decimal128(it, &dec);
		bson_decimal128_to_string(&dec, dbuf);
		return cJSON_CreateString(dbuf);
	}
	case BSON_TYPE_NULL:
	case BSON_TYPE_UNDEFINED:
		return cJSON_CreateNull();
	default:
		/* Binary, regex, code...: nothing the services store. */
		return NULL;
	}
}

cJSON *
svc_bson_to_json(const bson_t *doc)
{
	bson_iter_t it;
	cJSON *out = cJSON_CreateObject();

	if (!bson_iter_init(&it, doc))
		return out;
	while (bson_iter_next(&it)) {
		cJSON *v = value_to_json(&it, 1);

		if (v != NULL)
			cJSON_AddItemToObject(out, bson_iter_key(&it), v);
	}
	return out;
}

/* BSON keys and strings are UTF-8: libbson calls a document with any
 * other key invalid, and the driver refuses to store other strings. */
static bool
utf8(const char *s)
{
	return bson_utf8_validate(s, strlen(s), false);
}

/* Data, not an operator, and text the database takes. */
static bool
storable_key(const char *key)
{
	return key[0] != '$' && utf8(key);
}

static bool append_json(bson_t *out, const char *key, const cJSON *v,
    int depth);

static bool
append_container(bson_t *out, const char *key, const cJSON *v, int depth)
{
	const cJSON *item;
	bson_t child;
	char idx[16];
	const char *k;
	int i = 0;
	bool ok = true;

	if (depth > MAX_DEPTH)
		return false;
	if (cJSON_IsArray(v))
		bson_append_array_begin(out, key, -1, &child);
	else
		bson_append_document_begin(out, key, -1, &child);
	cJSON_ArrayForEach(item, v) {
		if (cJSON_IsArray(v)) {
			bson_uint32_to_string((uint32_t)i++, &k, idx, sizeof idx);
		} else {
			k = item->string;
			if (!storable_key(k))
				ok = false;
		}
		if (ok)
			ok = append_json(&child, k, item, depth + 1);
	}
	if (cJSON_IsArray(v))
		bson_append_array_end(out, &child);
	else
		bson_append_document_end(out, &child);
	return ok;
}

static bool
append_json(bson_t *out, const char *key, const cJSON *v, int depth)
{
	double d;

	if (cJSON_IsString(v))
		return utf8(v->valuestring) &&
		    bson_append_utf8(out, key, -1, v->valuestring, -1);
	if (cJSON_IsBool(v))
		return bson_append_bool(out, key, -1, cJSON_IsTrue(v));
	if (cJSON_IsNull(v))
		return bson_append_null(out, key, -1);
	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 2147483648.0)
			return bson_append_int32(out, key, -1, (int32_t)d);
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			return bson_append_int64(out, key, -1, (int64_t)d);
		return bson_append_double(out, key, -1, d);
	}
	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		return append_container(out, key, v, depth);
	return false;
}

bool
svc_json_to_bson(const cJSON *json, bson_t *out)
{
	const cJSON *item;
	bson_oid_t oid;

	if (!cJSON_IsObject(json))
		return false;
	cJSON_ArrayForEach(item, json) {
		const char *k = item->string;

		if (!storable_key(k))
			return false;
		if (strcmp(k, "_id") == 0 && cJSON_IsString(item) &&
		    svc_is_oid(item->valuestring)) {
			bson_oid_init_from_string(&oid, item->valuestring);
			if (!bson_append_oid(out, "_id", -1, &oid))
				return false;
		} else if (!append_json(out, k, item, 1))
			return false;
	}
	return true;
}
