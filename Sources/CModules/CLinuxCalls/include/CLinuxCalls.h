// CLinuxCalls: epoll(7), recvmmsg(2) and sendmmsg(2) for the relay's data plane, with the layout
// of `struct epoll_event` and `struct mmsghdr` as this platform's C compiler sees them.
// Glibc's Swift module leaves these GNU/Linux extensions out, and `struct epoll_event` differs
// by architecture: packed on x86-64 (12 bytes, token at offset 4), naturally aligned on arm64
// (16 bytes, token at offset 8). The definitions live in CLinuxCalls.c, compiled against the
// system headers with _GNU_SOURCE; this header needs none of them.
#ifndef JINGLEKIT_CLINUXCALLS_H
#define JINGLEKIT_CLINUXCALLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 where epoll, recvmmsg and sendmmsg exist (Linux), else 0 and every call fails with ENOSYS.
int jk_linux_calls_available(void);

/// epoll_create1(EPOLL_CLOEXEC).
int jk_epoll_create(void);
/// epoll_ctl(EPOLL_CTL_ADD) for EPOLLIN, level-triggered, reporting `token` (data.u64).
int jk_epoll_add(int epfd, int fd, uint64_t token);
/// epoll_ctl(EPOLL_CTL_DEL).
int jk_epoll_delete(int epfd, int fd);
/// epoll_wait into `events`, an array of `jk_epoll_event_size()`-byte entries.
int jk_epoll_wait(int epfd, void *events, int max_events, int timeout_ms);

/// recvmmsg(fd, vector, count, flags, NULL) on an array of `struct mmsghdr`.
int jk_recvmmsg(int fd, void *vector, unsigned int count, int flags);
/// sendmmsg(fd, vector, count, flags) on an array of `struct mmsghdr`.
int jk_sendmmsg(int fd, void *vector, unsigned int count, int flags);

/// sizeof(struct epoll_event) and offsetof(struct epoll_event, data): where the token is.
size_t jk_epoll_event_size(void);
size_t jk_epoll_event_data_offset(void);
/// sizeof(struct mmsghdr) and offsetof(struct mmsghdr, msg_len).
size_t jk_mmsghdr_size(void);
size_t jk_mmsghdr_len_offset(void);
/// MSG_DONTWAIT and MSG_TRUNC.
int jk_msg_dontwait(void);
int jk_msg_trunc(void);
/// setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd` names
/// (sockets it makes from then on live there; the test suites' private networks use it).
int jk_enter_network_namespace(int fd);

#ifdef __cplusplus
}
#endif

#endif
