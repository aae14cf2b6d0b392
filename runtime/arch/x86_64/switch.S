/*
 * switch.S (x86-64, System V) - the task context switch.
 *
 * void *weft__ctx_switch(void **save_sp, void *load_sp, void *xfer);
 *
 * Pushes the callee-saved state of the caller (rbp, rbx, r12-r15, the
 * MXCSR control bits and the x87 control word, as the ABI requires) on the
 * current stack, stores the stack pointer into *save_sp, loads load_sp,
 * pops the state saved there and returns xfer into the resumed context (in
 * rax, and in rdi for a context that starts fresh in weft__ctx_start).
 * Everything else is caller-saved, so the compiler has already spilled it.
 *
 * Frame at *save_sp, from low to high addresses:
 *   0: mxcsr (4 bytes)  4: x87 cw (2 bytes)  8: r15  16: r14  24: r13
 *   32: r12  40: rbx  48: rbp  56: return address
 * runtime/ctx.c builds the same frame for a new context, with the return
 * address pointing at weft__ctx_start and r12 holding the C entry function.
 */
	.text
	.globl	weft__ctx_switch
	.hidden	weft__ctx_switch
	.type	weft__ctx_switch,@function
	.p2align 4
weft__ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsp, %r8
	movq	%rsi, %rsp
	/* Loading the control words stalls the pipeline; they almost never
	 * differ between tasks, so load them only when they do. */
	movl	(%rsp), %eax
	cmpl	(%r8), %eax
	je	1f
	ldmxcsr	(%rsp)
1:	movzwl	4(%rsp), %eax
	cmpw	4(%r8), %ax
	je	2f
	fldcw	4(%rsp)
2:
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	movq	%rdx, %rax
	movq	%rdx, %rdi
	ret
	.cfi_endproc
	.size	weft__ctx_switch, .-weft__ctx_switch

/*
 * First code of every new context: call entry(xfer) with entry in r12.
 * The entry never returns; the return address slot is left undefined so
 * that unwinders and debuggers stop here instead of walking off the stack.
 */
	.globl	weft__ctx_start
	.hidden	weft__ctx_start
	.type	weft__ctx_start,@function
	.p2align 4
weft__ctx_start:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	callq	*%r12
	ud2
	.cfi_endproc
	.size	weft__ctx_start, .-weft__ctx_start

	.section .note.GNU-stack,"",@progbits
