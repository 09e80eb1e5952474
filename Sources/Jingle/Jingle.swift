// Jingle: this target is being built; see README.md for the layer map.
enum JingleModule {}
