// SPDX-License-Identifier: BSL-1.0
#include "sys.hpp"

#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

namespace pipc::detail {
namespace {

// mq_open and open are variadic; fixed-arity shims make them storable in the table.
::mqd_t mq_open_shim(const char* name, int oflag, ::mode_t mode, ::mq_attr* attr) {
    return ::mq_open(name, oflag, mode, attr);
}
int open_shim(const char* path, int flags, ::mode_t mode) {
    return ::open(path, flags, mode);
}
int fstatat_shim(int dirfd, const char* path, struct ::stat* st, int flags) {
    return ::fstatat(dirfd, path, st, flags);
}
int fstat_shim(int fd, struct ::stat* st) {
    return ::fstat(fd, st);
}

const sys_table real_table{
    .mq_open = mq_open_shim,
    .mq_close = ::mq_close,
    .mq_unlink = ::mq_unlink,
    .mq_timedsend = ::mq_timedsend,
    .mq_timedreceive = ::mq_timedreceive,
    .mq_getattr = ::mq_getattr,
    .mq_setattr = ::mq_setattr,
    .mq_notify = ::mq_notify,
    .sem_unlink = ::sem_unlink,
    .sem_wait = ::sem_wait,
    .sem_trywait = ::sem_trywait,
    .sem_clockwait = ::sem_clockwait,
    .sem_post = ::sem_post,
    .sem_getvalue = ::sem_getvalue,
    .shm_open = ::shm_open,
    .shm_unlink = ::shm_unlink,
    .ftruncate = ::ftruncate,
    .posix_fallocate = ::posix_fallocate,
    .fstat = fstat_shim,
    .fchmod = ::fchmod,
    .close = ::close,
    .open = open_shim,
    .fstatat = fstatat_shim,
    .linkat = ::linkat,
    .pwrite = ::pwrite,
    .mkfifo = ::mkfifo,
    .read = ::read,
    .write = ::write,
    .unlink = ::unlink,
    .mmap = ::mmap,
    .munmap = ::munmap,
    .msync = ::msync,
    .ppoll = ::ppoll,
    .getrandom = ::getrandom,
    .link = ::link,
    .pthread_create = ::pthread_create,
};

sys_table current_table = real_table;

} // namespace

sys_table& sys() noexcept {
    return current_table;
}
const sys_table& real_sys() noexcept {
    return real_table;
}

} // namespace pipc::detail
