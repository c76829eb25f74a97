/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* stddef.h for the kernel build of the core (see stdint.h). */
#ifndef UALMOCK_SHIM_STDDEF_H
#define UALMOCK_SHIM_STDDEF_H
#include <linux/stddef.h>
#include <linux/types.h>
#endif
