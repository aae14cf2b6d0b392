/*
 * wgneg.c - child program for check_fatal: misuse of a synchronization
 * object, which must end the program with a message and exit status 2.
 *
 *   wgneg          a wait group goes negative
 *   wgneg unlock   a mutex that is not locked is unlocked
 */
#include <string.h>

#include <weft.h>

static void main_wg(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;
	(void)arg;
	weft_wg_add(&wg, 1);
	weft_wg_done(&wg);
	weft_wg_done(&wg);
}

static void main_unlock(void *arg)
{
	weft_mutex mu = WEFT_MUTEX_INIT;
	(void)arg;
	weft_mutex_lock(&mu);
	weft_mutex_unlock(&mu);
	weft_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
	weft_fn fn = argc > 1 && strcmp(argv[1], "unlock") == 0 ? main_unlock : main_wg;

	return weft_main(fn, NULL) == 0 ? 0 : 1;
}
