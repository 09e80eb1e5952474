#if canImport(Glibc)
import Glibc
#endif
import STUN

/// Linux calls Glibc's Swift module leaves out (`epoll_*`, `recvmmsg`, `sendmmsg`: GNU and
/// Linux extensions), looked up once in the C library. Their structures are laid out by hand:
/// `struct epoll_event` is packed (12 bytes on x86-64: events, then the 64-bit token).
enum LinuxCalls {
    typealias EpollCreate = @convention(c) (CInt) -> CInt
    typealias EpollControl = @convention(c) (CInt, CInt, CInt, UnsafeMutableRawPointer?) -> CInt
    typealias EpollWait = @convention(c) (CInt, UnsafeMutableRawPointer?, CInt, CInt) -> CInt
    typealias ReceiveMany = @convention(c) (CInt, UnsafeMutableRawPointer?, CUnsignedInt, CInt, UnsafeMutableRawPointer?) -> CInt
    typealias SendMany = @convention(c) (CInt, UnsafeMutableRawPointer?, CUnsignedInt, CInt) -> CInt

    static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let pointer = dlsym(handle, name) else { return nil }
        return unsafeBitCast(pointer, to: type)
    }

    static let epollCreate = symbol("epoll_create1", as: EpollCreate.self)
    static let epollControl = symbol("epoll_ctl", as: EpollControl.self)
    static let epollWait = symbol("epoll_wait", as: EpollWait.self)
    static let receiveMany = symbol("recvmmsg", as: ReceiveMany.self)
    static let sendMany = symbol("sendmmsg", as: SendMany.self)

    static let epollIn: UInt32 = 0x001
    static let controlAdd: CInt = 1
    static let controlDelete: CInt = 2
    static let closeOnExec: CInt = 0o2000000
    static let eventSize = 12
    static let dontWait: CInt = 0x40
    static let truncated: CInt = 0x20
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
        guard let create = LinuxCalls.epollCreate, LinuxCalls.epollControl != nil, LinuxCalls.epollWait != nil else {
            throw PollError.unavailable
        }
        let fd = create(LinuxCalls.closeOnExec)
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
        events = .allocate(byteCount: capacity * LinuxCalls.eventSize, alignment: 8)
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
        var event = (UInt32(0), UInt32(0), UInt32(0))
        withUnsafeMutableBytes(of: &event) { raw in
            raw.storeBytes(of: LinuxCalls.epollIn, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: token, toByteOffset: 4, as: UInt64.self)
        }
        return withUnsafeMutableBytes(of: &event) { LinuxCalls.epollControl?(fd, LinuxCalls.controlAdd, socket, $0.baseAddress) ?? -1 } == 0
    }

    func unregister(_ socket: CInt) {
        _ = LinuxCalls.epollControl?(fd, LinuxCalls.controlDelete, socket, nil)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and calls `ready` with each token.
    func wait(timeoutMilliseconds: CInt, _ ready: (UInt64) -> Void) {
        let n = LinuxCalls.epollWait?(fd, events, CInt(capacity), timeoutMilliseconds) ?? -1
        guard n > 0 else { return }
        for i in 0..<Int(n) {
            let token = events.loadUnaligned(fromByteOffset: i * LinuxCalls.eventSize + 4, as: UInt64.self)
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
        if let receiveMany = LinuxCalls.receiveMany {
            n = receiveMany(fd, UnsafeMutableRawPointer(headers), CUnsignedInt(count), LinuxCalls.dontWait, nil)
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
