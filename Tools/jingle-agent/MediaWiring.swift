import JingleKit
import XMPPClient

/// Where the agent's calls meet the media runtime: the transport provider for the call manager,
/// what each answered call sends and records, and the media figures for the status line and the
/// report. Until JingleKit carries media, calls are signalling-only.
struct MediaWiring: Sendable {
    let plan: MediaPlan
    /// False with `--signalling-only`.
    let enabled: Bool

    /// Whether calls carry media (so a call that never connects media is a connection failure).
    var carriesMedia: Bool { false }

    func transportProvider(client: XMPPClient) async -> any MediaTransportProvider {
        SignallingOnlyTransportProvider()
    }

    /// Sets up what an answered or accepted call sends and records. `echo` loops audio back.
    func attach(to call: Call, echo: Bool) async {}

    /// Sends `--dtmf` digits once the media is up.
    func mediaConnected(_ call: Call) async {}

    /// The report's media figures, once the call has ended.
    func report(for call: Call) async -> CallReport.Media? { nil }

    /// Loss, jitter, RTT and level for the status line.
    func statusFigures(for call: Call) async -> String? { nil }
}
