/* wgneg.c - child program for check_fatal: a wait group goes negative. */
#include <weft.h>

static void main_task(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;
	(void)arg;
	weft_wg_add(&wg, 1);
	weft_wg_done(&wg);
	weft_wg_done(&wg);
}

int main(void)
{
	return weft_main(main_task, NULL) == 0 ? 0 : 1;
}
