import Testing

@Suite struct HarnessTestsPlaceholder {}
