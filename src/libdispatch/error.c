/*
 * error.c - result codes, their descriptions and the error out-parameter.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vd-private.h"

const char *
vd_strerror(vd_code_t code)
{
	switch (code) {
	case VD_OK:
		return "success";
	case VD_EINVAL:
		return "invalid argument";
	case VD_ENOMEM:
		return "out of memory";
	case VD_EVERSION:
		return "malformed version or version range";
	case VD_EREGISTRY:
		return "service registry unavailable";
	case VD_ENOSERVICE:
		return "no service available";
	case VD_ECLIENT:
		return "request rejected by the service (4xx)";
	case VD_ETRANSPORT:
		return "connection failed or timed out";
	case VD_EHTTP:
		return "unexpected HTTP status";
	case VD_EREPLY:
		return "unreadable reply";
	case VD_ETIMEOUT:
		return "deadline passed";
	case VD_EBUDGET:
		return "retry budget spent";
	case VD_ESIGNATURE:
		return "event signature missing or wrong";
	case VD_ESTALE:
		return "event timestamp outside the tolerance";
	case VD_EREFUSED:
		return "URL not allowed";
	case VD_ECANCELED:
		return "canceled";
	case VD_ELAST:
		break;
	}
	return "unknown error";
}

void
vd_free(void *ptr)
{
	free(ptr);
}

vd_code_t
vd_error_set(vd_error_t *error, vd_code_t code, int http_status,
    const char *fmt, ...)
{
	va_list ap;

	if (error == NULL)
		return code;
	error->code = code;
	error->http_status = http_status;
	va_start(ap, fmt);
	vsnprintf(error->message, sizeof error->message, fmt, ap);
	va_end(ap);
	return code;
}
