// Platform layer: the descriptors and files the shim opens on the program's behalf (report
// files, the saved copy of stderr, descriptors the program closes) and the secure-execution
// flag. Nothing here allocates through malloc.
#pragma once
#include <cstdint>
#include <cstdio>
#include <sys/types.h>

namespace mpshim::prim {

/// Why open_report_file gave no descriptor.
enum class OpenStatus { Ok, Failed, Symlink, NotOwned };

/// Opens `path` for writing a report: created (mode 0644) when missing, never through a
/// final symbolic link (O_NOFOLLOW), and emptied only when it is a regular file owned by
/// `owner` (the effective uid in the shim). A regular file owned by anyone else is left
/// untouched. With `append` it is never emptied and writes go to its end. Returns the
/// descriptor (close-on-exec, never 0, 1 or 2), or -1 with the reason in `*status`.
int open_report_file(const char* path, uid_t owner, OpenStatus* status, bool append = false);
/// Waits until this open file description holds the exclusive flock(2) lock of `fd`'s file,
/// so that processes appending to one file write one at a time; gives up after about 5 s (a
/// stopped process may hold it). Closing `fd` releases it.
void lock_file(int fd);
/// Holds off other processes' reports while one goes to `fd` (stderr), which they may share:
/// a terminal, a pipe, a file. Its own description is shared with every process that
/// inherited it, and a flock(2) lock belongs to a description, so the lock is taken
/// (lock_file) on a new description of the same file, opened through /proc/self/fd.
/// Returns that descriptor, to close when done, or -1 when none can be had (a socket, no
/// /proc, no write permission).
int lock_stream(int fd);
/// The effective user id.
uid_t os_geteuid();

/// True in secure-execution mode (setuid/setgid programs and the like: AT_SECURE).
bool secure_execution();

/// pipe2(2) by system call.
int os_pipe2(int fds[2], int flags);

// libunwind checks that memory is readable by writing it to a pipe that it opens once and
// keeps. The shim gives it instead a pipe at two fixed numbers at the top of the program's
// descriptor range (below 1024) that exists only while some thread runs libunwind for the
// shim, so the program never finds that pipe, closes it, or reuses its numbers under
// libunwind.

/// Before a thread runs libunwind: makes the pipe exist. False when its numbers are the
/// program's: libunwind must not run then.
bool unwinder_pipe_acquire();
/// After: the last thread out closes the pipe.
void unwinder_pipe_release();
/// What pipe2 gives libunwind meanwhile (close-on-exec, non-blocking); made again when
/// libunwind closed it. -1 (EMFILE) when its numbers are the program's.
int unwinder_pipe(int fds[2]);
/// In a forked child, where no thread runs libunwind: closes the pipe the parent had open.
void unwinder_pipe_after_fork_child();
/// libc's close (a cancellation point, as the program's own call would be).
int libc_close(int fd);
/// libc's fclose.
int libc_fclose(FILE* f);
/// The descriptor of a stdio stream, -1 when it has none.
int stream_fd(FILE* f);

/// Before the program closes fd 2: keeps a close-on-exec duplicate of it, numbered 200 or
/// above, so that reports written to fd 2 later still reach it. Nothing happens when a
/// valid copy exists already, or when fd 2 is closed or open for reading only.
void save_stderr();
/// The saved copy of stderr while it still refers to the file saved (the program may close
/// that descriptor and reuse its number); -1 when there is none.
int stderr_copy();
/// True when close_range(2) with these arguments closes fd 2 (not only marks it
/// close-on-exec).
bool range_closes_stderr(unsigned first, unsigned last, int flags);
/// close_range(2), except that the saved copy of stderr stays open: a program that closes
/// every descriptor before it exits still gets its report.
int close_range_but_copy(unsigned first, unsigned last, int flags);
/// closefrom(3) likewise (every descriptor from `low` up, the saved copy excepted).
void closefrom_but_copy(int low);

}  // namespace mpshim::prim
