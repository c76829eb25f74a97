/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ual.h - the ualbridge ABI: map memory across a scale-up accelerator fabric.
 *
 * This is the one public header of libual. It mirrors the Linux kernel's
 * two-step DMA API (dma_iova_try_alloc / dma_iova_link / dma_iova_sync /
 * dma_iova_unlink / dma_iova_free) for a UALink-like fabric:
 *
 *  - up to 1024 accelerators (10-bit id), each with a 57-bit physical
 *    address space; fabric requests of 64 to 256 bytes;
 *  - PHYSICAL mode (like IOMMU passthrough): a PFN resolves to a fabric
 *    address = routing bit | target accelerator id | physical address;
 *  - VIRTUAL mode (like an IOMMU): the initiator's fabric domain holds radix
 *    page tables (512 entries a level, like VT-d second-level tables) that
 *    translate an IOVA to (target accelerator, physical address), cached in
 *    a TLB that software must sync;
 *  - targets enforce access control in both modes: an initiator reaches only
 *    memory it was granted.
 *
 * Conventions
 *  - Every function that can fail returns 0 or a negative UAL_E* code (the
 *    Linux errno values, negated). On failure nothing was changed: no
 *    half-applied state. ual_strerror() names a code; ual_last_error()
 *    returns a message naming the exact problem of the calling thread's last
 *    failed call.
 *  - A handle (struct ual_dev) drives one accelerator of one fabric: its
 *    "local" accelerator. Its fabric domain is the local accelerator's domain;
 *    memory, host registrations and grants it programs are the local
 *    accelerator's. ual_translate() and ual_copy() act as the hardware of any
 *    initiator in the fabric.
 *  - Pages are 4 KiB. A PFN is a frame number in a target accelerator's
 *    57-bit physical space: device memory occupies PFNs [0, mem_size/4096);
 *    host pages registered through ual_mem_register() appear in the local
 *    accelerator's host aperture, at physical addresses >= UAL_HOST_BASE.
 *    A host page can be named (mapped, linked, granted) only through the
 *    handle that registered it: no handle reaches host memory it did not pin.
 *    Likewise a local request (initiator == target, ual_translate() and
 *    ual_copy()) reaches a host page only when issued through the handle
 *    that registered it, whatever address it carries; requests of other
 *    accelerators need a grant, which only that handle can make. A host
 *    buffer stays registered while any of its pages is linked or granted
 *    (ual_mem_unregister() gives UAL_EBUSY), so no stale link or grant
 *    reaches a later registration of the same frames. Device memory is
 *    shared by every handle of its accelerator.
 *
 * Locking (the order in which a call nests its locks, outermost first):
 *   1. fabric registry lock  (ual_open / ual_close of named in-process fabrics)
 *      pod lock              (shared pods: attach, detach, reaping, status;
 *                             a robust process-shared mutex in the pod file)
 *   2. domain lock           (per accelerator: IOVA allocator, page tables, TLB)
 *   3. target lock           (per accelerator: memory allocator, host
 *                             registrations, grant table); when a call needs
 *                             two target locks it takes them in ascending
 *                             accelerator id order
 *   4. fault lock            (per accelerator: its fault ring; innermost)
 * In a shared pod (fake:/path, below) every lock lives in the pod file and
 * is a robust process-shared mutex: a domain that dies holding one marks
 * the pod poisoned, and every later call on it returns UAL_EOWNERDEAD.
 * The pod's heap lock is innermost of all.
 * All locks are sleeping locks (mutexes); no call sleeps for any other
 * reason except where it says it allocates memory. All calls are thread-safe.
 * A handle must not be closed while another thread is inside a call on it
 * (the Java API enforces this).
 */
#ifndef UAL_H
#define UAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version: major in bits 31..16, minor in bits 15..0. A minor bump only
 * adds; a major bump breaks. */
#define UAL_ABI_VERSION_MAJOR 1
#define UAL_ABI_VERSION_MINOR 1
#define UAL_ABI_VERSION ((UAL_ABI_VERSION_MAJOR << 16) | UAL_ABI_VERSION_MINOR)

/* ---- fabric constants (UALink) ---------------------------------------- */
#define UAL_MAX_ACCELS      1024            /* 10-bit accelerator id */
#define UAL_ACCEL_NONE      0xffffu         /* "no accelerator" in records */
#define UAL_PHYS_BITS       57              /* physical space per accelerator */
#define UAL_PAGE_SHIFT      12
#define UAL_PAGE_SIZE       (1ull << UAL_PAGE_SHIFT)
#define UAL_PAGE_SIZE_64K   (1ull << 16)
#define UAL_PAGE_SIZE_2M    (1ull << 21)
#define UAL_REQ_MIN         64              /* smallest fabric request, bytes */
#define UAL_REQ_MAX         256             /* largest fabric request, bytes */
/* Host aperture: host pages registered with ual_mem_register() live at
 * physical addresses UAL_HOST_BASE + (host frame << 12) of the local
 * accelerator, so their PFNs are >= UAL_HOST_BASE >> UAL_PAGE_SHIFT. */
#define UAL_HOST_BASE       (1ull << 56)

/* ---- error codes: negated Linux errno values -------------------------- */
#define UAL_OK          0
#define UAL_EPERM      (-1)   /* operation not permitted for this handle */
#define UAL_ENOENT     (-2)   /* nothing there: range, mapping, grant, PFN not allocated */
#define UAL_EIO        (-5)   /* backend I/O error */
#define UAL_EBADF      (-9)   /* invalid or closed handle */
#define UAL_ENOMEM     (-12)  /* out of memory: page-table pool, device memory, host */
#define UAL_EACCES     (-13)  /* refused by the target's access control */
#define UAL_EFAULT     (-14)  /* translation fault: not present, protection, bad route */
#define UAL_EBUSY      (-16)  /* in use: page already linked, range still linked,
                               * host buffer still linked or granted */
#define UAL_EEXIST     (-17)  /* already exists: overlapping grant, fabric name */
#define UAL_ENODEV     (-19)  /* unknown accelerator id or backend */
#define UAL_EINVAL     (-22)  /* invalid argument: zero/unaligned size, bad flags */
#define UAL_ENOSPC     (-28)  /* address space exhausted: IOVA, grant table */
#define UAL_ERANGE     (-34)  /* out of range: offset past range, PFN outside memory,
                               * address above the DMA limit */
#define UAL_EOVERFLOW  (-75)  /* arithmetic overflow: base + length wraps */
#define UAL_ENOTSUP    (-95)  /* addressing mode or feature not supported */
#define UAL_EHOSTDOWN  (-112) /* shared pod: the target accelerator's OS domain
                               * died (its grants were revoked) */
#define UAL_EOWNERDEAD (-130) /* shared pod: a domain died holding a pod lock
                               * mid-operation; the pod can't be trusted */

/* ---- flags -------------------------------------------------------------- */
/* Addressing modes (struct ual_info.modes, fake: URI option mode=). */
#define UAL_MODE_PHYSICAL   (1u << 0)
#define UAL_MODE_VIRTUAL    (1u << 1)

/* Protection of a mapping or grant, and the access of a request. */
#define UAL_PROT_READ       (1u << 0)
#define UAL_PROT_WRITE      (1u << 1)
#define UAL_PROT_RW         (UAL_PROT_READ | UAL_PROT_WRITE)
#define UAL_ACCESS_READ     UAL_PROT_READ
#define UAL_ACCESS_WRITE    UAL_PROT_WRITE

/* ual_iova_alloc() flags. */
/* Reserve every page-table page the range can ever need at allocation time,
 * so that ual_iova_link() and ual_iova_unlink() on it never allocate memory
 * (the reclaim-safe contract). */
#define UAL_IOVA_PREALLOC   (1u << 0)

/* Route word of a fabric address: bit 31 is the routing bit (physical mode,
 * route by target id); bits 9..0 hold the target accelerator id. Without
 * the routing bit the address is an IOVA in the initiator's fabric domain
 * and bits 30..0 must be zero. */
#define UAL_ROUTE_PHYS      (1u << 31)
#define UAL_ROUTE_TARGET_MASK 0x3ffu
#define UAL_ROUTE(target)   (UAL_ROUTE_PHYS | ((uint32_t)(target) & UAL_ROUTE_TARGET_MASK))

/* ---- types ---------------------------------------------------------------- */

/* Opaque handle: one accelerator of one fabric. */
typedef struct ual_dev ual_dev;

/*
 * struct ual_faddr - a fabric address, as an initiator puts it on the wire.
 * @addr:  57-bit physical address at the target (routed), or an IOVA in the
 *         initiator's domain (not routed).
 * @route: UAL_ROUTE(target) for a physical-mode address, 0 for an IOVA.
 * @rsvd:  must be zero.
 */
struct ual_faddr {
	uint64_t addr;
	uint32_t route;
	uint32_t rsvd;
};

/*
 * struct ual_info - what ual_query() reports.
 * @abi_version:  UAL_ABI_VERSION of the library.
 * @accel_id:     the handle's local accelerator (10 bits).
 * @num_accels:   accelerators in the fabric (1..1024).
 * @modes:        UAL_MODE_* supported.
 * @phys_bits:    physical address bits per accelerator (57).
 * @dma_bits:     the domain's DMA address limit: IOVAs are below 1 << dma_bits.
 * @pt_levels:    page-table levels (radix 512 each) covering dma_bits.
 * @pgsize_bitmap: page sizes the domain maps, as in the kernel's iommu_ops:
 *                bit n set means 1 << n bytes (4 KiB, 64 KiB, 2 MiB).
 * @mem_size:     bytes of device memory of the local accelerator.
 * @mem_free:     bytes of it not allocated.
 * @pt_pool_pages: page-table pool size in 4 KiB table pages.
 * @pt_pool_free: table pages not in use and not reserved.
 * @tlb_entries:  TLB capacity of the local domain.
 * @iova_ranges:  live IOVA ranges of the local domain.
 * @mapped_pages: 4 KiB pages currently linked in the local domain.
 * @grants:       live grant entries of the local accelerator.
 * @tlb_hits, @tlb_misses: translations of the local domain served from / not
 *                from the TLB.
 * @req_min, @req_max: fabric request sizes in bytes (64, 256).
 * @backend:      backend name ("fake", "kmod", "vfio"), NUL-terminated.
 */
struct ual_info {
	uint32_t abi_version;
	uint16_t accel_id;
	uint16_t num_accels;
	uint32_t modes;
	uint32_t phys_bits;
	uint32_t dma_bits;
	uint32_t pt_levels;
	uint64_t pgsize_bitmap;
	uint64_t mem_size;
	uint64_t mem_free;
	uint64_t pt_pool_pages;
	uint64_t pt_pool_free;
	uint64_t tlb_entries;
	uint64_t iova_ranges;
	uint64_t mapped_pages;
	uint64_t grants;
	uint64_t tlb_hits;
	uint64_t tlb_misses;
	uint32_t req_min;
	uint32_t req_max;
	char backend[16];
};

/*
 * struct ual_xlate - result of ual_translate().
 * @target:    accelerator that owns the page.
 * @flags:     UAL_XLATE_TLB_HIT if the TLB served the translation.
 * @phys:      physical address at the target.
 * @page_size: size of the page (4 KiB, 64 KiB or 2 MiB; 4 KiB in physical mode).
 * @prot:      UAL_PROT_* of the mapping (physical mode: of the grant).
 */
#define UAL_XLATE_TLB_HIT   (1u << 0)
struct ual_xlate {
	uint16_t target;
	uint16_t rsvd;
	uint32_t flags;
	uint64_t phys;
	uint64_t page_size;
	uint32_t prot;
	uint32_t rsvd2;
};

/*
 * struct ual_mapping - one leaf entry of a domain's page tables (ual_dump()).
 * @iova:      first IOVA the entry maps.
 * @phys:      physical address at the target.
 * @size:      bytes mapped by the entry (4 KiB, 64 KiB, 2 MiB).
 * @target:    target accelerator.
 * @level:     page-table level of the entry (1 = last level, 2 = 2 MiB).
 * @prot:      UAL_PROT_* of the entry.
 */
struct ual_mapping {
	uint64_t iova;
	uint64_t phys;
	uint64_t size;
	uint16_t target;
	uint16_t level;
	uint32_t prot;
};

/* Fault reasons (struct ual_fault.reason). */
#define UAL_FAULT_NOT_PRESENT  1  /* no translation for the IOVA */
#define UAL_FAULT_PROT         2  /* the mapping does not allow this access */
#define UAL_FAULT_NO_GRANT     3  /* target: initiator holds no grant for the page
                                   * (local: a host page registered through
                                   * another handle) */
#define UAL_FAULT_GRANT_PROT   4  /* target: grant does not allow this access */
#define UAL_FAULT_BAD_TARGET   5  /* route names no accelerator of the fabric */
#define UAL_FAULT_OUT_OF_RANGE 6  /* address outside the target's memory */
#define UAL_FAULT_MODE         7  /* addressing mode not enabled */
/* Fault flags (struct ual_fault.flags). */
#define UAL_FAULT_F_TLB        (1u << 0) /* decided from a cached TLB entry */
#define UAL_FAULT_F_AT_TARGET  (1u << 1) /* record kept in the target's ring */

/*
 * struct ual_fault - one refused request.
 * @seq:       per-ring sequence number (gaps never happen: see @lost of
 *             ual_fault_read()).
 * @addr:      the request's address (IOVA or physical).
 * @route:     the request's route word.
 * @initiator: accelerator that issued the request.
 * @target:    accelerator that refused it, or UAL_ACCEL_NONE if the request
 *             never got a target (translation fault).
 * @access:    UAL_ACCESS_READ or UAL_ACCESS_WRITE.
 * @reason:    UAL_FAULT_*.
 * @flags:     UAL_FAULT_F_*.
 * @len:       bytes of the request.
 */
struct ual_fault {
	uint64_t seq;
	uint64_t addr;
	uint32_t route;
	uint16_t initiator;
	uint16_t target;
	uint32_t access;
	uint32_t reason;
	uint32_t flags;
	uint32_t len;
};

/* ---- library -------------------------------------------------------------- */

/**
 * ual_abi_version() - the ABI version this library implements.
 *
 * Context: any; takes no lock, never allocates.
 * Return: UAL_ABI_VERSION of the library (compare the major with yours).
 */
uint32_t ual_abi_version(void);

/**
 * ual_strerror() - name an error code.
 * @err: a UAL_E* code (negative) or 0.
 *
 * Context: any; takes no lock, never allocates.
 * Return: a static string, "unknown error" for a code this ABI lacks.
 */
const char *ual_strerror(int err);

/**
 * ual_last_error() - the message of the calling thread's last failure.
 *
 * Every failing call stores a message naming the problem ("iova_link: PFN
 * 0x4000 outside accelerator 0 memory (0x4000 pages)") in thread-local
 * storage. A successful call does not clear it.
 *
 * Context: any; takes no lock, never allocates.
 * Return: a NUL-terminated string valid until the thread's next failing call;
 * "" if no call failed on this thread.
 */
const char *ual_last_error(void);

/* ---- devices ---------------------------------------------------------------- */

/**
 * ual_open() - open a handle on a fabric.
 * @uri: backend and options. "fake:[NAME][?opt=val&...]" is the in-process
 *       fake fabric. Options: accels=N (1..1024, default 4), mem=SIZE per
 *       accelerator (suffix K/M/G, default 64M, at most 64G),
 *       mode=physical|virtual|both (default both), pt_pool=N table pages
 *       (default 4096), dma_bits=B (IOVA limit, 21..57, default 48),
 *       tlb=N entries (power of two, default 512), faults=N ring entries
 *       (power of two, default 256), local=ID (the handle's accelerator,
 *       default 0). A NAME shares one in-process fabric between opens: the
 *       first open creates it, later opens attach (their fabric options must
 *       be absent or equal) and the fabric dies with its last handle.
 *       "fake:/PATH[?opt=val&...]" (an absolute path) is a shared pod: the
 *       fabric lives in the file PATH (use /dev/shm or a tmpfs), and every
 *       process that opens it is one OS domain owning the accelerators it
 *       opens handles for (local=ID, ual_open_peer()). The first open creates
 *       the file (or see ual_pod_create()); later opens join it (fabric
 *       options absent or equal). An accelerator belongs to one live
 *       process at a time (UAL_EBUSY otherwise); a process issues requests
 *       only as its own accelerators (UAL_EPERM otherwise); a request of
 *       another domain is checked against the target's grants as in one
 *       process, but reaches only device memory (host pages stay in their
 *       process: UAL_ENOTSUP). When a process dies, the next call of any
 *       other domain revokes the dead domain's grants and frees what it
 *       created; requests to its accelerators then fail with UAL_EHOSTDOWN
 *       until a process opens them again. The file outlives its processes.
 *       "kmod:[PATH][?local=ID&...]" drives the ualmock kernel module
 *       (default PATH /dev/ualmock; the fabric is the module's, so fabric
 *       options, if given, must equal its parameters, else UAL_EEXIST).
 *       "vfio:BDF[?mode=virtual|physical]" drives a PCI device through VFIO
 *       (virtual: type1 IOMMU; physical: a device bound to uio_pci_generic,
 *       frames from /proc/self/pagemap, root only) as a fabric of one
 *       accelerator whose device memory is the device's buffer.
 * @out: receives the handle.
 *
 * Context: may sleep; allocates the fabric (a fake fabric's page-table pool
 * is allocated lazily, in chunks). Takes the fabric registry lock.
 * Return: 0; UAL_EINVAL for a malformed URI or option (the message names
 * it) or a file that is not a pod of this library, UAL_ENODEV for an
 * unknown backend or local id, UAL_EEXIST if a named fabric exists with
 * other options, UAL_ENOMEM, UAL_EBUSY if a live process of a shared pod
 * owns the accelerator, UAL_EACCES if the pod file can't be opened (or as
 * ual_pod_create() when it is created), UAL_EOWNERDEAD if the pod is poisoned.
 */
int ual_open(const char *uri, ual_dev **out);

/**
 * ual_open_peer() - open a handle for another accelerator of the same fabric.
 * @dev:   an open handle.
 * @accel: the accelerator the new handle drives.
 * @out:   receives the handle; close it with ual_close().
 *
 * Context: may sleep; allocates the handle. Takes the fabric registry lock
 * (shared pods: the pod lock).
 * Return: 0; UAL_ENODEV if @accel is not in the fabric, UAL_ENOMEM,
 * UAL_EBUSY if another live process of a shared pod owns @accel.
 */
int ual_open_peer(ual_dev *dev, uint32_t accel, ual_dev **out);

/**
 * ual_close() - close a handle.
 * @dev: the handle, or NULL (ignored).
 *
 * Frees everything the handle created, in this order: its IOVA ranges (and
 * their links), its grants, its device memory allocations and its host
 * registrations (no link or grant outlives the pages). The fabric lives on
 * while other handles hold it.
 *
 * Context: may sleep; takes the registry, domain, target and fault locks.
 */
void ual_close(ual_dev *dev);

/**
 * ual_query() - describe the handle's fabric and accelerator.
 * @dev:  the handle.
 * @info: receives the description (see struct ual_info).
 *
 * Context: takes the domain lock, then the target lock; never allocates.
 * Return: 0; UAL_EINVAL if @info is NULL.
 */
int ual_query(ual_dev *dev, struct ual_info *info);

/* ---- memory ------------------------------------------------------------------ */

/**
 * ual_mem_alloc() - allocate device memory of the local accelerator.
 * @dev:     the handle.
 * @size:    bytes: a non-zero multiple of 4 KiB.
 * @align:   alignment in bytes: a power of two >= 4 KiB, or 0 for 4 KiB.
 * @pfn_out: receives the first PFN of the physically contiguous block.
 *
 * The block reads as zeros. It belongs to @dev and is freed when @dev closes.
 *
 * Context: takes the target lock; may allocate allocator metadata.
 * Return: 0; UAL_EINVAL for a zero or unaligned size or a bad alignment,
 * UAL_ENOMEM if no free block fits.
 */
int ual_mem_alloc(ual_dev *dev, uint64_t size, uint64_t align, uint64_t *pfn_out);

/**
 * ual_mem_free() - free a block from ual_mem_alloc().
 * @dev:  the handle that allocated it.
 * @pfn:  its first PFN.
 * @size: its size, as allocated.
 *
 * Like the kernel's DMA API, this does not look for mappings or grants of
 * the block; requests that still reach it see zeros or later data.
 *
 * Context: takes the target lock; never allocates.
 * Return: 0; UAL_ENOENT if no block of @dev starts at @pfn,
 * UAL_EINVAL if @size differs from the allocation.
 */
int ual_mem_free(ual_dev *dev, uint64_t pfn, uint64_t size);

/**
 * ual_mem_write() - write device memory of the local accelerator, as a CPU
 * through a BAR.
 * @dev:  the handle.
 * @phys: physical address; [phys, phys + len) must lie in device memory.
 * @buf:  source bytes.
 * @len:  bytes to write (0 is a no-op).
 *
 * Context: takes the target lock; may allocate backing pages (fake).
 * Return: 0; UAL_ERANGE outside device memory, UAL_EOVERFLOW if it wraps,
 * UAL_EINVAL if @buf is NULL and @len is not 0.
 */
int ual_mem_write(ual_dev *dev, uint64_t phys, const void *buf, uint64_t len);

/**
 * ual_mem_read() - read device memory of the local accelerator (see
 * ual_mem_write()).
 *
 * Context: takes the target lock; never allocates.
 * Return: as ual_mem_write().
 */
int ual_mem_read(ual_dev *dev, uint64_t phys, void *buf, uint64_t len);

/**
 * ual_mem_register() - pin a caller's buffer so its pages become mappable
 * PFNs of the local accelerator's host aperture.
 * @dev:      the handle.
 * @addr:     start of the buffer: 4 KiB aligned.
 * @len:      bytes: a non-zero multiple of 4 KiB.
 * @pfns_out: receives len / 4096 PFNs, one per page (the fake backend hands
 *            out contiguous ones; a kernel backend gives the real frames).
 *
 * The buffer must stay valid until ual_mem_unregister(). Requests reaching a
 * host PFN after its buffer was unregistered fault (UAL_FAULT_OUT_OF_RANGE);
 * they never touch the caller's memory.
 *
 * Context: takes the target lock; allocates the registration.
 * Return: 0; UAL_EINVAL for NULL, unaligned or zero-length input, UAL_EEXIST if
 * it overlaps a registered buffer, UAL_ENOSPC if the aperture is full.
 */
int ual_mem_register(ual_dev *dev, void *addr, uint64_t len, uint64_t *pfns_out);

/**
 * ual_mem_unregister() - unpin a buffer registered by ual_mem_register().
 * @dev:  the handle that registered it.
 * @addr: the address it was registered with.
 *
 * A buffer with a page still linked in an IOVA range or covered by a grant
 * stays registered: the frames would otherwise go back to the system (or
 * to another registration) while the link or grant still reaches them.
 * Unlink and revoke first (ual_close() releases everything in order).
 *
 * Context: takes the target lock; never allocates.
 * Return: 0; UAL_ENOENT if no buffer of @dev is registered at @addr,
 * UAL_EBUSY if pages of it are still linked or granted (the message says
 * how many; nothing changed).
 */
int ual_mem_unregister(ual_dev *dev, void *addr);

/* ---- access control at the target ---------------------------------------- */

/**
 * ual_grant() - let an initiator reach pages of the target.
 * @dev:       a handle whose local accelerator is @target.
 * @target:    the accelerator that owns the pages.
 * @initiator: the accelerator allowed in.
 * @pfn:       first PFN (device memory, or a registered host page).
 * @npages:    pages, non-zero.
 * @prot:      UAL_PROT_READ and/or UAL_PROT_WRITE, non-zero.
 *
 * Requests where initiator == target are local and need no grant (a local
 * request still reaches a host page only through the handle that
 * registered it). A granted host page keeps its buffer registered until
 * the grant is revoked.
 *
 * Context: takes the target lock; may allocate a grant entry.
 * Return: 0; UAL_EPERM if @target is not @dev's accelerator, UAL_ENODEV for
 * an unknown @initiator, UAL_EINVAL for zero @npages or bad @prot, UAL_ERANGE
 * for pages outside the target's memory, UAL_EOVERFLOW if the range wraps,
 * UAL_EEXIST if it overlaps a grant to the same initiator, UAL_ENOSPC if the
 * grant table is full, UAL_ENOENT for pages not allocated or registered.
 * (A host page registered through another handle also gives UAL_EPERM.)
 */
int ual_grant(ual_dev *dev, uint32_t target, uint32_t initiator,
	      uint64_t pfn, uint64_t npages, uint32_t prot);

/**
 * ual_revoke() - take back pages granted to an initiator.
 * @dev, @target, @initiator, @pfn, @npages: as ual_grant(). Every page of
 *       the range must be granted to @initiator; a range inside a larger
 *       grant splits it.
 *
 * Revocation is synchronous: when it returns, no request of @initiator
 * reaches the pages.
 *
 * Context: takes the target lock; may allocate when it splits a grant.
 * Return: 0; UAL_EPERM, UAL_ENODEV, UAL_EINVAL, UAL_EOVERFLOW as ual_grant(),
 * UAL_ENOENT if some page of the range is not granted to @initiator,
 * UAL_ENOSPC if splitting needs a grant entry and the table is full.
 */
int ual_revoke(ual_dev *dev, uint32_t target, uint32_t initiator,
	       uint64_t pfn, uint64_t npages);

/* ---- physical mode ---------------------------------------------------------- */

/**
 * ual_map_pfns() - resolve PFNs of a target to physical-mode fabric addresses.
 * @dev:       the handle (the initiator is its local accelerator).
 * @target:    accelerator that owns the pages.
 * @pfns:      @n PFNs: each allocated device memory or a registered host page
 *             of @target.
 * @n:         number of PFNs, non-zero.
 * @prot:      intended access, UAL_PROT_* non-zero (checked, not programmed).
 * @addrs_out: receives @n addresses {pfn << 12, UAL_ROUTE(target)}.
 *
 * Nothing is programmed: physical mode has no page tables. Access is decided
 * by the target's grants when a request arrives.
 *
 * Context: takes the target lock of @target; never allocates.
 * Return: 0; UAL_ENOTSUP if the fabric lacks physical mode, UAL_ENODEV for an
 * unknown @target, UAL_EINVAL for NULL arrays, zero @n or bad @prot,
 * UAL_ERANGE for a PFN outside @target's memory, UAL_ENOENT for a PFN that is
 * not allocated or registered, UAL_EPERM for a host page registered through
 * another handle. On error @addrs_out is left untouched.
 */
int ual_map_pfns(ual_dev *dev, uint32_t target, const uint64_t *pfns, uint64_t n,
		 uint32_t prot, struct ual_faddr *addrs_out);

/* ---- virtual mode: the two-step IOVA API ------------------------------------ */

/**
 * ual_iova_alloc() - reserve an IOVA range in the local fabric domain
 * (dma_iova_try_alloc()).
 * @dev:      the handle.
 * @size:     bytes: a non-zero multiple of 4 KiB.
 * @flags:    0 or UAL_IOVA_PREALLOC.
 * @iova_out: receives the start of the range.
 *
 * The range is aligned to the largest supported page size not above @size
 * (2 MiB, 64 KiB or 4 KiB) so large pages can be used, and lies below the
 * domain's DMA limit (1 << dma_bits); IOVA 0 is never handed out. With
 * UAL_IOVA_PREALLOC every page-table page the range can need is taken from
 * the pool now and stays reserved until ual_iova_free().
 *
 * Context: takes the domain lock; allocates allocator metadata and, with
 * UAL_IOVA_PREALLOC, page-table pages.
 * Return: 0; UAL_ENOTSUP if the fabric lacks virtual mode, UAL_EINVAL for a
 * zero or unaligned size or unknown flags, UAL_ENOSPC if no range fits below
 * the DMA limit, UAL_ENOMEM if the page-table pool cannot cover a
 * preallocation.
 */
int ual_iova_alloc(ual_dev *dev, uint64_t size, uint32_t flags, uint64_t *iova_out);

/**
 * ual_iova_link() - install translations into a range (dma_iova_link()).
 * @dev:    the handle.
 * @iova:   start of a range from ual_iova_alloc().
 * @offset: byte offset into the range: 4 KiB aligned.
 * @target: accelerator that owns the pages.
 * @pfns:   @n PFNs of @target (as ual_map_pfns()).
 * @n:      pages, non-zero; offset + n * 4 KiB must not pass the range.
 * @prot:   UAL_PROT_* of the mappings, non-zero.
 *
 * Page i maps at iova + offset + i * 4 KiB. A 2 MiB leaf is used where the
 * IOVA is 2 MiB aligned and 512 PFNs from it are contiguous and 2 MiB
 * aligned; a 64 KiB contiguous hint likewise for 16. The translations are
 * not visible to initiators whose TLB caches the old state until
 * ual_iova_sync().
 *
 * Context: takes the domain lock, then the target lock of @target. Never
 * allocates on a UAL_IOVA_PREALLOC range (fake and kmod backends; the vfio
 * backend's VFIO_IOMMU_MAP_DMA of host pages allocates in the kernel);
 * otherwise takes page-table pages from the pool. All or nothing: on error no entry and no pool page changed.
 * Return: 0; UAL_ENOENT if no range starts at @iova, UAL_EINVAL for bad
 * alignment, zero @n, NULL @pfns or bad @prot, UAL_ERANGE if the pages pass
 * the end of the range or a PFN is outside @target's memory, UAL_EOVERFLOW if
 * offset arithmetic wraps, UAL_ENODEV for an unknown @target, UAL_EBUSY if a
 * page is already linked, UAL_ENOMEM if the page-table pool is exhausted,
 * UAL_ENOENT for a PFN not allocated or registered, UAL_EPERM for a host page
 * registered through another handle.
 */
int ual_iova_link(ual_dev *dev, uint64_t iova, uint64_t offset, uint32_t target,
		  const uint64_t *pfns, uint64_t n, uint32_t prot);

/**
 * ual_iova_sync() - make linked translations of a part of a range visible
 * (dma_iova_sync()).
 * @dev:    the handle.
 * @iova:   start of a range.
 * @offset: byte offset: 4 KiB aligned.
 * @len:    bytes: a non-zero multiple of 4 KiB within the range.
 *
 * Invalidates the fabric TLB for exactly [iova + offset, iova + offset + len)
 * and nothing else.
 *
 * Context: takes the domain lock; never allocates.
 * Return: 0; UAL_ENOENT, UAL_EINVAL, UAL_ERANGE, UAL_EOVERFLOW as ual_iova_link().
 */
int ual_iova_sync(ual_dev *dev, uint64_t iova, uint64_t offset, uint64_t len);

/**
 * ual_iova_unlink() - remove translations from a part of a range
 * (dma_iova_unlink()).
 * @dev, @iova, @offset, @len: as ual_iova_sync(). Every page of the part must
 *       be linked; a 2 MiB or 64 KiB entry must be unlinked whole.
 *
 * Unlink is synchronous: it invalidates the TLB for the part, so when it
 * returns no initiator reaches the pages.
 *
 * Context: takes the domain lock, and the local target lock if the range
 * holds host pages (their registrations count their links); never
 * allocates; on a range without UAL_IOVA_PREALLOC returns emptied table
 * pages to the pool.
 * Return: 0; UAL_ENOENT if a page of the part is not linked or no range
 * starts at @iova, UAL_EINVAL if the part splits a large entry or is
 * misaligned, UAL_ERANGE, UAL_EOVERFLOW as ual_iova_sync().
 */
int ual_iova_unlink(ual_dev *dev, uint64_t iova, uint64_t offset, uint64_t len);

/**
 * ual_iova_free() - release a range (dma_iova_free()).
 * @dev:  the handle.
 * @iova: start of a range from ual_iova_alloc().
 *
 * Context: takes the domain lock; never allocates; returns the range's
 * reserved table pages to the pool.
 * Return: 0; UAL_ENOENT if no range starts at @iova (double free),
 * UAL_EBUSY if pages of the range are still linked.
 */
int ual_iova_free(ual_dev *dev, uint64_t iova);

/**
 * ual_dump() - list the leaf entries of the local domain's page tables.
 * @dev:   the handle.
 * @iova:  first IOVA of the window.
 * @len:   bytes of the window (0 means up to the DMA limit).
 * @out:   receives up to @max entries whose IOVA lies in the window, in
 *         IOVA order; may be NULL when @max is 0.
 * @max:   capacity of @out.
 * @count: receives the number of entries in the window (may exceed @max:
 *         call again with a larger buffer).
 *
 * Reads the page tables, not the TLB.
 *
 * Context: takes the domain lock; never allocates.
 * Return: 0; UAL_EINVAL for a NULL @count or a NULL @out with non-zero @max,
 * UAL_EOVERFLOW if the window wraps.
 */
int ual_dump(ual_dev *dev, uint64_t iova, uint64_t len, struct ual_mapping *out,
	     uint64_t max, uint64_t *count);

/* ---- what the hardware does --------------------------------------------- */

/**
 * ual_translate() - translate and check one request, as the fabric would.
 * @dev:       the handle (any accelerator of the fabric may be @initiator).
 * @initiator: accelerator issuing the request.
 * @fa:        the request's fabric address.
 * @access:    UAL_ACCESS_READ or UAL_ACCESS_WRITE.
 * @out:       receives the translation on success.
 *
 * An IOVA walks the initiator's domain through its TLB (a translation -
 * present or not - cached before a link and not yet synced is used as is:
 * a missing ual_iova_sync() is observable). The request is then routed to
 * the target, which checks its memory range and its grants. A local request
 * (@initiator == target) needs no grant, but reaches a host page only if
 * @dev registered it: through another handle it is refused (UAL_EACCES,
 * fault UAL_FAULT_NO_GRANT), be the address forged or an IOVA of another
 * handle's range. A refused request is recorded as a fault in the
 * initiator's ring (and, when the target refused it, in the target's ring
 * too).
 *
 * Context: takes the initiator's domain lock, the target lock, then fault
 * locks; never allocates.
 * Return: 0; UAL_EFAULT for a translation fault (not present, protection,
 * bad target, out of range, mode), UAL_EACCES if the target's access control
 * refused it, UAL_ENODEV for an unknown @initiator, UAL_EINVAL for a bad
 * @access, NULL @fa/@out or non-zero reserved bits (these three record no fault).
 */
int ual_translate(ual_dev *dev, uint32_t initiator, const struct ual_faddr *fa,
		  uint32_t access, struct ual_xlate *out);

/**
 * ual_copy() - move bytes through the fabric, as an initiator's DMA engine.
 * @dev:       the handle.
 * @initiator: accelerator issuing the requests.
 * @dst:       destination fabric address (written).
 * @src:       source fabric address (read).
 * @len:       bytes: a non-zero multiple of 64.
 *
 * The transfer is cut into requests of 64 to 256 bytes that cross neither a
 * 256-byte boundary of either side nor a page; each is translated and
 * checked like ual_translate() (so a local request reaches a host page only
 * if @dev registered it). All requests are checked before any byte
 * moves: a refused request fails the whole copy, moves nothing and records
 * one fault (the first refused request).
 *
 * Context: takes the initiator's domain lock, the target locks of source and
 * destination (ascending id), then fault locks; may allocate backing pages of
 * device memory (fake).
 * Return: 0; UAL_EINVAL if @len is zero or not a multiple of 64, an address
 * is not 64-byte aligned or a pointer is NULL; UAL_EOVERFLOW if an address
 * plus @len wraps; otherwise as ual_translate().
 */
int ual_copy(ual_dev *dev, uint32_t initiator, const struct ual_faddr *dst,
	     const struct ual_faddr *src, uint64_t len);

/**
 * ual_fault_read() - drain fault records of the local accelerator's ring.
 * @dev:   the handle.
 * @out:   receives up to @max records, oldest first.
 * @max:   capacity of @out (0 only peeks @lost).
 * @nread: receives the number of records drained.
 * @lost:  receives the number of faults dropped because the ring was full
 *         since the previous call, then resets it. May be NULL.
 *
 * Context: takes the fault lock; never allocates.
 * Return: 0; UAL_EINVAL for a NULL @nread or a NULL @out with non-zero @max.
 */
int ual_fault_read(ual_dev *dev, struct ual_fault *out, uint32_t max,
		   uint32_t *nread, uint64_t *lost);

/* ---- shared pods ------------------------------------------------------------ */

#define UAL_POD_MAX_DOMAINS 64          /* processes attached to one pod */
#define UAL_POD_REPLACE     (1u << 0)   /* ual_pod_create(): replace a file */
#define UAL_POD_POISONED    (1u << 0)   /* struct ual_pod_info.flags */

/* States of an accelerator in a pod (struct ual_pod_accel.state). */
#define UAL_POD_ACCEL_FREE  0           /* no process owns it */
#define UAL_POD_ACCEL_OWNED 1           /* a live process owns it */
#define UAL_POD_ACCEL_DOWN  2           /* its process died; not reopened yet */

/*
 * struct ual_pod_info - a shared pod as a whole (ual_pod_status()).
 * @num_accels, @modes, @mem_size: the fabric's configuration.
 * @heap_size:  bytes of the pod file's heap (tables, device memory, grants).
 * @heap_used:  bytes of it in use.
 * @flags:      UAL_POD_POISONED when a domain died holding a pod lock.
 * @ndomains:   live processes attached (entries written: up to the maximum).
 * @ngrants:    grant entries in the pod (entries written: up to the maximum).
 * @reaped:     dead domains cleaned up since the pod was created.
 * @created_ns: creation time, CLOCK_REALTIME nanoseconds.
 * @poison:     what poisoned the pod, "" if not poisoned.
 */
struct ual_pod_info {
	uint32_t num_accels;
	uint32_t modes;
	uint64_t mem_size;
	uint64_t heap_size;
	uint64_t heap_used;
	uint32_t flags;
	uint32_t ndomains;
	uint32_t ngrants;
	uint32_t reaped;
	uint64_t created_ns;
	char poison[128];
};

/*
 * struct ual_pod_domain - one live process attached to a pod.
 * @slot:        its attach slot (0..UAL_POD_MAX_DOMAINS-1).
 * @pid:         its process id, in its own pid namespace (a container's).
 * @handles:     open handles.
 * @accels:      accelerators it owns.
 * @attached_ns: when it attached, CLOCK_REALTIME nanoseconds.
 * @host:        its host name (in a container: the container's id).
 * @comm:        its command name.
 */
struct ual_pod_domain {
	uint32_t slot;
	int32_t pid;
	uint32_t handles;
	uint32_t accels;
	uint64_t attached_ns;
	char host[64];
	char comm[16];
};

/*
 * struct ual_pod_accel - one accelerator of a pod.
 * @accel:    its id.
 * @state:    UAL_POD_ACCEL_*.
 * @slot:     the owning domain's slot, or -1.
 * @pid:      the owning (or, when DOWN, the dead) process's pid, or 0.
 * @mem_used: bytes of its device memory allocated.
 * @grants:   grant entries of its grant table.
 */
struct ual_pod_accel {
	uint32_t accel;
	uint32_t state;
	int32_t slot;
	int32_t pid;
	uint64_t mem_used;
	uint64_t grants;
};

/*
 * struct ual_pod_grant - one grant entry: @target lets @initiator reach
 * @npages pages from @pfn with @prot (UAL_PROT_*).
 */
struct ual_pod_grant {
	uint16_t target;
	uint16_t initiator;
	uint32_t prot;
	uint64_t pfn;
	uint64_t npages;
};

/**
 * ual_pod_create() - create a shared pod file without joining it.
 * @uri:   "fake:/PATH[?opt=val&...]" with the fabric options of ual_open()
 *         (local= is not accepted).
 * @flags: UAL_POD_REPLACE to replace an existing file (processes attached
 *         to the old pod keep it; new opens get the new one).
 *
 * Context: may sleep; creates and sizes the file (sparse: memory is used as
 * the pod fills). Takes no pod lock: nobody can see the file until it is
 * ready.
 * Return: 0; UAL_EINVAL for a malformed URI, not a fake:/PATH, or local=;
 * UAL_EEXIST if PATH exists and @flags lacks UAL_POD_REPLACE; UAL_ENOENT if
 * its directory does not exist; UAL_EACCES if the file can't be created;
 * UAL_ENOMEM if the pod would need more than 1 TiB of address space or the
 * file system is full; UAL_EIO for any other file system error (the message
 * has the system's reason).
 */
int ual_pod_create(const char *uri, uint32_t flags);

/**
 * ual_pod_status() - describe a shared pod: who is attached, what each
 * accelerator holds, what is granted to whom.
 * @path:        the pod file.
 * @info:        receives the summary and the total counts.
 * @domains:     receives up to @max_domains live domains (may be NULL if 0).
 * @accels:      receives up to @max_accels accelerators, by id.
 * @grants:      receives up to @max_grants grant entries, by target and PFN.
 *
 * Reads one consistent snapshot. Cleans up dead domains first (as any
 * call on the pod does), so the report lists only live ones. Works on a
 * poisoned pod (the info says why it is poisoned).
 *
 * Context: may sleep; takes the pod lock, then each target lock in turn;
 * maps the file if this process has not.
 * Return: 0; UAL_EINVAL for NULL @path or @info, or a file that is not a
 * pod; UAL_ENOENT if there is no such file; UAL_EACCES if it can't be
 * opened.
 */
int ual_pod_status(const char *path, struct ual_pod_info *info,
		   struct ual_pod_domain *domains, uint32_t max_domains,
		   struct ual_pod_accel *accels, uint32_t max_accels,
		   struct ual_pod_grant *grants, uint32_t max_grants);

/* ---- test support ------------------------------------------------------- */

/**
 * ual_alloc_count() - memory allocations made for the handle's fabric.
 * @dev: the handle.
 *
 * Counts every heap allocation of the backend and every page-table page
 * taken from the pool's free list (not from a range's reservation). Tests
 * use it to prove the reclaim-safe contract: on a UAL_IOVA_PREALLOC range,
 * link and unlink leave it unchanged.
 *
 * Context: any; takes no lock (atomic read), never allocates.
 * Return: the count since the fabric was created.
 */
uint64_t ual_alloc_count(ual_dev *dev);

#ifdef __cplusplus
}
#endif

#endif /* UAL_H */
