#if canImport(Glibc)
    import Glibc
#endif
internal import CLinuxCalls
import STUN

/// Linux calls Glibc's Swift module leaves out (`epoll_*`, `recvmmsg`, `sendmmsg`: GNU and
/// Linux extensions), through the `CLinuxCalls` C shim, compiled against the system headers.
/// The layouts come from the C side too: `struct epoll_event` is packed on x86-64 (12 bytes,
/// token at 4) and naturally aligned on arm64 (16 bytes, token at 8).
enum LinuxCalls {
    static let available = jk_linux_calls_available() != 0
    /// sizeof(struct epoll_event) and offsetof(struct epoll_event, data).
    static let eventSize = Int(jk_epoll_event_size())
    static let eventTokenOffset = Int(jk_epoll_event_data_offset())
    /// sizeof(struct mmsghdr) and offsetof(struct mmsghdr, msg_len).
    static let messageVectorEntrySize = Int(jk_mmsghdr_size())
    static let messageVectorLengthOffset = Int(jk_mmsghdr_len_offset())
    static let dontWait = jk_msg_dontwait()
    static let truncated = jk_msg_trunc()

    /// Whether `MessageVectorEntry` is laid out as this platform's `struct mmsghdr`.
    static var messageVectorLayoutMatches: Bool {
        MemoryLayout<MessageVectorEntry>.stride == messageVectorEntrySize
            && MemoryLayout<MessageVectorEntry>.offset(of: \.msg_len) == messageVectorLengthOffset
    }
}

/// One epoll instance and a wake-up pipe (epoll(7)), level-triggered: a socket with data left
/// is reported again on the next wait. Owns both descriptors.
final class EventPoll {
    let fd: CInt
    private let wakeRead: CInt
    private let wakeWrite: CInt
    /// The token reported for the wake-up pipe.
    static let wakeToken = UInt64.max
    let capacity = 128
    private let events: UnsafeMutableRawPointer
    /// `struct epoll_event`'s size and the token's offset in it, from C (see `LinuxCalls`).
    private let eventSize = LinuxCalls.eventSize
    private let tokenOffset = LinuxCalls.eventTokenOffset

    enum PollError: Error, CustomStringConvertible {
        case unavailable, create(Int32)
        var description: String {
            switch self {
            case .unavailable: "epoll is not available on this system"
            case .create(let e): "epoll_create1/pipe: \(String(cString: strerror(e)))"
            }
        }
    }

    init() throws {
        guard LinuxCalls.available, LinuxCalls.messageVectorLayoutMatches else { throw PollError.unavailable }
        let fd = jk_epoll_create()
        guard fd >= 0 else { throw PollError.create(errno) }
        var pipeFDs: [CInt] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            let e = errno
            close(fd)
            throw PollError.create(e)
        }
        for end in pipeFDs {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        self.fd = fd
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        events = .allocate(byteCount: capacity * eventSize, alignment: 8)
        register(wakeRead, token: EventPoll.wakeToken)
    }

    deinit {
        close(fd)
        close(wakeRead)
        close(wakeWrite)
        events.deallocate()
    }

    @discardableResult
    func register(_ socket: CInt, token: UInt64) -> Bool {
        jk_epoll_add(fd, socket, token) == 0
    }

    func unregister(_ socket: CInt) {
        _ = jk_epoll_delete(fd, socket)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and calls `ready` with each token.
    func wait(timeoutMilliseconds: CInt, _ ready: (UInt64) -> Void) {
        let n = jk_epoll_wait(fd, events, CInt(capacity), timeoutMilliseconds)
        guard n > 0 else { return }
        for i in 0..<Int(n) {
            let token = events.loadUnaligned(fromByteOffset: i * eventSize + tokenOffset, as: UInt64.self)
            if token == EventPoll.wakeToken {
                drainWake()
            } else {
                ready(token)
            }
        }
    }

    /// Makes a `wait` in progress (or the next one) return. Safe from any thread.
    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func drainWake() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }
}

/// Preallocated slots for one `recvmmsg`: headers, vectors, source addresses and data.
final class ReceiveBatch {
    let capacity: Int
    let slotSize: Int
    private let headers: UnsafeMutablePointer<MessageVectorEntry>
    private let vectors: UnsafeMutablePointer<iovec>
    private let addresses: UnsafeMutablePointer<sockaddr_storage>
    private let data: UnsafeMutableRawPointer

    init(capacity: Int = 64, slotSize: Int = 4096) {
        self.capacity = capacity
        self.slotSize = slotSize
        headers = .allocate(capacity: capacity)
        headers.initialize(repeating: MessageVectorEntry(), count: capacity)
        vectors = .allocate(capacity: capacity)
        vectors.initialize(repeating: iovec(), count: capacity)
        addresses = .allocate(capacity: capacity)
        addresses.initialize(repeating: sockaddr_storage(), count: capacity)
        data = .allocate(byteCount: capacity * slotSize, alignment: 16)
    }

    deinit {
        headers.deallocate()
        vectors.deallocate()
        addresses.deallocate()
        data.deallocate()
    }

    /// Receives up to `limit` datagrams without blocking; returns how many, 0 when none wait,
    /// or -errno on an error.
    func receive(fd: CInt, limit: Int) -> Int {
        let count = min(limit, capacity)
        for i in 0..<count {
            vectors[i] = iovec(iov_base: data + i * slotSize, iov_len: slotSize)
            headers[i] = MessageVectorEntry()
            headers[i].msg_hdr.msg_name = UnsafeMutableRawPointer(addresses + i)
            headers[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            headers[i].msg_hdr.msg_iov = vectors + i
            headers[i].msg_hdr.msg_iovlen = 1
        }
        let n: CInt
        if LinuxCalls.available {
            n = jk_recvmmsg(fd, UnsafeMutableRawPointer(headers), CUnsignedInt(count), LinuxCalls.dontWait)
        } else {
            let one = recvmsg(fd, &headers[0].msg_hdr, LinuxCalls.dontWait)
            if one >= 0 { headers[0].msg_len = CUnsignedInt(one) }
            n = one >= 0 ? 1 : -1
        }
        if n >= 0 { return Int(n) }
        let e = errno
        return e == EAGAIN || e == EWOULDBLOCK || e == EINTR ? 0 : -Int(e)
    }

    /// The `i`th datagram received, nil if it was cut short (larger than a slot).
    func bytes(_ i: Int) -> UnsafeRawBufferPointer? {
        guard headers[i].msg_hdr.msg_flags & LinuxCalls.truncated == 0 else { return nil }
        return UnsafeRawBufferPointer(start: data + i * slotSize, count: Int(headers[i].msg_len))
    }

    /// Where the `i`th datagram came from.
    func source(_ i: Int) -> TransportAddress? {
        SocketAddressBytes.read(addresses + i)
    }
}
