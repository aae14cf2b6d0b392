/*
 * error.c - weft_strerror(): names for the negative errno codes weft returns.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "weft.h"

WEFT_API const char *weft_strerror(int err)
{
	const char *s;

	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument";
	case -ENOMEM:
		return "out of memory";
	case -EAGAIN:
		return "resource temporarily unavailable";
	case -EBUSY:
		return "busy";
	case -EPIPE:
		return "channel closed";
	case -ETIMEDOUT:
		return "timed out";
	default:
		break;
	}
	if (err >= 0)
		return "unknown error (not a negative errno code)";
	s = strerrordesc_np(-err);
	return s ? s : "unknown error";
}
