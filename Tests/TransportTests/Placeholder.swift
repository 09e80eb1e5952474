import Testing

@Suite struct TransportTestsPlaceholder {}
