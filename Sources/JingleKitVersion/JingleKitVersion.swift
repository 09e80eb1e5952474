/// The project's version, shared by every tool (`jingle-relay`, `jingle-agent`,
/// `jingle-harness`, `jingle-bench` print it for `--version`).
public enum JingleKitVersion {
    public static let string = "0.9.0"
}
