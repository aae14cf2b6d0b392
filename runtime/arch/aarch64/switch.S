/*
 * switch.S (AArch64, AAPCS64) - the task context switch.
 *
 * void *weft__ctx_switch(void **save_sp, void *load_sp, void *xfer);
 *
 * Saves the callee-saved registers (x19-x28, fp x29, lr x30, d8-d15) and
 * the FPCR (rounding mode and exception enables are preserved across calls
 * by the ABI) in a 176-byte frame on the current stack, stores sp into
 * *save_sp, loads load_sp, restores that frame and returns xfer (x0) to
 * the resumed context.
 *
 * Frame at *save_sp, from low to high addresses:
 *   0: x19 x20  16: x21 x22  32: x23 x24  48: x25 x26  64: x27 x28
 *   80: x29 x30  96: d8 d9  112: d10 d11  128: d12 d13  144: d14 d15
 *   160: fpcr  168: pad
 * runtime/ctx.c builds the same frame for a new context: x30 points at
 * weft__ctx_start and x19 holds the C entry function.
 */
	.text
	.globl	weft__ctx_switch
	.hidden	weft__ctx_switch
	.type	weft__ctx_switch,%function
	.p2align 4
weft__ctx_switch:
	.cfi_startproc
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	mov	sp, x1
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	mov	x0, x2
	ret
	.cfi_endproc
	.size	weft__ctx_switch, .-weft__ctx_switch

/* First code of every new context: entry(xfer) with entry in x19. */
	.globl	weft__ctx_start
	.hidden	weft__ctx_start
	.type	weft__ctx_start,%function
	.p2align 4
weft__ctx_start:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	blr	x19
	brk	#0
	.cfi_endproc
	.size	weft__ctx_start, .-weft__ctx_start

	.section .note.GNU-stack,"",%progbits
