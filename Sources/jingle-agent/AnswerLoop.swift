import Dispatch
import Jingle
import JingleKit
import XMPPCore

/// What `answer` does with a call it admits.
enum AnswerMode: Sendable {
    /// Accept, after letting the call ring for `delay` (`--auto [--answer-after S]`, `echo`).
    case auto(delay: Duration)
    /// Decline with `<busy/>` (`--busy`).
    case busy
    /// Decline with `<decline/>` (`--decline`).
    case decline
    /// Ask on the terminal, y/n.
    case prompt
    /// Let it ring until the caller gives up or another device answers (no terminal to ask on).
    case ring
}

/// Receives calls for `answer` and `echo`: each admitted call runs in its own task, up to
/// `--max-concurrent` at a time; after `--max-calls` finished calls (or a signal) it stops.
actor AnswerLoop {
    struct Limits: Sendable {
        var allowed: [JID]
        var maxCalls: Int?
        var maxConcurrent: Int?
    }

    let session: AgentSession
    let options: CallOptions
    let mode: AnswerMode
    let echo: Bool
    let limits: Limits
    let board: StatusBoard
    private let prompter = Prompter()
    private var admitted = 0
    private var inFlight = 0
    private var finished = 0
    private(set) var exitCode: AgentExitCode = .success
    private var stopping = false
    private var doneWaiters: [CheckedContinuation<Void, Never>] = []

    init(session: AgentSession, options: CallOptions, mode: AnswerMode, echo: Bool, limits: Limits, board: StatusBoard) {
        self.session = session
        self.options = options
        self.mode = mode
        self.echo = echo
        self.limits = limits
        self.board = board
    }

    /// Takes calls from the manager until stopped.
    func run() async {
        let incoming = Task { [session] in
            for await call in session.manager.incomingCalls { self.receive(call) }
        }
        await withCheckedContinuation { continuation in
            if stopping && inFlight == 0 { continuation.resume() } else { doneWaiters.append(continuation) }
        }
        incoming.cancel()
    }

    /// Stops taking calls and hangs up those going on (a signal).
    func stop() async {
        stopping = true
        await session.hangUpAll()
        checkDone()
    }

    private func receive(_ call: Call) {
        let from = call.peer
        if stopping {
            refuse(call, Reason(.busy), "refusing call from \(from): stopping")
            return
        }
        if !limits.allowed.isEmpty, !limits.allowed.contains(where: { Self.matches($0, from) }) {
            Console.shared.progress("ignoring call from \(from): not in --from")
            return
        }
        if let max = limits.maxCalls, admitted >= max {
            refuse(call, Reason(.busy), "refusing call from \(from) as busy: --max-calls \(max) reached")
            return
        }
        if let max = limits.maxConcurrent, inFlight >= max {
            refuse(call, Reason(.busy), "refusing call from \(from) as busy: --max-concurrent \(max) calls going on")
            return
        }
        admitted += 1
        inFlight += 1
        Console.shared.progress("incoming call from \(from), sid \(call.sid)")
        let runner = CallRunner(call: call, options: options, media: session.media, board: board, echo: echo)
        let mode = self.mode
        let prompter = self.prompter
        Task {
            async let report = session.run(runner)
            var answering: Task<Void, Never>?
            switch mode {
            case .auto(let delay):
                // The rings before answering, in a task of its own: a call that ends meanwhile
                // (retracted, answered on another device) is not answered, nor held in flight.
                answering = Task {
                    if delay > .zero { try? await Task.sleep(for: delay) }
                    guard !Task.isCancelled else { return }
                    do { try await call.accept() } catch { Console.shared.progress("cannot answer: \(error)") }
                }
            case .busy:
                try? await call.reject(reason: Reason(.busy))
            case .decline:
                try? await call.reject(reason: Reason(.decline))
            case .prompt:
                if await prompter.ask("Answer the call from \(from)? [y/n] ") {
                    do { try await call.accept() } catch { Console.shared.progress("cannot answer: \(error)") }
                } else {
                    try? await call.reject()
                }
            case .ring:
                break
            }
            let ended = await report
            answering?.cancel()
            self.finished(ended)
        }
    }

    private nonisolated func refuse(_ call: Call, _ reason: Reason, _ message: String) {
        Console.shared.progress(message)
        Task { try? await call.reject(reason: reason) }
    }

    private func finished(_ report: CallReport) {
        inFlight -= 1
        finished += 1
        if let code = AgentExitCode(rawValue: report.exitCode), code != .success { exitCode = code }
        if let max = limits.maxCalls, finished >= max { stopping = true }
        checkDone()
    }

    private func checkDone() {
        guard stopping, inFlight == 0 else { return }
        let waiters = doneWaiters
        doneWaiters = []
        for w in waiters { w.resume() }
    }

    /// An allow-list entry matches a bare JID by account, a full JID exactly.
    static func matches(_ allowed: JID, _ caller: JID) -> Bool {
        allowed.resourcepart == nil ? allowed.bare == caller.bare : allowed == caller
    }
}

/// Asks yes/no questions on the terminal, one at a time.
actor Prompter {
    func ask(_ question: String) async -> Bool {
        Console.shared.prompt(question)
        let line: String? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: readLine()) }
        }
        Console.shared.answered()
        return line.map { $0.trimmed.lowercased().hasPrefix("y") } ?? false
    }
}
