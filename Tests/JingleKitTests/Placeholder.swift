import Testing

@Suite struct JingleKitTestsPlaceholder {}
