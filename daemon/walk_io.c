/* walk_io.c: the walker's batched I/O: opens, stats and closes of many directories at
 * once through one io_uring per worker, or the same operations as plain syscalls. Both
 * backends give identical results; only the number of syscalls differs. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "walk_internal.h"

/* A result no operation returns: marks requests still to run. */
#define NOT_DONE INT32_MIN

/* Set once the kernel has answered ENOSYS to openat2 (before 5.6): use openat from then. */
static _Atomic int is_openat2_missing;

int walk_io_open(int dfd, const char *path, const struct open_how *how)
{
	if (!atomic_load_explicit(&is_openat2_missing, memory_order_relaxed)) {
		long fd = syscall(SYS_openat2, dfd, path, how, sizeof(*how));
		if (fd >= 0)
			return (int)fd;
		if (errno != ENOSYS)
			return -errno;
		atomic_store(&is_openat2_missing, 1);
	}
	int fd = openat(dfd, path, (int)how->flags);
	return fd < 0 ? -errno : fd;
}

int walk_io_statx_flags(const char *path)
{
	/* AT_NO_AUTOMOUNT: a stat must never mount an autofs trigger. */
	return path[0] ? AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT : AT_EMPTY_PATH | AT_NO_AUTOMOUNT;
}

static void run_plain(struct walk_io_req *r)
{
	switch (r->op) {
	case WALK_IO_OPEN:
		r->res = walk_io_open(r->dfd, r->path, &r->how);
		break;
	case WALK_IO_STAT:
		r->res = statx(r->dfd, r->path, walk_io_statx_flags(r->path), WALK_STATX_MASK,
			       r->stx) < 0
			     ? -errno
			     : 0;
		break;
	case WALK_IO_CLOSE:
		r->res = close(r->dfd) < 0 ? -errno : 0;
		break;
	default:
		r->res = -EINVAL;
	}
}

int walk_io_init(struct walk_io *io, int is_uring)
{
	memset(io, 0, sizeof(*io));
	if (!is_uring)
		return 0;
	/* SUBMIT_ALL: one bad request must not stop the rest of the batch from being
	 * submitted; COOP_TASKRUN: completions need no interrupt, we always wait for them.
	 * Both are optional (5.18, 5.19): retry without them on older kernels. */
	struct io_uring_params p = {
	    .flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
	};
	int rc = io_uring_queue_init_params(WALK_URING_ENTRIES, &io->ring, &p);
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		rc = io_uring_queue_init_params(WALK_URING_ENTRIES, &io->ring, &p);
	}
	if (rc < 0)
		return rc;
	struct io_uring_probe *probe = io_uring_get_probe_ring(&io->ring);
	int is_complete = probe && io_uring_opcode_supported(probe, IORING_OP_OPENAT2) &&
			  io_uring_opcode_supported(probe, IORING_OP_STATX) &&
			  io_uring_opcode_supported(probe, IORING_OP_CLOSE);
	if (probe)
		io_uring_free_probe(probe);
	if (!is_complete) {
		io_uring_queue_exit(&io->ring);
		return -EOPNOTSUPP;
	}
	io->is_uring = 1;
	return 0;
}

void walk_io_release(struct walk_io *io)
{
	if (io->is_uring)
		io_uring_queue_exit(&io->ring);
	io->is_uring = 0;
}

static void prep(struct io_uring_sqe *sqe, struct walk_io_req *r, size_t i)
{
	switch (r->op) {
	case WALK_IO_OPEN:
		io_uring_prep_openat2(sqe, r->dfd, r->path, &r->how);
		break;
	case WALK_IO_STAT:
		io_uring_prep_statx(sqe, r->dfd, r->path, walk_io_statx_flags(r->path),
				    WALK_STATX_MASK, r->stx);
		break;
	default:
		io_uring_prep_close(sqe, r->dfd);
		break;
	}
	io_uring_sqe_set_data64(sqe, i);
}

void walk_io_run(struct walk_io *io, struct walk_io_req *reqs, size_t n)
{
	size_t next = 0;     /* first request not yet queued */
	size_t inflight = 0; /* queued, not yet completed */
	for (size_t i = 0; i < n; i++)
		reqs[i].res = NOT_DONE;
	while (io->is_uring && (next < n || inflight > 0)) {
		/* Keep at most one ring's worth in flight so the completion queue (twice
		 * the size) can never overflow. */
		/* A stat of an open fd never waits for the disk, and io_uring always hands
		 * STATX to a kernel worker thread: run it here (measured on /: the ring's
		 * round trip made the walk 40% slower). Stats by path may wait for the disk:
		 * those go through the ring, where they run in parallel. */
		while (next < n && reqs[next].op == WALK_IO_STAT && !reqs[next].path[0])
			run_plain(&reqs[next++]);
		if (next == n && inflight == 0)
			break;
		while (next < n && inflight < WALK_URING_ENTRIES &&
		       !(reqs[next].op == WALK_IO_STAT && !reqs[next].path[0])) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
			if (!sqe)
				break;
			prep(sqe, &reqs[next], next);
			next++;
			inflight++;
		}
		int rc = io_uring_submit_and_wait(&io->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			/* The ring is broken (not seen in practice). Tearing it down waits for
			 * what is in flight; requests whose completion we never saw are redone
			 * as plain syscalls below, except closes, which must not run twice. */
			io_uring_queue_exit(&io->ring);
			io->is_uring = 0;
			for (size_t i = 0; i < next; i++) {
				if (reqs[i].res == NOT_DONE && reqs[i].op == WALK_IO_CLOSE)
					reqs[i].res = 0;
			}
			break;
		}
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&io->ring, head, cqe)
		{
			size_t i = (size_t)io_uring_cqe_get_data64(cqe);
			reqs[i].res = cqe->res;
			seen++;
		}
		io_uring_cq_advance(&io->ring, seen);
		inflight -= seen;
	}
	for (size_t i = 0; i < n; i++) {
		if (reqs[i].res == NOT_DONE)
			run_plain(&reqs[i]);
	}
}

void walk_io_run_here(struct walk_io_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_plain(&reqs[i]);
}
