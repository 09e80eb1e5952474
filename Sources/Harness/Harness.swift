// Harness: scenario model, runner and statistics for jingle-harness (being built).
enum HarnessModule {}
