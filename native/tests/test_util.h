/* SPDX-License-Identifier: Apache-2.0 */
/* Shared includes and helpers of the cmocka suites. */
#ifndef UAL_TEST_UTIL_H
#define UAL_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/compat.h"

/* A small deterministic PRNG (xorshift64*), so failures reproduce. */
static inline u64 test_rand(u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

#define KiB(x) ((u64)(x) << 10)
#define MiB(x) ((u64)(x) << 20)
#define GiB(x) ((u64)(x) << 30)

/* Assert that a message contains a substring. */
#define assert_msg_contains(msg, sub)						\
	do {									\
		if (!strstr((msg), (sub)))					\
			fail_msg("message \"%s\" lacks \"%s\"", (msg), (sub));	\
	} while (0)

#endif
