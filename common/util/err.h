/*
 * err.h: the small set of return codes every module shares.
 *
 * Functions return int: 0 is success, a negative CDN_E* value is a failure.
 * A raw errno is never returned; callers that need it copy errno right after
 * the failing call and hand it to the logger (log_errno).
 */
#ifndef CDN_ERR_H
#define CDN_ERR_H

enum cdn_err {
	CDN_OK = 0,
	CDN_ERR = -1,      /* generic failure, already logged */
	CDN_AGAIN = -2,    /* not ready yet; try again later */
	CDN_DECLINED = -3, /* the request is not for this handler */
	CDN_NOMEM = -4,    /* out of memory for bodies (structural OOM aborts) */
	CDN_INVAL = -5,    /* bad input: caller gets a clear error */
	CDN_NOTFOUND = -6,
	CDN_TOOBIG = -7,
	CDN_CORRUPT = -8,  /* stored data failed its checksum; it was dropped */
};

#endif
