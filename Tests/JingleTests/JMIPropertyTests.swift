import Jingle
import Testing
import XMLStream
import XMPPCore

@Suite struct JMIPropertyTests {
    typealias T = JMITests

    /// Random user actions on the caller and two callee devices, with random delivery and time;
    /// afterwards no device still rings for a call the caller has given up, and a call the caller
    /// sees as proceeded is accepted on exactly that device.
    @Test(arguments: 0..<500)
    func randomJMIRunsStayConsistent(seed: Int) throws {
        var rng = SeededGenerator(state: UInt64(seed) &* 104729 &+ 3)
        var s = JMIServer([T.romeo, T.phone, T.tablet])
        try s.act(T.romeo) { try $0.propose(id: "c", to: T.phone.bare, descriptions: T.audio, now: .zero) }
        for _ in 0..<Int.random(in: 1...25, using: &rng) {
            let device = [T.phone, T.tablet].randomElement(using: &rng)!
            switch Int.random(in: 0..<9, using: &rng) {
            case 0: _ = try? s.act(device) { try $0.ringing(id: "c") }
            case 1: _ = try? s.act(device) { try $0.accept(id: "c") }
            case 2: _ = try? s.act(device) { try $0.reject(id: "c") }
            case 3: _ = try? s.act(T.romeo) { try $0.retract(id: "c") }
            case 4, 5, 6:
                if !s.queue.isEmpty {
                    let i = Int.random(in: 0..<s.queue.count, using: &rng)
                    let (to, m) = s.queue.remove(at: i)
                    let n = s.now
                    s.act(to) { $0.handle(m, now: n) }
                }
            case 7: s.advance(to: s.now + .seconds(Int64.random(in: 0...20, using: &rng)))
            default: s.run()
            }
        }
        s.run()
        let caller = try #require(s.devices[T.romeo]?.calls["c"])
        let states = [T.phone, T.tablet].map { s.devices[$0]?.calls["c"]?.state }
        switch caller.state {
        case .ended:
            for st in states { #expect(st != .incoming, "seed \(seed): a device still rings after the caller ended: \(caller.state)") }
        case .proceeded(let device):
            #expect(s.devices[device]?.calls["c"]?.state == .accepted, "seed \(seed)")
            for other in [T.phone, T.tablet] where other != device {
                #expect(s.devices[other]?.calls["c"]?.state != .incoming, "seed \(seed): \(other) still rings")
            }
        case .proposing, .incoming, .accepted:
            break
        }
    }
}
