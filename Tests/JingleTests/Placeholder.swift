import Testing

@Suite struct JingleTestsPlaceholder {}
