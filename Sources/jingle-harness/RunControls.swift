import Foundation
import Harness
#if canImport(Glibc)
    import Glibc
#endif

/// The run-time controls of `jingle-harness run`, in the manner of SIPp's: SIGINT (or `q`) stops
/// placing calls and lets calls in flight finish (a second SIGINT quits at once); SIGUSR1 pauses
/// placing calls and SIGUSR2 resumes; on a terminal, `p` toggles pause, `+`/`-` raise or lower
/// the rate (by `rateStep` calls/s, or by 10 % without one) and `q` stops.
///
/// The terminal goes into non-canonical, no-echo mode while the controls are on (signals keep
/// working, so ^C still stops), and `finish()` puts it back: call it on every way out.
final class RunControls: @unchecked Sendable {
    private let runner: LoadRunner
    private let rateStep: Double?
    private let lock = NSLock()
    private var sources: [DispatchSourceProtocol] = []
    private var savedTerminal: termios?
    private var interrupts = 0

    /// Ignores the control signals until `start` handles them, so an early one does not kill the process.
    static func ignoreSignals() {
        for number in [SIGINT, SIGUSR1, SIGUSR2] { signal(number, SIG_IGN) }
    }

    init(runner: LoadRunner, rateStep: Double?) {
        self.runner = runner
        self.rateStep = rateStep
    }

    /// Installs the signal handlers, and the key reader when stdin is a terminal (unless `keys` is false).
    func start(keys: Bool) {
        Self.ignoreSignals()
        add(signal: SIGINT) { [self] in interrupt() }
        add(signal: SIGUSR1) { [self] in pause() }
        add(signal: SIGUSR2) { [self] in resume() }
        guard keys, isatty(STDIN_FILENO) == 1, enterKeyMode() else { return }
        // A terminal left in key mode is unusable: restore it before SIGTERM or SIGHUP end us.
        for number in [SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            add(signal: number) { [self] in
                finish()
                Foundation.exit(128 + number)
            }
        }
        let reader = DispatchSource.makeReadSource(fileDescriptor: STDIN_FILENO, queue: .global())
        reader.setEventHandler { [self] in
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(STDIN_FILENO, &buffer, buffer.count)
            guard count > 0 else { reader.cancel(); return }
            for byte in buffer.prefix(count) { key(byte) }
        }
        reader.resume()
        lock.withLock { sources.append(reader) }
        say("keys: p pause/resume, + faster, - slower, q stop")
    }

    /// Stops handling signals and keys and restores the terminal. Safe to call more than once.
    func finish() {
        let (all, saved) = lock.withLock {
            defer { sources = []; savedTerminal = nil }
            return (sources, savedTerminal)
        }
        for source in all { source.cancel() }
        if var saved { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
    }

    private func add(signal number: Int32, _ handler: @escaping @Sendable () -> Void) {
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        lock.withLock { sources.append(source) }
    }

    /// Non-canonical input without echo; ISIG stays on, and output processing is untouched.
    private func enterKeyMode() -> Bool {
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return false }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return false }
        lock.withLock { savedTerminal = original }
        return true
    }

    private func key(_ byte: UInt8) {
        switch Character(Unicode.Scalar(byte)) {
        case "p", "P":
            Task { [runner, self] in
                if await runner.isPaused { resume() } else { pause() }
            }
        case "+", "=": changeRate(up: true)
        case "-", "_": changeRate(up: false)
        case "q", "Q": stop("q key")
        default: break
        }
    }

    private func interrupt() {
        let count = lock.withLock {
            interrupts += 1; return interrupts
        }
        if count > 1 {
            finish()
            Foundation.exit(130)
        }
        stop("SIGINT")
    }

    private func stop(_ how: String) {
        say("stopping: no new calls, waiting for calls in flight (^C again to quit)")
        Task { [runner] in await runner.stop(.interrupted(how)) }
    }

    private func pause() {
        say("pausing: no new calls until SIGUSR2 or p; calls in flight carry on")
        Task { [runner] in await runner.pause() }
    }

    private func resume() {
        Task { [runner, self] in
            await runner.resume()
            say(String(format: "resumed at %.1f calls/s", await runner.rate))
        }
    }

    private func changeRate(up: Bool) {
        let step = rateStep
        Task { [runner, self] in
            let rate = await runner.rate
            let delta = step ?? rate * 0.1
            await runner.setRate(up ? rate + delta : rate - delta)
            say(String(format: "rate %.1f calls/s", await runner.rate))
        }
    }

    private func say(_ text: String) {
        FileHandle.standardError.write(Data("\n\(text)\n".utf8))
    }
}
