import Foundation
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// Two or more `jingle-agent` processes (the built executable) calling each other through the
/// shared Prosody: outcomes, exit codes and JSON reports. Each test has its own accounts.
@Suite(.serialized) struct AgentCallTests {
    /// Signalling-only calls (no ICE/DTLS/RTP) for the tests about call control.
    static let signalling = ["--signalling-only"]

    func callee(_ name: String, _ accountArgs: [String], _ extra: [String]) async throws -> AgentProcess {
        let p = try AgentProcess(name, ["answer"] + accountArgs + ["--report", "json"] + extra)
        try await p.waitFor("waiting for calls")
        return p
    }

    @Test func callAndAnswerAutoBothExitZeroWithReports() async throws {
        let a = try await AgentAccounts.make()
        let bob = try await callee("callee", try await a.arguments("agentcall-ok-b"), ["--auto", "--max-calls", "1"] + Self.signalling)
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-ok-b")] + (try await a.arguments("agentcall-ok-a"))
                + ["--report", "json", "--hangup-after", "0.5"] + Self.signalling)
        let callerStatus = try await alice.exitStatus()
        let calleeStatus = try await bob.exitStatus()
        #expect(callerStatus == 0, "\(alice.transcript)")
        #expect(calleeStatus == 0, "\(bob.transcript)")
        let out = try alice.report()
        let inc = try bob.report()
        #expect(out["direction"] as? String == "outgoing")
        #expect(out["outcome"] as? String == "completed")
        #expect(out["endedByPeer"] as? Bool == false)
        #expect(out["reason"] as? String == "success")
        #expect(out["jmi"] as? Bool == true)
        #expect(out["exitCode"] as? Int == 0)
        #expect(out["remoteDevice"] as? String == "agentcall-ok-b@localhost/agent")
        let setup = out["setup"] as? [String: Any] ?? [:]
        #expect(setup["proposeToRingingMs"] is Double)
        #expect(setup["proposeToProceedMs"] is Double)
        #expect(setup["initiateToAcceptMs"] is Double)
        #expect((out["talkMs"] as? Double ?? 0) >= 500)
        #expect(inc["direction"] as? String == "incoming")
        #expect(inc["outcome"] as? String == "completed")
        #expect(inc["endedByPeer"] as? Bool == true)
        #expect(inc["sid"] as? String == out["sid"] as? String)
        #expect(inc["peer"] as? String == "agentcall-ok-a@localhost/agent")
    }

    @Test func directJingleCallWithTextReport() async throws {
        let a = try await AgentAccounts.make()
        let bob = try await callee(
            "callee", try await a.arguments("agentcall-direct-b", resource: "desk"),
            ["--auto", "--max-calls", "1"] + Self.signalling)
        let alice = try AgentProcess(
            "caller",
            ["call", "agentcall-direct-b@localhost/desk", "--no-jmi"]
                + (try await a.arguments("agentcall-direct-a")) + ["--hangup-after", "0.2"] + Self.signalling)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect(alice.stdout.contains("outgoing to agentcall-direct-b@localhost/desk (direct Jingle)"), "\(alice.transcript)")
        #expect(alice.stdout.contains("outcome: completed by us (success), exit 0"), "\(alice.transcript)")
        #expect(alice.stdout.contains("initiate->accept"), "\(alice.transcript)")
        #expect(try bob.report()["jmi"] as? Bool == false)
    }

    @Test func declinedCallExitsTwoAndTheDeclinerZero() async throws {
        let a = try await AgentAccounts.make()
        // The callee's password comes from the environment this time.
        let calleeArgs = try await a.arguments("agentcall-decline-b").filter { !$0.hasSuffix(".password") && $0 != "--password-file" }
        let password = try a.prosody.password("agentcall-decline-b")
        let bob = try AgentProcess(
            "callee", ["answer"] + calleeArgs + ["--decline", "--max-calls", "1", "--report", "json"] + Self.signalling,
            environment: ["JINGLE_AGENT_PASSWORD": password])
        try await bob.waitFor("waiting for calls")
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-decline-b"), "--report", "json"]
                + (try await a.arguments("agentcall-decline-a")) + Self.signalling)
        #expect(try await alice.exitStatus() == 2, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect(try alice.report()["outcome"] as? String == "declined")
        #expect(try alice.report()["endedByPeer"] as? Bool == true)
        #expect(try bob.report()["outcome"] as? String == "declined")
        #expect(try bob.report()["endedByPeer"] as? Bool == false)
    }

    @Test func busyCalleeMakesTheCallerExitThree() async throws {
        let a = try await AgentAccounts.make()
        let bob = try await callee("callee", try await a.arguments("agentcall-busy-b"), ["--busy", "--max-calls", "1"] + Self.signalling)
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-busy-b"), "--report", "json"]
                + (try await a.arguments("agentcall-busy-a")) + Self.signalling)
        #expect(try await alice.exitStatus() == 3, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect(try alice.report()["outcome"] as? String == "busy")
        #expect(try alice.report()["reason"] as? String == "busy")
    }

    @Test func unansweredCallTimesOutWithExitFour() async throws {
        let a = try await AgentAccounts.make()
        // Without --auto and without a terminal the callee lets the call ring.
        let bob = try await callee("callee", try await a.arguments("agentcall-noanswer-b"), ["--max-calls", "1"] + Self.signalling)
        // Long enough that the callee's ringing arrives first even on a loaded machine.
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-noanswer-b"), "--timeout", "4", "--report", "json"]
                + (try await a.arguments("agentcall-noanswer-a")) + Self.signalling)
        #expect(try await alice.exitStatus() == 4, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 4, "\(bob.transcript)")
        #expect(try alice.report()["outcome"] as? String == "noAnswer")
        #expect(try bob.report()["outcome"] as? String == "noAnswer")
        #expect((try alice.report()["ringingDevices"] as? [String]) == ["agentcall-noanswer-b@localhost/agent"])
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func signalWhileRingingRetractsTheCall(_ signal: Int32) async throws {
        let a = try await AgentAccounts.make()
        let bob = try await callee("callee", try await a.arguments("agentcall-cancel-b"), ["--max-calls", "1"] + Self.signalling)
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-cancel-b"), "--report", "json"]
                + (try await a.arguments("agentcall-cancel-a")) + Self.signalling)
        try await alice.waitFor("ringing on agentcall-cancel-b@localhost/agent")
        try await bob.waitFor("incoming call from agentcall-cancel-a@localhost/agent")
        alice.send(signal)
        #expect(try await alice.exitStatus() == 5, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 5, "\(bob.transcript)")
        #expect(try alice.report()["outcome"] as? String == "cancelled")
        #expect(try alice.report()["endedByPeer"] as? Bool == false)
        #expect(try bob.report()["outcome"] as? String == "cancelled")
        #expect(try bob.report()["endedByPeer"] as? Bool == true)
    }

    @Test func calleeHangsUpAfterItsLimit() async throws {
        let a = try await AgentAccounts.make()
        let bob = try await callee(
            "callee", try await a.arguments("agentcall-hangup-b"),
            ["--auto", "--max-calls", "1", "--hangup-after", "0.3"] + Self.signalling)
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-hangup-b"), "--report", "json", "--duration", "60"]
                + (try await a.arguments("agentcall-hangup-a")) + Self.signalling)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect(try alice.report()["outcome"] as? String == "completed")
        #expect(try alice.report()["endedByPeer"] as? Bool == true)
        #expect(try bob.report()["endedByPeer"] as? Bool == false)
    }

    @Test func durationCapsTheCall() async throws {
        let a = try await AgentAccounts.make()
        let bob = try await callee(
            "callee", try await a.arguments("agentcall-duration-b"), ["--auto", "--max-calls", "1"] + Self.signalling)
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-duration-b"), "--report", "json", "--duration", "0.4"]
                + (try await a.arguments("agentcall-duration-a")) + Self.signalling)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect((try alice.report()["talkMs"] as? Double ?? 0) >= 400)
        #expect(try alice.report()["endedByPeer"] as? Bool == false)
    }

    @Test func signalDuringAnActiveCallHangsUpNormally() async throws {
        let a = try await AgentAccounts.make()
        let bob = try await callee(
            "callee", try await a.arguments("agentcall-sigactive-b"), ["--auto", "--max-calls", "1"] + Self.signalling)
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-sigactive-b"), "--report", "json"]
                + (try await a.arguments("agentcall-sigactive-a")) + Self.signalling)
        try await alice.waitFor("is active")
        alice.send(SIGINT)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect(try bob.report()["outcome"] as? String == "completed")
        #expect(try bob.report()["endedByPeer"] as? Bool == true)
    }

    @Test func twoDevicesOfOneAccountOneAnswersTheOtherStopsRinging() async throws {
        let a = try await AgentAccounts.make()
        let desk = try await callee(
            "desk", try await a.arguments("agentcall-two-b", resource: "desk"), ["--auto", "--max-calls", "1"] + Self.signalling)
        let phone = try await callee(
            "phone", try await a.arguments("agentcall-two-b", resource: "phone"), ["--max-calls", "1"] + Self.signalling)
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-two-b"), "--report", "json", "--hangup-after", "0.3"]
                + (try await a.arguments("agentcall-two-a")) + Self.signalling)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)")
        #expect(try await desk.exitStatus() == 0, "\(desk.transcript)")
        #expect(try await phone.exitStatus() == 5, "\(phone.transcript)")
        #expect(try phone.report()["outcome"] as? String == "answeredElsewhere")
        #expect(try desk.report()["outcome"] as? String == "completed")
        #expect(try alice.report()["remoteDevice"] as? String == "agentcall-two-b@localhost/desk")
    }

    /// Calls at once over JMI (the runtime's busy limit follows --max-concurrent) and direct Jingle.
    @Test func oneAnswererTakesConcurrentCallsAndRefusesBeyondItsLimit() async throws {
        let a = try await AgentAccounts.make()
        let bob = try await callee(
            "callee", try await a.arguments("agentcall-many-b"),
            ["--auto", "--max-calls", "3", "--max-concurrent", "2"] + Self.signalling)
        let callers = [
            try AgentProcess(
                "caller1",
                ["call", a.bare("agentcall-many-b"), "--report", "json"]
                    + (try await a.arguments("agentcall-many-a1")) + Self.signalling),
            try AgentProcess(
                "caller2",
                ["call", "agentcall-many-b@localhost/agent", "--no-jmi", "--report", "json"]
                    + (try await a.arguments("agentcall-many-a2")) + Self.signalling),
        ]
        for c in callers { try await c.waitFor("is active") }
        // Both calls are up at once; a third caller is refused as busy.
        let third = try AgentProcess(
            "caller3",
            ["call", a.bare("agentcall-many-b"), "--report", "json"]
                + (try await a.arguments("agentcall-many-a3")) + Self.signalling)
        #expect(try await third.exitStatus() == 3, "\(third.transcript)")
        #expect(try third.report()["outcome"] as? String == "busy")
        #expect(bob.stderr.contains("--max-concurrent 2"), "\(bob.transcript)")
        for c in callers { c.send(SIGTERM) }
        for c in callers { #expect(try await c.exitStatus() == 0, "\(c.transcript)") }
        // Refused calls do not count: a third call is taken once a slot is free, then it exits.
        let fourth = try AgentProcess(
            "caller4",
            ["call", a.bare("agentcall-many-b"), "--hangup-after", "0.2", "--report", "json"]
                + (try await a.arguments("agentcall-many-a3")) + Self.signalling)
        #expect(try await fourth.exitStatus() == 0, "\(fourth.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        let reports = try bob.reports()
        #expect(reports.count == 3, "\(bob.transcript)")
        #expect(
            reports.compactMap { $0["peer"] as? String }.sorted()
                == ["agentcall-many-a1@localhost/agent", "agentcall-many-a2@localhost/agent", "agentcall-many-a3@localhost/agent"])
        #expect(reports.allSatisfy { $0["outcome"] as? String == "completed" })
    }

    @Test func callsFromOutsideTheAllowListAreLeftRinging() async throws {
        let a = try await AgentAccounts.make()
        _ = try await a.arguments("agentcall-allow-ok")
        let bob = try await callee(
            "callee", try await a.arguments("agentcall-allow-b"),
            ["--auto", "--max-calls", "1", "--from", a.bare("agentcall-allow-ok")] + Self.signalling)
        let stranger = try AgentProcess(
            "stranger",
            ["call", a.bare("agentcall-allow-b"), "--timeout", "1", "--report", "json"]
                + (try await a.arguments("agentcall-allow-x")) + Self.signalling)
        #expect(try await stranger.exitStatus() == 4, "\(stranger.transcript)")
        #expect(bob.stderr.contains("ignoring call from agentcall-allow-x@localhost/agent"), "\(bob.transcript)")
        let friend = try AgentProcess(
            "friend",
            ["call", a.bare("agentcall-allow-b"), "--hangup-after", "0.2", "--report", "json"]
                + (try await a.arguments("agentcall-allow-ok")) + Self.signalling)
        #expect(try await friend.exitStatus() == 0, "\(friend.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect(try bob.report()["peer"] as? String == "agentcall-allow-ok@localhost/agent")
    }

    /// On a terminal (a pty from `script`), `answer` without --auto asks y/n and draws the status
    /// line in place; elsewhere stdout carries only the reports (every other test parses it).
    @Test func onATerminalTheCalleeAsksAndDrawsTheStatusLine() async throws {
        let a = try await AgentAccounts.make()
        let args =
            [AgentProcess.executable, "answer", "--max-calls", "1", "--report", "json"]
            + (try await a.arguments("agentcall-tty-b")) + Self.signalling
        let bob = try AgentProcess(
            "callee", ["-qec", args.joined(separator: " "), "/dev/null"],
            executable: "/usr/bin/script", interactive: true)
        try await bob.waitFor("waiting for calls", onStdout: true)
        let alice = try AgentProcess(
            "caller",
            ["call", a.bare("agentcall-tty-b"), "--hangup-after", "1.5", "--report", "json"]
                + (try await a.arguments("agentcall-tty-a")) + Self.signalling)
        try await bob.waitFor("Answer the call from agentcall-tty-a@localhost/agent? [y/n]", onStdout: true)
        try bob.type("y\n")
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect(bob.stdout.contains("\r\u{1B}[2Kagentcall-tty-a@localhost/agent active 00:0"), "\(bob.transcript)")
        #expect(bob.stdout.contains("\"outcome\":\"completed\""), "\(bob.transcript)")
        #expect(try alice.report()["outcome"] as? String == "completed")
    }

    @Test func aProposalThatBouncesIsASignallingFailureAtOnce() async throws {
        let a = try await AgentAccounts.make()
        // The test Prosody talks to no other server: the proposal comes back as a message error.
        let alice = try AgentProcess(
            "caller",
            ["call", "nobody@elsewhere.invalid", "--timeout", "600", "--report", "json"]
                + (try await a.arguments("agentcall-bounce-a")) + Self.signalling)
        #expect(try await alice.exitStatus(limit: .seconds(30)) == 6, "\(alice.transcript)")
        #expect(try alice.report()["outcome"] as? String == "failed")
        #expect((try alice.report()["reasonText"] as? String ?? "").contains("bounced"), "\(alice.transcript)")
    }

    @Test func wrongPasswordIsASignallingFailure() async throws {
        let a = try await AgentAccounts.make()
        let wrong = NSTemporaryDirectory() + "jingle-agent-wrong-\(UUID().uuidString)"
        try "nope\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: wrong) }
        var args = try await a.arguments("agentcall-login-a")
        if let i = args.firstIndex(of: "--password-file") { args[i + 1] = wrong }
        let alice = try AgentProcess("caller", ["call", "nobody@localhost"] + args)
        #expect(try await alice.exitStatus() == 6, "\(alice.transcript)")
        #expect(alice.stderr.contains("not-authorized"), "\(alice.transcript)")
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for e in self { result.append(try await transform(e)) }
        return result
    }
}
