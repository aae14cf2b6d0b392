/*
 * testutil.h - helpers shared by the Check suites that run the runtime.
 *
 * Every test case runs weft_main() itself, inside the process Check forks
 * for it (so a broken case cannot poison the next one); with CK_FORK=no the
 * cases run one after another in one process, which weft_main() supports.
 */
#ifndef WEFT_TESTUTIL_H
#define WEFT_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft.h>

/* Run @fn as the main task with WEFT_PROCS=@procs; fail the case on error. */
static inline void run_main(int procs, weft_fn fn, void *arg)
{
	char buf[16];
	int err;

	snprintf(buf, sizeof(buf), "%d", procs);
	setenv("WEFT_PROCS", buf, 1);
	err = weft_main(fn, arg);
	ck_assert_msg(err == 0, "weft_main: %s", weft_strerror(err));
}

/*
 * Spawn or fail the case. (Check's ck_assert sends a message to the parent
 * process even when it passes, so loops call ck_abort_msg only on failure.)
 */
static inline void go_ok(weft_fn fn, void *arg)
{
	int err = weft_go(fn, arg);

	if (err != 0)
		ck_abort_msg("weft_go: %s", weft_strerror(err));
}

/* A standard main() for a suite. */
#define WEFT_CHECK_MAIN(suite_fn)                                                   \
	int main(void)                                                             \
	{                                                                          \
		SRunner *sr = srunner_create(suite_fn());                          \
		int failed;                                                        \
		srunner_run_all(sr, CK_NORMAL);                                    \
		failed = srunner_ntests_failed(sr);                                \
		srunner_free(sr);                                                  \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                       \
	}

#endif /* WEFT_TESTUTIL_H */
