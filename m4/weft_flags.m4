dnl WEFT_CHECK_CFLAG(FLAG, [ACTION-IF-OK]) - run ACTION if $CC accepts FLAG
dnl (with -Werror, so that unknown warnings are not silently accepted).
AC_DEFUN([WEFT_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([weft_cv], [weft_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [weft_cv], [
    weft_save_CFLAGS="$CFLAGS"
    CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AS_VAR_SET([weft_cv], [yes])], [AS_VAR_SET([weft_cv], [no])])
    CFLAGS="$weft_save_CFLAGS"])
  AS_VAR_IF([weft_cv], [yes], [$2])
  AS_VAR_POPDEF([weft_cv])
])
