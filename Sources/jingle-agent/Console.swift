#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// The agent's output: reports on stdout, progress and errors on stderr, and on a terminal a
/// status line redrawn in place. Every write goes straight to the file descriptor (no buffering),
/// so a process reading our output sees each line as soon as it is written.
final class Console: Sendable {
    static let shared = Console()

    /// Whether stdout is a terminal (only then is a status line drawn).
    let stdoutIsTerminal: Bool
    /// Whether stdin and stderr are a terminal (only then can we ask a question).
    let canPrompt: Bool
    private let state = Mutex<State>(State())

    private struct State {
        var quiet = false
        var statusShown = false
        /// A question waits for its answer: the status line must not overwrite it.
        var prompting = false
    }

    init() {
        stdoutIsTerminal = isatty(1) == 1
        canPrompt = isatty(0) == 1 && isatty(2) == 1
    }

    func setQuiet(_ quiet: Bool) { state.withLock { $0.quiet = quiet } }

    var showsStatusLine: Bool { stdoutIsTerminal && !state.withLock { $0.quiet } }

    /// A report or other result: always written, to stdout.
    func output(_ text: String) {
        state.withLock { s in
            clearStatus(&s)
            Self.emit(1, text.hasSuffix("\n") ? text : text + "\n")
        }
    }

    /// Progress, to stderr unless quiet.
    func progress(_ text: String) {
        state.withLock { s in
            guard !s.quiet else { return }
            clearStatus(&s)
            Self.emit(2, "jingle-agent: " + text + "\n")
        }
    }

    /// An error line, to stderr even when quiet.
    func error(_ text: String) {
        state.withLock { s in
            clearStatus(&s)
            Self.emit(2, text + "\n")
        }
    }

    /// A question on stderr, without a line end, even when quiet; the status line pauses until `answered()`.
    func prompt(_ text: String) {
        state.withLock { s in
            clearStatus(&s)
            s.prompting = true
            Self.emit(2, text)
        }
    }

    func answered() { state.withLock { $0.prompting = false } }

    /// Redraws the status line (terminal only, not quiet).
    func status(_ text: String) {
        guard stdoutIsTerminal else { return }
        state.withLock { s in
            guard !s.quiet, !s.prompting else { return }
            Self.emit(1, "\r\u{1B}[2K" + text)
            s.statusShown = true
        }
    }

    func clearStatus() { state.withLock { clearStatus(&$0) } }

    private func clearStatus(_ s: inout State) {
        guard s.statusShown else { return }
        Self.emit(1, "\r\u{1B}[2K")
        s.statusShown = false
    }

    private static func emit(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}
