/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * stdint.h for the kernel build of the core: ual.h includes <stdint.h>,
 * which kbuild (-nostdinc) does not provide; linux/types.h has the types.
 */
#ifndef UALMOCK_SHIM_STDINT_H
#define UALMOCK_SHIM_STDINT_H
#include <linux/types.h>
#endif
