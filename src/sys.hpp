// src/sys.hpp - every system call pipc makes goes through this table, so that tests can inject
// faults (EINTR, EMFILE, EOVERFLOW, ENOSPC ...) deterministically. Internal; not installed.
#pragma once

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

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

    ::sem_t* (*sem_open)(const char* name, int oflag, ::mode_t mode, unsigned value);
    int (*sem_close)(::sem_t* sem);
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
    int (*chmod)(const char* path, ::mode_t mode);
    int (*close)(int fd);
    void* (*mmap)(void* addr, std::size_t len, int prot, int flags, int fd, ::off_t offset);
    int (*munmap)(void* addr, std::size_t len);
    int (*msync)(void* addr, std::size_t len, int flags);
    int (*ppoll)(::pollfd* fds, ::nfds_t n, const ::timespec* timeout, const ::sigset_t* mask);
    ::ssize_t (*getrandom)(void* buf, std::size_t len, unsigned flags);
    int (*link)(const char* from, const char* to); ///< Publishes a robust mutex atomically.
};

/// The table in use. Tests may overwrite entries and must restore them (see tests/common).
sys_table& sys() noexcept;
/// The real system calls.
const sys_table& real_sys() noexcept;

} // namespace pipc::detail
