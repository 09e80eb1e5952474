#if canImport(Glibc)
    import Glibc
#endif
import CLinuxCalls
import Testing
@testable import RelayServer

/// The data plane's C structures as the platform's C compiler lays them out (through the
/// `CLinuxCalls` shim) against what the Swift code uses: `struct epoll_event` is 12 bytes with
/// the token at 4 on x86-64 (packed) and 16 bytes with the token at 8 on arm64; `struct mmsghdr`
/// is 64 bytes with `msg_len` at 56 on both.
@Suite struct RelayLayoutTests {
    @Test func epollEventLayoutComesFromC() {
        #expect(LinuxCalls.eventSize == jk_epoll_event_size())
        #expect(LinuxCalls.eventTokenOffset == jk_epoll_event_data_offset())
        #if arch(x86_64)
            #expect(LinuxCalls.eventSize == 12)
            #expect(LinuxCalls.eventTokenOffset == 4)
        #elseif arch(arm64)
            #expect(LinuxCalls.eventSize == 16)
            #expect(LinuxCalls.eventTokenOffset == 8)
        #endif
    }

    @Test func messageVectorEntryIsCsMmsghdr() {
        #expect(MemoryLayout<MessageVectorEntry>.stride == jk_mmsghdr_size())
        #expect(MemoryLayout<MessageVectorEntry>.offset(of: \.msg_len) == jk_mmsghdr_len_offset())
        #expect(MemoryLayout<MessageVectorEntry>.offset(of: \.msg_hdr) == 0)
        #expect(LinuxCalls.messageVectorLayoutMatches)
        #expect(LinuxCalls.dontWait == MSG_DONTWAIT)
        #expect(LinuxCalls.truncated == MSG_TRUNC)
    }

    /// A 64-bit token registered through the shim comes back whole from `wait`, for several
    /// ready descriptors at once (a wrong stride or offset would mangle the second one).
    @Test func tokensSurviveARoundTripThroughEpoll() throws {
        let poll = try EventPoll()
        var pipes: [(read: CInt, write: CInt)] = []
        defer { for p in pipes { close(p.read); close(p.write) } }
        let tokens: [UInt64] = [0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, 7]
        for token in tokens {
            var fds: [CInt] = [0, 0]
            #expect(pipe(&fds) == 0)
            pipes.append((fds[0], fds[1]))
            #expect(poll.register(fds[0], token: token))
            var byte: UInt8 = 1
            #expect(write(fds[1], &byte, 1) == 1)
        }
        var seen: [UInt64] = []
        poll.wait(timeoutMilliseconds: 1000) { seen.append($0) }
        #expect(seen.sorted() == tokens.sorted())
    }

    /// recvmmsg/sendmmsg through the shim: a batch of three datagrams sent with one `sendmmsg`
    /// arrives in one `recvmmsg` with each length and source right.
    @Test func batchedSendAndReceive() throws {
        let receiver = try DirectUDPSocket(
            binding: .init(ip: .v4(0x7F00_0001), port: 0), bufferBytes: 0, reuseAddress: false, batched: false)
        let sender = try DirectUDPSocket(binding: .init(ip: .v4(0x7F00_0001), port: 0), bufferBytes: 0, reuseAddress: false, batched: true)
        let sizes = [1, 100, 1200]
        for size in sizes {
            _ = sender.stage(length: size, to: receiver.local) { out in
                for i in out.indices { out[i] = UInt8(truncatingIfNeeded: size) }
            }
        }
        sender.flush()
        #expect(sender.sendErrors == 0)
        let batch = ReceiveBatch(capacity: 8)
        var received: [[UInt8]] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while received.count < sizes.count, ContinuousClock.now < deadline {
            let n = batch.receive(fd: receiver.fd, limit: 8)
            #expect(n >= 0)
            for i in 0..<max(n, 0) {
                received.append(Array(try #require(batch.bytes(i))))
                #expect(batch.source(i) == sender.local)
            }
            if n == 0 { var p = pollfd(fd: receiver.fd, events: Int16(POLLIN), revents: 0); _ = Glibc.poll(&p, 1, 100) }
        }
        #expect(received.map(\.count) == sizes)
        #expect(received.map { $0.first } == sizes.map { UInt8(truncatingIfNeeded: $0) })
    }
}
