import Dispatch
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// SIGINT and SIGTERM as an async stream, so the agent can hang up (retract a proposal, cancel a
/// ringing call, terminate an active one) before it exits. A second signal exits at once.
final class SignalWatcher: @unchecked Sendable { // `sources` is only touched in init and deinit
    let signals: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init() {
        let (stream, sink) = AsyncStream.makeStream(of: Int32.self)
        signals = stream
        var made: [any DispatchSourceSignal] = []
        let count = SignalCount()
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if count.increment() > 1 { _exit(128 + number) }
                sink.yield(number)
            }
            source.resume()
            made.append(source)
        }
        sources = made
    }

    deinit {
        for s in sources { s.cancel() }
    }
}

/// How many signals arrived (the handler runs on a dispatch queue).
private final class SignalCount: @unchecked Sendable {
    private var value = 0
    private let lock = DispatchQueue(label: "jingle-agent.signals")
    func increment() -> Int {
        lock.sync {
            value += 1; return value
        }
    }
}

/// The name of a signal for messages.
func signalName(_ number: Int32) -> String {
    number == SIGINT ? "SIGINT" : number == SIGTERM ? "SIGTERM" : "signal \(number)"
}
