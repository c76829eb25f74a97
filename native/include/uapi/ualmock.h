/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR Apache-2.0 */
/*
 * ualmock.h - user API of the ualmock kernel module (/dev/ualmock).
 *
 * ualmock is a mock UAL fabric in the kernel: the same semantics as
 * native/include/ual.h, implemented by the same fabric core, but with real
 * kernel code paths, page tables in kernel pages and real pinned pages of
 * the caller (pin_user_pages_fast), so host PFNs are the real PFNs.
 *
 * One fabric per loaded module (module parameters: accels, mem, mode,
 * pt_pool, dma_bits, tlb, faults). Every open file is one handle: it drives
 * accelerator 0 until UALM_IOC_ATTACH picks another, and everything it
 * creates (IOVA ranges and their links, memory blocks, pinned buffers,
 * grants) is released when the file is released, even if the process dies
 * mid-call.
 *
 * Every ioctl takes a pointer to its struct, which starts with
 * struct ualm_hdr. The caller sets hdr.argsz to sizeof the struct it passes
 * (as VFIO does, so structs can grow); the module rejects a smaller argsz
 * with -EINVAL and ignores bytes past its own size (they must be zero).
 * On failure the ioctl returns -1 with errno set to the UAL_E* code negated
 * (the Linux errno) and, when the struct could be read, hdr.msg holds a
 * message naming the problem. Nothing changes on failure. Reserved fields
 * must be zero.
 *
 * Arrays (PFNs, addresses, mappings, faults) are passed by user pointer. One
 * call takes at most UALM_MAX_BATCH elements: the module copies them into a
 * buffer allocated when the file was opened, so link and unlink on a
 * preallocated range allocate nothing, and userspace splits larger batches.
 */
#ifndef _UAPI_UALMOCK_H
#define _UAPI_UALMOCK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define UALM_ABI_VERSION	1
#define UALM_DEVICE		"/dev/ualmock"
#define UALM_MSG_LEN		160
#define UALM_MAX_BATCH		65536	/* elements per array argument */
#define UALM_BACKEND_LEN	16

/* Start of every ioctl struct. */
struct ualm_hdr {
	__u32 argsz;			/* in: sizeof the whole struct */
	__u32 flags;			/* in: must be 0 */
	char msg[UALM_MSG_LEN];		/* out: message of a failure */
};

/* Fabric address, as struct ual_faddr. */
struct ualm_faddr {
	__u64 addr;
	__u32 route;
	__u32 rsvd;
};

/* UALM_IOC_ATTACH: choose the accelerator this file drives, only before the
 * file created anything (-EBUSY after). @abi: in, the caller's
 * UALM_ABI_VERSION; a mismatch fails with -EINVAL and a message. */
struct ualm_attach {
	struct ualm_hdr hdr;
	__u32 abi;
	__u32 accel;
};

/* UALM_IOC_QUERY: as struct ual_info. */
struct ualm_info {
	struct ualm_hdr hdr;
	__u32 abi_version;
	__u16 accel_id;
	__u16 num_accels;
	__u32 modes;
	__u32 phys_bits;
	__u32 dma_bits;
	__u32 pt_levels;
	__u64 pgsize_bitmap;
	__u64 mem_size;
	__u64 mem_free;
	__u64 pt_pool_pages;
	__u64 pt_pool_free;
	__u64 tlb_entries;
	__u64 iova_ranges;
	__u64 mapped_pages;
	__u64 grants;
	__u64 tlb_hits;
	__u64 tlb_misses;
	__u32 req_min;
	__u32 req_max;
	__u64 alloc_count;		/* ual_alloc_count() */
	char backend[UALM_BACKEND_LEN];
	__u32 fault_entries;		/* fault ring size (module parameter faults) */
	__u32 rsvd;
};

/* UALM_IOC_MEM_ALLOC / UALM_IOC_MEM_FREE. */
struct ualm_mem {
	struct ualm_hdr hdr;
	__u64 size;
	__u64 align;			/* alloc only */
	__u64 pfn;			/* alloc: out; free: in */
};

/* UALM_IOC_MEM_RW: CPU access to device memory of the local accelerator. */
#define UALM_RW_WRITE		(1u << 0)
struct ualm_mem_rw {
	struct ualm_hdr hdr;
	__u64 phys;
	__u64 buf;			/* user pointer */
	__u64 len;
	__u32 op;			/* 0 read, UALM_RW_WRITE write */
	__u32 rsvd;
};

/* UALM_IOC_MEM_REGISTER / UALM_IOC_MEM_UNREGISTER: pin a user buffer. */
struct ualm_register {
	struct ualm_hdr hdr;
	__u64 addr;			/* user address, 4 KiB aligned */
	__u64 len;			/* register only; len / 4096 <= UALM_MAX_BATCH */
	__u64 pfns;			/* register only: user pointer, out */
};

/* UALM_IOC_GRANT / UALM_IOC_REVOKE. */
struct ualm_grant {
	struct ualm_hdr hdr;
	__u32 target;
	__u32 initiator;
	__u64 pfn;
	__u64 npages;
	__u32 prot;			/* grant only */
	__u32 rsvd;
};

/* UALM_IOC_MAP_PFNS. */
struct ualm_map_pfns {
	struct ualm_hdr hdr;
	__u32 target;
	__u32 prot;
	__u64 n;
	__u64 pfns;			/* user pointer, in */
	__u64 addrs;			/* user pointer to n struct ualm_faddr, out */
};

/* UALM_IOC_IOVA_ALLOC / UALM_IOC_IOVA_FREE. */
struct ualm_iova {
	struct ualm_hdr hdr;
	__u64 size;			/* alloc only */
	__u32 flags;			/* alloc only: UAL_IOVA_PREALLOC */
	__u32 rsvd;
	__u64 iova;			/* alloc: out; free: in */
};

/* UALM_IOC_IOVA_LINK. */
struct ualm_link {
	struct ualm_hdr hdr;
	__u64 iova;
	__u64 offset;
	__u32 target;
	__u32 prot;
	__u64 n;
	__u64 pfns;			/* user pointer, in */
};

/* UALM_IOC_IOVA_SYNC / UALM_IOC_IOVA_UNLINK. */
struct ualm_part {
	struct ualm_hdr hdr;
	__u64 iova;
	__u64 offset;
	__u64 len;
};

/* UALM_IOC_DUMP: as ual_dump(); @out points to @max struct ualm_mapping. */
struct ualm_mapping {
	__u64 iova;
	__u64 phys;
	__u64 size;
	__u16 target;
	__u16 level;
	__u32 prot;
};

struct ualm_dump {
	struct ualm_hdr hdr;
	__u64 iova;
	__u64 len;
	__u64 max;
	__u64 out;			/* user pointer */
	__u64 count;			/* out */
};

/* UALM_IOC_TRANSLATE. */
struct ualm_translate {
	struct ualm_hdr hdr;
	__u32 initiator;
	__u32 access;
	struct ualm_faddr fa;
	/* out, as struct ual_xlate */
	__u16 target;
	__u16 rsvd;
	__u32 xflags;
	__u64 phys;
	__u64 page_size;
	__u32 prot;
	__u32 rsvd2;
};

/* UALM_IOC_COPY. */
struct ualm_copy {
	struct ualm_hdr hdr;
	__u32 initiator;
	__u32 rsvd;
	struct ualm_faddr dst;
	struct ualm_faddr src;
	__u64 len;
};

/* UALM_IOC_FAULT_READ: @out points to @max struct ualm_fault. */
struct ualm_fault {
	__u64 seq;
	__u64 addr;
	__u32 route;
	__u16 initiator;
	__u16 target;
	__u32 access;
	__u32 reason;
	__u32 flags;
	__u32 len;
};

struct ualm_fault_read {
	struct ualm_hdr hdr;
	__u32 max;
	__u32 nread;			/* out */
	__u64 out;			/* user pointer */
	__u64 lost;			/* out */
};

#define UALM_IOC_MAGIC		0xB7
#define UALM_IOC_ATTACH		_IOWR(UALM_IOC_MAGIC, 0x00, struct ualm_attach)
#define UALM_IOC_QUERY		_IOWR(UALM_IOC_MAGIC, 0x01, struct ualm_info)
#define UALM_IOC_MEM_ALLOC	_IOWR(UALM_IOC_MAGIC, 0x02, struct ualm_mem)
#define UALM_IOC_MEM_FREE	_IOWR(UALM_IOC_MAGIC, 0x03, struct ualm_mem)
#define UALM_IOC_MEM_RW		_IOWR(UALM_IOC_MAGIC, 0x04, struct ualm_mem_rw)
#define UALM_IOC_MEM_REGISTER	_IOWR(UALM_IOC_MAGIC, 0x05, struct ualm_register)
#define UALM_IOC_MEM_UNREGISTER	_IOWR(UALM_IOC_MAGIC, 0x06, struct ualm_register)
#define UALM_IOC_GRANT		_IOWR(UALM_IOC_MAGIC, 0x07, struct ualm_grant)
#define UALM_IOC_REVOKE		_IOWR(UALM_IOC_MAGIC, 0x08, struct ualm_grant)
#define UALM_IOC_MAP_PFNS	_IOWR(UALM_IOC_MAGIC, 0x09, struct ualm_map_pfns)
#define UALM_IOC_IOVA_ALLOC	_IOWR(UALM_IOC_MAGIC, 0x0a, struct ualm_iova)
#define UALM_IOC_IOVA_FREE	_IOWR(UALM_IOC_MAGIC, 0x0b, struct ualm_iova)
#define UALM_IOC_IOVA_LINK	_IOWR(UALM_IOC_MAGIC, 0x0c, struct ualm_link)
#define UALM_IOC_IOVA_SYNC	_IOWR(UALM_IOC_MAGIC, 0x0d, struct ualm_part)
#define UALM_IOC_IOVA_UNLINK	_IOWR(UALM_IOC_MAGIC, 0x0e, struct ualm_part)
#define UALM_IOC_DUMP		_IOWR(UALM_IOC_MAGIC, 0x0f, struct ualm_dump)
#define UALM_IOC_TRANSLATE	_IOWR(UALM_IOC_MAGIC, 0x10, struct ualm_translate)
#define UALM_IOC_COPY		_IOWR(UALM_IOC_MAGIC, 0x11, struct ualm_copy)
#define UALM_IOC_FAULT_READ	_IOWR(UALM_IOC_MAGIC, 0x12, struct ualm_fault_read)

#endif /* _UAPI_UALMOCK_H */
