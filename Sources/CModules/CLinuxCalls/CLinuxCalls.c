// See include/CLinuxCalls.h.
#define _GNU_SOURCE
#include "CLinuxCalls.h"

#include <errno.h>

#ifdef __linux__
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>

int jk_linux_calls_available(void) { return 1; }

int jk_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int jk_epoll_add(int epfd, int fd, uint64_t token) {
    struct epoll_event event = { .events = EPOLLIN, .data = { .u64 = token } };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int jk_epoll_delete(int epfd, int fd) {
    struct epoll_event unused = { 0 };  // kernels before 2.6.9 insist on a non-null pointer
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &unused);
}

int jk_epoll_wait(int epfd, void *events, int max_events, int timeout_ms) {
    return epoll_wait(epfd, (struct epoll_event *)events, max_events, timeout_ms);
}

int jk_recvmmsg(int fd, void *vector, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)vector, count, flags, NULL);
}

int jk_sendmmsg(int fd, void *vector, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)vector, count, flags);
}

size_t jk_epoll_event_size(void) { return sizeof(struct epoll_event); }
size_t jk_epoll_event_data_offset(void) { return offsetof(struct epoll_event, data); }
size_t jk_mmsghdr_size(void) { return sizeof(struct mmsghdr); }
size_t jk_mmsghdr_len_offset(void) { return offsetof(struct mmsghdr, msg_len); }
int jk_msg_dontwait(void) { return MSG_DONTWAIT; }
int jk_msg_trunc(void) { return MSG_TRUNC; }
int jk_enter_network_namespace(int fd) { return setns(fd, CLONE_NEWNET); }

#else

int jk_linux_calls_available(void) { return 0; }
int jk_epoll_create(void) { errno = ENOSYS; return -1; }
int jk_epoll_add(int epfd, int fd, uint64_t token) { (void)epfd; (void)fd; (void)token; errno = ENOSYS; return -1; }
int jk_epoll_delete(int epfd, int fd) { (void)epfd; (void)fd; errno = ENOSYS; return -1; }
int jk_epoll_wait(int epfd, void *events, int max_events, int timeout_ms) {
    (void)epfd; (void)events; (void)max_events; (void)timeout_ms; errno = ENOSYS; return -1;
}
int jk_recvmmsg(int fd, void *vector, unsigned int count, int flags) {
    (void)fd; (void)vector; (void)count; (void)flags; errno = ENOSYS; return -1;
}
int jk_sendmmsg(int fd, void *vector, unsigned int count, int flags) {
    (void)fd; (void)vector; (void)count; (void)flags; errno = ENOSYS; return -1;
}
size_t jk_epoll_event_size(void) { return 12; }
size_t jk_epoll_event_data_offset(void) { return 4; }
size_t jk_mmsghdr_size(void) { return 0; }
size_t jk_mmsghdr_len_offset(void) { return 0; }
int jk_msg_dontwait(void) { return 0x40; }
int jk_msg_trunc(void) { return 0x20; }

int jk_enter_network_namespace(int fd) { (void)fd; errno = ENOSYS; return -1; }
#endif
