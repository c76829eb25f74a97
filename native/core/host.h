/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * host.h - the host aperture of an accelerator.
 *
 * Host buffers registered with ual_mem_register() appear as PFNs
 * (UAL_HOST_BASE >> 12) + frame. The backend either supplies the frames (a
 * kernel backend passes the real, possibly scattered, pinned PFNs) or lets
 * the aperture hand out contiguous frames (the fake backend). A
 * registration is stored as runs of consecutive frames in a range
 * allocator, so frame -> registration is O(log n). Bytes are reached
 * through a backend accessor, never directly.
 * Not thread-safe: the caller holds the target lock.
 */
#ifndef UAL_HOST_H
#define UAL_HOST_H

#include "compat.h"
#include "range_alloc.h"

#define HOST_PFN_BASE	(UAL_HOST_BASE >> UAL_PAGE_SHIFT)
#define HOST_FRAMES	(1ull << (UAL_PHYS_BITS - UAL_PAGE_SHIFT - 1))

struct host_reg;

struct host_run {
	u64 frame;
	u64 npages;
	u64 page_index;		/* of the run's first page in the buffer */
	struct host_reg *reg;
};

struct host_space;

/*
 * struct host_reg - one registration.
 * @linked:  page-table entries, in 4 KiB pages, that map one of its pages
 *           (all in IOVA ranges of @owner: only it may link them).
 * @granted: grant entries, in pages, covering one of its pages.
 * While either is non-zero the registration cannot go (ual_mem_unregister()
 * gives UAL_EBUSY): a stale link or grant would reach whatever the frame
 * holds next.
 */
struct host_reg {
	struct ual_list link;	/* on its space's list */
	struct host_space *space;
	u64 uaddr;
	u64 npages;
	u64 linked;
	u64 granted;
	const void *owner;
	void *cookie;		/* the backend's (pinned pages, ...) */
	u32 nr_runs;
	struct host_run runs[];
};

struct host_aperture {
	struct range_alloc frames;	/* aperture frames in use */
	u64 nr_regs;
	u64 next_frame;			/* fake: hand frames out in order */
	ual_atomic64_t *ctr;
};

/*
 * struct host_space - one owner's registrations on one aperture, indexed by
 * user address. User addresses are per process (a kernel backend serves
 * many), so each owner has its own index: two owners may register the same
 * address; their frames must still differ.
 * @uaddrs: initialised on the first registration (so init cannot fail).
 */
struct host_space {
	struct ual_list regs;
	struct range_alloc uaddrs;
	bool ready;
	ual_atomic64_t *ctr;
};

int host_init(struct host_aperture *ha, ual_atomic64_t *ctr);
/* Drops every registration left (the caller released their cookies). */
void host_destroy(struct host_aperture *ha);

/* Never allocates. */
void host_space_init(struct host_space *hs, ual_atomic64_t *ctr);
/* Call with no registration left in @hs. */
void host_space_destroy(struct host_space *hs);

/*
 * host_register() - register @npages at user address @uaddr.
 * @frames: the backend's frames, one per page, or NULL to let the
 *          aperture allocate contiguous frames.
 * @pfns:   receives the PFNs.
 * Return: 0; UAL_EEXIST (buffer or frame already registered), UAL_ENOSPC,
 * UAL_ENOMEM. Nothing changes on error.
 */
int host_register(struct host_aperture *ha, struct host_space *hs, u64 uaddr, u64 npages,
		  const u64 *frames, const void *owner, void *cookie, u64 *pfns,
		  struct ual_err *err);
/* Return: 0 and the registration of @hs at @uaddr; UAL_ENOENT. */
int host_find_uaddr(struct host_space *hs, u64 uaddr, struct host_reg **reg,
		    struct ual_err *err);
/* Remove a registration (the caller frees the cookie first). */
void host_unregister(struct host_aperture *ha, struct host_reg *reg);

/* The registration holding aperture @frame and the page's index in it. */
struct host_reg *host_lookup(const struct host_aperture *ha, u64 frame, u64 *page_index);

enum host_use { HOST_LINKED, HOST_GRANTED };

/*
 * host_account() - count frames [frame, frame + n) in (@add) or out of the
 * @use count of the registrations holding them, one run at a time
 * (O(runs log n)). Frames not registered are skipped: callers pass frames
 * they checked.
 */
void host_account(struct host_aperture *ha, u64 frame, u64 n, enum host_use use, bool add);

static inline u64 host_nr_regs(const struct host_aperture *ha)
{
	return ha->nr_regs;
}

#endif /* UAL_HOST_H */
