// SPDX-License-Identifier: BSL-1.0
// src/sys.hpp - every system call pipc makes goes through this table, so that tests can inject
// faults (EINTR, EMFILE, EOVERFLOW, ENOSPC ...) deterministically. Internal; not installed.
#pragma once

#include <pipc/export.hpp>

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <cerrno>
#include <cstddef>

namespace pipc::detail {

struct sys_table {
    ::mqd_t (*mq_open)(const char* name, int oflag, ::mode_t mode, ::mq_attr* attr);
    int (*mq_close)(::mqd_t mqd);
    int (*mq_unlink)(const char* name);
    int (*mq_timedsend)(::mqd_t mqd, const char* msg, std::size_t len, unsigned prio,
                        const ::timespec* abs_timeout);
    ::ssize_t (*mq_timedreceive)(::mqd_t mqd, char* msg, std::size_t len, unsigned* prio,
                                 const ::timespec* abs_timeout);
    int (*mq_getattr)(::mqd_t mqd, ::mq_attr* attr);
    int (*mq_setattr)(::mqd_t mqd, const ::mq_attr* attr, ::mq_attr* old);
    int (*mq_notify)(::mqd_t mqd, const ::sigevent* sev);

    int (*sem_unlink)(const char* name);
    int (*sem_wait)(::sem_t* sem);
    int (*sem_trywait)(::sem_t* sem);
    int (*sem_clockwait)(::sem_t* sem, ::clockid_t clock, const ::timespec* abs_timeout);
    int (*sem_post)(::sem_t* sem);
    int (*sem_getvalue)(::sem_t* sem, int* value);

    int (*shm_open)(const char* name, int oflag, ::mode_t mode);
    int (*shm_unlink)(const char* name);
    int (*ftruncate)(int fd, ::off_t length);
    int (*posix_fallocate)(int fd, ::off_t offset, ::off_t len); ///< Returns the error, not -1.
    int (*fstat)(int fd, struct ::stat* st);
    int (*fchmod)(int fd, ::mode_t mode);
    int (*close)(int fd);
    int (*open)(const char* path, int flags, ::mode_t mode);
    int (*fstatat)(int dirfd, const char* path, struct ::stat* st, int flags);
    int (*linkat)(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags);
    ::ssize_t (*pwrite)(int fd, const void* buf, std::size_t len, ::off_t offset);
    int (*mkfifo)(const char* path, ::mode_t mode); ///< A channel's doorbell.
    ::ssize_t (*read)(int fd, void* buf, std::size_t len);
    ::ssize_t (*write)(int fd, const void* buf, std::size_t len);
    int (*unlink)(const char* path);
    void* (*mmap)(void* addr, std::size_t len, int prot, int flags, int fd, ::off_t offset);
    int (*munmap)(void* addr, std::size_t len);
    int (*msync)(void* addr, std::size_t len, int flags);
    int (*ppoll)(::pollfd* fds, ::nfds_t n, const ::timespec* timeout, const ::sigset_t* mask);
    ::ssize_t (*getrandom)(void* buf, std::size_t len, unsigned flags);
    int (*link)(const char* from, const char* to); ///< Publishes a robust mutex atomically.
    /// Starts pipc's own threads (src/helper_thread.hpp). Returns the error, not -1.
    int (*pthread_create)(::pthread_t* thread, const ::pthread_attr_t* attr, void* (*start)(void*),
                          void* arg);
};

// A shared libpipc hides everything but the public API; a build with pipc's tests exports these two
// as well, so the fault-injection tests run against the shared library too.
#if PIPC_EXPORT_TEST_HOOKS
#define PIPC_TEST_HOOK PIPC_API
#else
#define PIPC_TEST_HOOK
#endif
/// Every entry of sys_table with the errnos its man page lists, so that the fault-injection sweep
/// (tests/core/faults.cpp) covers a new system call as soon as it is added here. X(call, (errnos)).
/// posix_fallocate and pthread_create return their error instead of setting errno; mmap fails
/// with MAP_FAILED.
#define PIPC_SYS_CALLS(X)                                                                          \
    X(mq_open, (EACCES, EEXIST, EINVAL, EMFILE, ENAMETOOLONG, ENFILE, ENOENT, ENOMEM, ENOSPC))     \
    X(mq_close, (EBADF))                                                                           \
    X(mq_unlink, (EACCES, ENAMETOOLONG, ENOENT))                                                   \
    X(mq_timedsend, (EAGAIN, EBADF, EINTR, EINVAL, EMSGSIZE, ETIMEDOUT))                           \
    X(mq_timedreceive, (EAGAIN, EBADF, EINTR, EINVAL, EMSGSIZE, ETIMEDOUT))                        \
    X(mq_getattr, (EBADF, EINVAL))                                                                 \
    X(mq_setattr, (EBADF, EINVAL))                                                                 \
    X(mq_notify, (EBADF, EBUSY, EINVAL, ENOMEM))                                                   \
    X(sem_unlink, (EACCES, ENAMETOOLONG, ENOENT))                                                  \
    X(sem_wait, (EINTR, EINVAL))                                                                   \
    X(sem_trywait, (EAGAIN, EINTR, EINVAL))                                                        \
    X(sem_clockwait, (EINTR, EINVAL, ETIMEDOUT))                                                   \
    X(sem_post, (EINVAL, EOVERFLOW))                                                               \
    X(sem_getvalue, (EINVAL))                                                                      \
    X(shm_open, (EACCES, EEXIST, EINVAL, EMFILE, ENAMETOOLONG, ENFILE, ENOENT))                    \
    X(shm_unlink, (EACCES, ENAMETOOLONG, ENOENT))                                                  \
    X(ftruncate, (EFBIG, EINTR, EINVAL, EIO, EPERM, EROFS, ETXTBSY, EBADF))                        \
    X(posix_fallocate, (EBADF, EFBIG, EINTR, EINVAL, ENODEV, ENOSPC, ESPIPE))                      \
    X(fstat, (EBADF, EFAULT, ENOMEM, EOVERFLOW))                                                   \
    X(fchmod, (EBADF, EIO, ELOOP, ENOMEM, EPERM, EROFS))                                           \
    X(close, (EBADF, EINTR, EIO, ENOSPC, EDQUOT))                                                  \
    X(open, (EACCES, EDQUOT, EEXIST, EFBIG, EINTR, EINVAL, EISDIR, ELOOP, EMFILE, ENAMETOOLONG,    \
             ENFILE, ENOENT, ENOMEM, ENOSPC, ENOTDIR, EOPNOTSUPP, EPERM, EROFS))                   \
    X(fstatat, (EACCES, EBADF, ELOOP, ENAMETOOLONG, ENOENT, ENOMEM, ENOTDIR, EOVERFLOW))           \
    X(linkat, (EACCES, EDQUOT, EEXIST, EIO, ELOOP, EMLINK, ENAMETOOLONG, ENOENT, ENOMEM, ENOSPC,   \
               ENOTDIR, EPERM, EROFS, EXDEV))                                                      \
    X(pwrite, (EAGAIN, EBADF, EDQUOT, EFBIG, EINTR, EINVAL, EIO, ENOSPC, EPERM))                   \
    X(mkfifo, (EACCES, EDQUOT, EEXIST, ENAMETOOLONG, ENOENT, ENOSPC, ENOTDIR, EROFS))              \
    X(read, (EAGAIN, EBADF, EFAULT, EINTR, EINVAL, EIO, EISDIR))                                   \
    X(write, (EAGAIN, EBADF, EDQUOT, EFAULT, EFBIG, EINTR, EINVAL, EIO, ENOSPC, EPERM, EPIPE))     \
    X(unlink,                                                                                      \
      (EACCES, EBUSY, EIO, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOMEM, ENOTDIR, EPERM, EROFS))    \
    X(mmap, (EACCES, EAGAIN, EBADF, EINVAL, ENFILE, ENODEV, ENOMEM, EOVERFLOW, EPERM))             \
    X(munmap, (EINVAL))                                                                            \
    X(msync, (EBUSY, EINVAL, ENOMEM))                                                              \
    X(ppoll, (EFAULT, EINTR, EINVAL, ENOMEM))                                                      \
    X(getrandom, (EAGAIN, EFAULT, EINTR, EINVAL, ENOSYS))                                          \
    X(link, (EACCES, EDQUOT, EEXIST, EIO, ELOOP, EMLINK, ENAMETOOLONG, ENOENT, ENOMEM, ENOSPC,     \
             ENOTDIR, EPERM, EROFS, EXDEV))                                                        \
    X(pthread_create, (EAGAIN, EINVAL, EPERM))

/// The table in use. Tests may overwrite entries and must restore them (see tests/common).
PIPC_TEST_HOOK sys_table& sys() noexcept;
/// The real system calls.
PIPC_TEST_HOOK const sys_table& real_sys() noexcept;

// Expands to "+1" per entry inside the sum below, so it cannot be parenthesised.
#define PIPC_SYS_COUNT_ONE(call, errnos) +1 // NOLINT(bugprone-macro-parentheses)
/// A call added to sys_table but not to PIPC_SYS_CALLS would escape the sweep.
static_assert(sizeof(sys_table) == (0 PIPC_SYS_CALLS(PIPC_SYS_COUNT_ONE)) * sizeof(void (*)()),
              "every sys_table entry must be listed in PIPC_SYS_CALLS");
#undef PIPC_SYS_COUNT_ONE

} // namespace pipc::detail
