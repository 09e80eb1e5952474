import CallTestSupport
import Jingle
import JingleKit
import Testing
import XMPPCore

/// Managers for alice/desk and the given bob resources on one in-memory router.
func makeManagers(bob resources: [String] = ["desk"], configuration: CallConfiguration = .init())
    async -> (router: InMemoryRouter, alice: CallManager, bobs: [CallManager])
{
    let router = InMemoryRouter()
    let aliceClient = await router.client("alice@localhost/desk")
    let alice = CallManager(transport: aliceClient, local: aliceClient.jid, configuration: configuration)
    await alice.start()
    var bobs: [CallManager] = []
    for r in resources {
        let c = await router.client("bob@localhost/\(r)")
        let m = CallManager(transport: c, local: c.jid, configuration: configuration)
        await m.start()
        bobs.append(m)
    }
    return (router, alice, bobs)
}
