import Testing

@Suite struct RelayTestsPlaceholder {}
